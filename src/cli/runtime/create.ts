// berth-runtime create: creates a container whose process waits for start.
import { createContainer } from "../../runtime/create.ts";
import { type Command, CREATE_FLAGS, commandSpec, needId, parse, uintFlag } from "./args.ts";

const spec = commandSpec({
  name: "create", usage: "create ID [--bundle DIR] [--pid-file F] [--console-socket S] [--no-pivot] [--preserve-fds N]",
  summary: "create a container (its process waits for start)", flags: CREATE_FLAGS,
});

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  await createContainer(ctx.store, {
    id: needId(p.args, spec.usage), bundle: p.get("bundle"), pidFile: p.get("pid-file"), consoleSocket: p.get("console-socket"),
    noPivot: p.get("no-pivot"), preserveFds: uintFlag(p.get("preserve-fds"), "--preserve-fds"), debug: ctx.debug, systemdCgroup: ctx.systemdCgroup,
  });
  return 0;
};
