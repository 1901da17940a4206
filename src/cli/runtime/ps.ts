// berth-runtime ps: lists a container's processes, as runc does: the host's `ps` (default -ef, or
// the arguments after the ID) filtered to the pids in the container's cgroup; --format json
// prints the pids. A stopped container has no processes left: just the header (or []).
import { containerCgroup } from "../../runtime/status.ts";
import { type Command, UsageError, commandSpec, needId, parse, str } from "./args.ts";

const spec = commandSpec({
  name: "ps", usage: "ps [--format table|json] ID [ps options]", summary: "list the processes of a container (the options go to ps(1), default -ef)",
  flags: [str("format", "f", "select one of: table or json", { default: "table" })],
  // Everything after the ID belongs to ps(1).
  stopAtPositional: true,
});

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  const [id = needId([], spec.usage), ...psArgs] = p.args;
  const rec = ctx.store.read(id);
  const format = p.get("format");
  if (format !== "table" && format !== "json") throw new UsageError("invalid format option: --format must be table or json");
  let pids: number[] = [];
  try {
    pids = containerCgroup(rec).pids();
  } catch { /* the cgroup is gone with the container's processes */ }
  if (format === "json") {
    console.log(JSON.stringify(pids));
    return 0;
  }
  const ps = Bun.spawnSync(["ps", ...(psArgs.length ? psArgs : ["-ef"])], { stdout: "pipe", stderr: "pipe" });
  const out = ps.stdout.toString() + ps.stderr.toString();
  if (ps.exitCode !== 0) throw new Error(`ps ${psArgs.join(" ")} failed (status ${ps.exitCode}): ${out.trim()}`);
  const [header = "", ...lines] = out.split("\n");
  const pidColumn = header.trim().split(/\s+/).indexOf("PID");
  if (pidColumn < 0) throw new Error("couldn't find PID field in ps output");
  const mine = new Set(pids);
  console.log(header);
  for (const line of lines) if (line && mine.has(Number(line.trim().split(/\s+/)[pidColumn]))) console.log(line);
  return 0;
};
