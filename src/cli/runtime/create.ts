// berth-runtime create: creates a container whose process waits for start.
import { createContainer } from "../../runtime/create.ts";
import { type Command, parse, needId, uintFlag, CREATE_FLAGS } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "create ID [--bundle DIR] [--pid-file F] [--console-socket S] [--no-pivot] [--preserve-fds N]";
  const { values, positionals } = parse(args, CREATE_FLAGS, usage);
  await createContainer(ctx.store, {
    id: needId(positionals, usage), bundle: values.bundle ?? ".", pidFile: values["pid-file"], consoleSocket: values["console-socket"],
    noPivot: values["no-pivot"], preserveFds: uintFlag(values["preserve-fds"], "--preserve-fds"), debug: ctx.debug,
  });
  return 0;
};
