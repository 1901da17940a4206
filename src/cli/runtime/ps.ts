// berth-runtime ps: lists a container's processes.
import { containerCgroup, statusOf } from "../../runtime/status.ts";
import { commandLine, parentPid } from "../../runtime/proc.ts";
import { type Command, parse, needId, table } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "ps ID [--format table|json]";
  const { values, positionals } = parse(args, { format: { type: "string", short: "f" } }, usage);
  const rec = ctx.store.read(needId(positionals, usage));
  if (statusOf(ctx.store, rec) === "stopped") throw new Error(`container ${rec.id} is not running`);
  const pids = containerCgroup(rec).pids();
  if ((values.format ?? "table") === "json") console.log(JSON.stringify(pids));
  else console.log(table([["PID", "PPID", "CMD"], ...pids.map((p) => [String(p), String(parentPid(p)), commandLine(p)])]));
  return 0;
};
