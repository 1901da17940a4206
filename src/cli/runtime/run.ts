// berth-runtime run: create + start; foreground unless -d.
import { createContainer } from "../../runtime/create.ts";
import { startContainer } from "../../runtime/start.ts";
import { deleteContainer } from "../../runtime/delete.ts";
import { trace } from "../../sys/trace.ts";
import { type Command, parse, needId, uintFlag, CREATE_FLAGS } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "run ID [--bundle DIR] [-d] [--pid-file F] [--console-socket S] [--no-pivot] [--preserve-fds N] [--keep]";
  const { values, positionals } = parse(args, { ...CREATE_FLAGS, detach: { type: "boolean", short: "d" }, keep: { type: "boolean" } }, usage);
  const id = needId(positionals, usage);
  const detach = values.detach ?? false;
  const created = await createContainer(ctx.store, {
    id, bundle: values.bundle ?? ".", pidFile: values["pid-file"], consoleSocket: values["console-socket"], noPivot: values["no-pivot"],
    preserveFds: uintFlag(values["preserve-fds"], "--preserve-fds"), foreground: !detach, debug: ctx.debug,
  });
  if (!detach) {
    // Signals meant for the container reach berth-init (our child), which forwards them.
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const) process.on(sig, () => created.init.proc.kill(sig));
  }
  try {
    await startContainer(ctx.store, id, ctx.warn);
  } catch (e) {
    await deleteContainer(ctx.store, id, true, ctx.warn);
    throw e;
  }
  if (detach) return 0;
  trace("run: started");
  created.init.closeControl();
  const status = await created.init.proc.exited;
  trace("run: exited");
  if (!values.keep) await deleteContainer(ctx.store, id, true, ctx.warn);
  trace("run: deleted");
  return status;
};
