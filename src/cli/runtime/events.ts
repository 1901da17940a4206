// berth-runtime events: prints stats and OOM events.
import { containerCgroup, statusOf } from "../../runtime/status.ts";
import { runcStatsEvent, runcOomEvent } from "../../cgroups/index.ts";
import { type Command, UsageError, bool, commandSpec, needId, parse, str } from "./args.ts";

const spec = commandSpec({
  name: "events", usage: "events ID [--stats] [--interval SECONDS]", summary: "print a container's stats and OOM events",
  flags: [bool("stats", undefined, "display the container's stats then exit"), str("interval", undefined, "set the stats collection interval", { default: "5s" })],
});

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  const rec = ctx.store.read(needId(p.args, spec.usage));
  const cg = containerCgroup(rec);
  if (p.get("stats")) {
    console.log(JSON.stringify(runcStatsEvent(rec.id, cg.stats())));
    return 0;
  }
  const interval = Number(p.get("interval").replace(/s$/, "")) * 1000;
  if (!Number.isFinite(interval) || interval <= 0) throw new UsageError("--interval must be a positive number of seconds");
  let ooms = cg.oomKillCount();
  let nextStats = Date.now();
  while (statusOf(ctx.store, rec) !== "stopped") {
    const now = cg.oomKillCount();
    if (now > ooms) console.log(JSON.stringify(runcOomEvent(rec.id)));
    ooms = now;
    if (Date.now() >= nextStats) {
      console.log(JSON.stringify(runcStatsEvent(rec.id, cg.stats())));
      nextStats = Date.now() + interval;
    }
    await Bun.sleep(Math.min(interval, 200));
  }
  // The OOM kill may be what stopped the container: the cgroup still has the count until delete.
  if (cg.oomKillCount() > ooms) console.log(JSON.stringify(runcOomEvent(rec.id)));
  return 0;
};
