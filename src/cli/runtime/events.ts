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
  const interval = durationMs(p.get("interval"));
  if (interval === undefined || interval <= 0) throw new UsageError(`--interval: invalid duration ${JSON.stringify(p.get("interval"))}: give a positive Go duration such as 5s, 100ms or 1m30s`);
  let ooms = cg.oomKillCount();
  let nextStats = Date.now();
  // A `delete --force` may remove the cgroup between the status check and a read: once the
  // container has stopped, a read that fails just ends the stream (runc's ends then too).
  const gone = () => statusOf(ctx.store, rec) === "stopped";
  while (!gone()) {
    try {
      const now = cg.oomKillCount();
      if (now > ooms) console.log(JSON.stringify(runcOomEvent(rec.id)));
      ooms = now;
      if (Date.now() >= nextStats) {
        console.log(JSON.stringify(runcStatsEvent(rec.id, cg.stats())));
        nextStats = Date.now() + interval;
      }
    } catch (e) {
      if (gone()) return 0;
      throw e;
    }
    await Bun.sleep(Math.min(interval, 200));
  }
  // The OOM kill may be what stopped the container: the cgroup still has the count until delete.
  try {
    if (cg.oomKillCount() > ooms) console.log(JSON.stringify(runcOomEvent(rec.id)));
  } catch { /* deleted meanwhile */ }
  return 0;
};

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration ("5s", "100ms", "1m30s", as runc's --interval takes), in milliseconds. */
export function durationMs(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}
