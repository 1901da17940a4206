// berth-runtime run: create + start; foreground unless -d.
import { createContainer } from "../../runtime/create.ts";
import { startContainer } from "../../runtime/start.ts";
import { deleteContainer } from "../../runtime/delete.ts";
import { trace } from "../../sys/trace.ts";
import { type Command, CREATE_FLAGS, bool, commandSpec, needId, parse, uintFlag } from "./args.ts";

const spec = commandSpec({
  name: "run", usage: "run ID [--bundle DIR] [-d] [--pid-file F] [--console-socket S] [--no-pivot] [--preserve-fds N] [--keep]",
  summary: "create and start a container (foreground unless -d)",
  flags: [...CREATE_FLAGS, bool("detach", "d", "detach from the container's process"), bool("keep", undefined, "do not delete the container after it exits")],
});

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  const id = needId(p.args, spec.usage);
  const detach = p.get("detach");
  const created = await createContainer(ctx.store, {
    id, bundle: p.get("bundle"), pidFile: p.get("pid-file"), consoleSocket: p.get("console-socket"), noPivot: p.get("no-pivot"),
    preserveFds: uintFlag(p.get("preserve-fds"), "--preserve-fds"), foreground: !detach, debug: ctx.debug, systemdCgroup: ctx.systemdCgroup,
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
  if (!p.get("keep")) await deleteContainer(ctx.store, id, true, ctx.warn);
  trace("run: deleted");
  return status;
};
