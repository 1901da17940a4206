// berth-runtime ps: lists a container's processes.
import { containerCgroup, statusOf } from "../../runtime/status.ts";
import { commandLine, parentPid } from "../../runtime/proc.ts";
import { type Command, commandSpec, needId, parse, str, table } from "./args.ts";

const spec = commandSpec({
  name: "ps", usage: "ps ID [--format table|json]", summary: "list the processes of a container",
  flags: [str("format", "f", "select one of: table or json", { default: "table" })],
});

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  const rec = ctx.store.read(needId(p.args, spec.usage));
  if (statusOf(ctx.store, rec) === "stopped") throw new Error(`container not running: ${rec.id} has stopped`);
  const pids = containerCgroup(rec).pids();
  if (p.get("format") === "json") console.log(JSON.stringify(pids));
  else console.log(table([["PID", "PPID", "CMD"], ...pids.map((p) => [String(p), String(parentPid(p)), commandLine(p)])]));
  return 0;
};
