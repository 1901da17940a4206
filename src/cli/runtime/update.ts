// berth-runtime update: changes resource limits.
import { readFileSync } from "node:fs";
import { containerCgroup, statusOf } from "../../runtime/status.ts";
import type { LinuxResources } from "../../oci/spec.ts";
import { type Command, UsageError, parse, needId } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "update ID [-r resources.json|-] [--memory N] [--memory-reservation N] [--memory-swap N] [--cpu-shares N] [--cpu-quota N] [--cpu-period N] [--cpuset-cpus L] [--cpuset-mems L] [--pids-limit N] [--blkio-weight N]";
  const opts = {
    resources: { type: "string", short: "r" }, memory: { type: "string" }, "memory-reservation": { type: "string" }, "memory-swap": { type: "string" },
    "cpu-shares": { type: "string" }, "cpu-quota": { type: "string" }, "cpu-period": { type: "string" }, "cpuset-cpus": { type: "string" },
    "cpuset-mems": { type: "string" }, "pids-limit": { type: "string" }, "blkio-weight": { type: "string" }, "cpu-rt-period": { type: "string" },
    "cpu-rt-runtime": { type: "string" }, "cpu-idle": { type: "string" }, "l3-cache-schema": { type: "string" }, "mem-bw-schema": { type: "string" },
  } as const;
  const { values, positionals } = parse(args, opts, usage);
  const rec = ctx.store.read(needId(positionals, usage));
  if (statusOf(ctx.store, rec) === "stopped") throw new Error(`cannot update container ${rec.id}: it has stopped`);
  let r: LinuxResources = {};
  if (values.resources) {
    const text = values.resources === "-" ? await Bun.stdin.text() : readFileSync(values.resources, "utf8");
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
  const mem = { limit: bytes(values.memory, "--memory"), reservation: bytes(values["memory-reservation"], "--memory-reservation"), swap: bytes(values["memory-swap"], "--memory-swap") };
  if (Object.values(mem).some((v) => v !== undefined)) r.memory = { ...r.memory, ...Object.fromEntries(Object.entries(mem).filter(([, v]) => v !== undefined)) };
  const cpu = {
    shares: int(values["cpu-shares"], "--cpu-shares"), quota: int(values["cpu-quota"], "--cpu-quota"), period: int(values["cpu-period"], "--cpu-period"),
    realtimePeriod: int(values["cpu-rt-period"], "--cpu-rt-period"), realtimeRuntime: int(values["cpu-rt-runtime"], "--cpu-rt-runtime"),
    idle: int(values["cpu-idle"], "--cpu-idle"), cpus: values["cpuset-cpus"], mems: values["cpuset-mems"],
  };
  if (Object.values(cpu).some((v) => v !== undefined)) r.cpu = { ...r.cpu, ...Object.fromEntries(Object.entries(cpu).filter(([, v]) => v !== undefined)) };
  const pids = int(values["pids-limit"], "--pids-limit");
  if (pids !== undefined) r.pids = { limit: pids };
  const weight = int(values["blkio-weight"], "--blkio-weight");
  if (weight !== undefined) r.blockIO = { ...r.blockIO, weight };
  if (values["l3-cache-schema"] || values["mem-bw-schema"]) throw new UsageError("Intel RDT is not available on this host");
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
