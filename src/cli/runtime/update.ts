// berth-runtime update: changes resource limits.
import { readFileSync } from "node:fs";
import { containerCgroup, statusOf } from "../../runtime/status.ts";
import type { LinuxResources } from "../../oci/spec.ts";
import { type Command, UsageError, commandSpec, needId, parse, str } from "./args.ts";

const spec = commandSpec({
  name: "update",
  usage: "update ID [-r resources.json|-] [--memory N] [--memory-reservation N] [--memory-swap N] [--cpu-share N] [--cpu-quota N] [--cpu-period N] [--cpu-burst N] [--cpuset-cpus L] [--cpuset-mems L] [--pids-limit N] [--blkio-weight N]",
  summary: "change a container's resource limits",
  flags: [
    str("resources", "r", "path to a file with the resources (linux.resources of the spec) to update, or '-' for standard input"),
    str("memory", undefined, "memory limit (in bytes; k, m, g, t suffixes)"),
    str("memory-reservation", undefined, "memory reservation or soft limit (in bytes)"),
    str("memory-swap", undefined, "total memory usage (memory + swap); -1 for unlimited swap"),
    str("cpu-share", undefined, "CPU shares (relative weight vs. other containers)"),
    str("cpu-shares", undefined, "the same as --cpu-share", { hidden: true }),
    str("cpu-quota", undefined, "CPU CFS hardcap limit (in usecs) per period"),
    str("cpu-period", undefined, "CPU CFS period to be used for hardcapping (in usecs)"),
    str("cpu-burst", undefined, "CPU CFS burst: run time (in usecs) a period may borrow from the quota left unused before"),
    str("cpuset-cpus", undefined, "CPU(s) to use"),
    str("cpuset-mems", undefined, "memory node(s) to use"),
    str("pids-limit", undefined, "maximum number of pids allowed in the container"),
    str("blkio-weight", undefined, "per cgroup block I/O weight, from 10 to 1000"),
    str("cpu-rt-period", undefined, "CPU realtime period (in usecs)"),
    str("cpu-rt-runtime", undefined, "CPU realtime hardcap limit (in usecs) per period"),
    str("cpu-idle", undefined, "set cgroup SCHED_IDLE or not (0 or 1)"),
    str("l3-cache-schema", undefined, "the string of Intel RDT/CAT L3 cache schema"),
    str("mem-bw-schema", undefined, "the string of Intel RDT/MBA memory bandwidth schema"),
  ],
});

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  const rec = ctx.store.read(needId(p.args, spec.usage));
  if (statusOf(ctx.store, rec) === "stopped") throw new Error(`container not running: ${rec.id} has stopped`);
  let r: LinuxResources = {};
  const resources = p.get("resources");
  if (resources) {
    const text = resources === "-" ? await Bun.stdin.text() : readFileSync(resources, "utf8");
    try {
      r = JSON.parse(text) as LinuxResources;
    } catch (e) {
      throw new UsageError(`--resources: invalid JSON: ${(e as Error).message}`);
    }
  }
  const int = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw new UsageError(`${name} must be an integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const mem = { limit: bytes(p.get("memory"), "--memory"), reservation: bytes(p.get("memory-reservation"), "--memory-reservation"), swap: bytes(p.get("memory-swap"), "--memory-swap") };
  if (Object.values(mem).some((v) => v !== undefined)) r.memory = { ...r.memory, ...Object.fromEntries(Object.entries(mem).filter(([, v]) => v !== undefined)) };
  const cpu = {
    shares: int(p.get("cpu-share") ?? p.get("cpu-shares"), "--cpu-share"), quota: int(p.get("cpu-quota"), "--cpu-quota"), period: int(p.get("cpu-period"), "--cpu-period"),
    burst: int(p.get("cpu-burst"), "--cpu-burst"),
    realtimePeriod: int(p.get("cpu-rt-period"), "--cpu-rt-period"), realtimeRuntime: int(p.get("cpu-rt-runtime"), "--cpu-rt-runtime"),
    idle: int(p.get("cpu-idle"), "--cpu-idle"), cpus: p.get("cpuset-cpus"), mems: p.get("cpuset-mems"),
  };
  if (Object.values(cpu).some((v) => v !== undefined)) r.cpu = { ...r.cpu, ...Object.fromEntries(Object.entries(cpu).filter(([, v]) => v !== undefined)) };
  const pids = int(p.get("pids-limit"), "--pids-limit");
  if (pids !== undefined) r.pids = { limit: pids };
  const weight = int(p.get("blkio-weight"), "--blkio-weight");
  if (weight !== undefined) r.blockIO = { ...r.blockIO, weight };
  if (p.get("l3-cache-schema") || p.get("mem-bw-schema")) throw new UsageError("Intel RDT is not available on this host");
  containerCgroup(rec).update(r);
  return 0;
};

function bytes(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (v.trim() === "-1") return -1; // unlimited
  const m = /^(\d+)([kmgt]?)b?$/i.exec(v.trim());
  if (!m) throw new UsageError(`${name}: bad size ${JSON.stringify(v)}; use a non-negative number with an optional k, m, g or t suffix (or -1 for unlimited)`);
  return Number(m[1]) * 1024 ** " kmgt".indexOf((m[2] || " ").toLowerCase());
}
