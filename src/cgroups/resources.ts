// linux.resources -> an ordered list of steps (control-file writes and a few checks), planned in
// full before anything is written so that a value with no home on this layout fails up front,
// with nothing half-applied. Each step carries the spec field it came from for error messages.
// Values are checked first, against rules that do not depend on the host (validateResources, as
// runc validates before it looks at the cgroup): a bad value is the same error on every machine,
// and the engine can refuse it when a container is created rather than when it starts.
import { join } from "node:path";
import type { DeviceCgroupRule, LinuxResources, ThrottleDevice } from "../oci/spec.ts";
import { CgroupError, exists, readOptional } from "./files.ts";
import { blkioWeightToIoWeight, cpuMax, sharesToWeight, swapToV2 } from "./convert.ts";

export interface ControllerHome {
  version: 1 | 2;
  dir: string;
}

export interface Homes {
  /** where a controller lives for this cgroup (v1 mount first, then the unified hierarchy) */
  find(controller: string): ControllerHome | undefined;
  /** the cgroup's directory on the unified hierarchy, if one is mounted */
  unifiedDir?: string;
  /** human summary of what is mounted, for "no home" errors */
  describe(): string;
}

export interface Write {
  file: string;
  value: string;
  field: string;
}

export type Step =
  | ({ kind: "write" } & Write)
  /** two writes whose valid order depends on current values (limit vs memsw, rt period vs runtime) */
  | { kind: "pair"; first: Write; second: Write }
  | { kind: "check-usage"; usageFile: string; limit: number; field: string }
  | { kind: "bpf-devices"; dir: string; rules: DeviceCgroupRule[] };

const UNLIMITED = -1;

function need(homes: Homes, controller: string, field: string): ControllerHome {
  const home = homes.find(controller);
  if (!home) {
    throw new CgroupError(`${field} needs the ${controller} controller, which is not available here (${homes.describe()}); drop the setting or mount the controller`);
  }
  return home;
}

/** Field names as the caller's user knows them (the engine maps spec fields to its flags). */
export type FieldLabel = (field: string) => string;

const asIs: FieldLabel = (f) => f;

// The kernel parses control files as 64-bit numbers; beyond 2^64 a JS number would also print
// in exponent form ("1e+21"), which no control file accepts.
const MAX_U64 = 2 ** 64;

function int(value: unknown, field: string, opts: { min?: number; max?: number; allowUnlimited?: boolean } = {}): number {
  if (typeof value !== "number" || !Number.isInteger(value)) throw new CgroupError(`${field}: ${JSON.stringify(value)} is not an integer`);
  if (opts.allowUnlimited && value === UNLIMITED) return value;
  if (opts.min !== undefined && value < opts.min) {
    throw new CgroupError(`${field}: ${value} is below the minimum ${opts.min}${opts.allowUnlimited ? " (use -1 for unlimited)" : ""}`);
  }
  const max = Math.min(opts.max ?? MAX_U64, MAX_U64);
  if (value > max) throw new CgroupError(`${field}: ${value} is above the maximum ${max}`);
  return value;
}

function noHome(field: string, why: string): never {
  throw new CgroupError(`${field} has no equivalent here: ${why}`);
}

function w(dir: string, file: string, value: string | number, field: string): Step {
  return { kind: "write", file: join(dir, file), value: String(value), field };
}

function deviceKey(d: { major: number; minor: number }): string {
  return `${d.major}:${d.minor}`;
}

function checkDevice(d: { major: unknown; minor: unknown }, field: string): void {
  int(d.major, `${field}.major`, { min: 0 });
  int(d.minor, `${field}.minor`, { min: 0 });
}

/** The kernel's PID_MAX_LIMIT on 64-bit: pids.max refuses anything above it. */
const PIDS_MAX = 4 * 1024 * 1024;

const THROTTLES = ["throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"] as const;

/** The relations between values validateResources refuses, named for callers that word them
 *  their own way (the engine says what docker says). */
export const RULES = {
  /** memory.swap counts memory+swap (v1 memsw), so it cannot be below memory.limit. */
  swapBelowLimit: "memory.swap below memory.limit",
} as const;

/**
 * Every value in linux.resources against its own rule: types, ranges, syntax and the relations
 * between values (swap >= limit). Nothing here looks at the host, so a value is refused the same
 * way whether or not this machine has a home for it. `label` renames fields in messages.
 */
export function validateResources(r: LinuxResources, label: FieldLabel = asIs): void {
  const f = (field: string) => label(`linux.resources.${field}`);
  const m = r.memory;
  if (m) {
    const limit = m.limit === undefined ? undefined : int(m.limit, f("memory.limit"), { min: 0, allowUnlimited: true });
    const swap = m.swap === undefined ? undefined : int(m.swap, f("memory.swap"), { min: 0, allowUnlimited: true });
    for (const k of ["reservation", "kernel", "kernelTCP"] as const) if (m[k] !== undefined) int(m[k], f(`memory.${k}`), { min: 0, allowUnlimited: true });
    if (m.swappiness !== undefined) int(m.swappiness, f("memory.swappiness"), { min: 0, max: 100 });
    if (limit !== undefined && swap !== undefined && limit !== UNLIMITED && swap !== UNLIMITED && swap < limit) {
      throw new CgroupError(`${f("memory.swap")}=${swap} is below ${f("memory.limit")}=${limit}; swap is memory+swap and must be >= limit (or -1 for unlimited)`, RULES.swapBelowLimit);
    }
  }
  const c = r.cpu;
  if (c) {
    if (c.shares !== undefined) int(c.shares, f("cpu.shares"), { min: 2, max: 262144 });
    if (c.quota !== undefined) int(c.quota, f("cpu.quota"), { min: 1000, allowUnlimited: true });
    if (c.period !== undefined) int(c.period, f("cpu.period"), { min: 1000, max: 1000000 });
    if (c.burst !== undefined) int(c.burst, f("cpu.burst"), { min: 0 });
    if (c.realtimePeriod !== undefined) int(c.realtimePeriod, f("cpu.realtimePeriod"), { min: 1 });
    if (c.realtimeRuntime !== undefined) int(c.realtimeRuntime, f("cpu.realtimeRuntime"), { min: 0, allowUnlimited: true });
    if (c.idle !== undefined) int(c.idle, f("cpu.idle"), { min: 0, max: 1 });
    for (const key of ["cpus", "mems"] as const) {
      const v = c[key];
      if (v !== undefined && (typeof v !== "string" || !/^[0-9,\- ]*$/.test(v))) throw new CgroupError(`${f(`cpu.${key}`)}: ${JSON.stringify(v)} is not a list like "0-2,4"`);
    }
  }
  if (r.pids) int(r.pids.limit, f("pids.limit"), { max: PIDS_MAX });
  const b = r.blockIO;
  if (b) {
    if (b.weight !== undefined) int(b.weight, f("blockIO.weight"), { min: 10, max: 1000 });
    if (b.leafWeight !== undefined) int(b.leafWeight, f("blockIO.leafWeight"), { min: 10, max: 1000 });
    for (const [i, wd] of (b.weightDevice ?? []).entries()) {
      checkDevice(wd, f(`blockIO.weightDevice[${i}]`));
      if (wd.weight !== undefined) int(wd.weight, f(`blockIO.weightDevice[${i}].weight`), { min: 10, max: 1000 });
      if (wd.leafWeight !== undefined) int(wd.leafWeight, f(`blockIO.weightDevice[${i}].leafWeight`), { min: 10, max: 1000 });
    }
    for (const k of THROTTLES) {
      for (const [i, t] of (b[k] ?? []).entries()) {
        checkDevice(t, f(`blockIO.${k}[${i}]`));
        int(t.rate, f(`blockIO.${k}[${i}].rate`), { min: 0 });
      }
    }
  }
  for (const [i, h] of (r.hugepageLimits ?? []).entries()) {
    if (typeof h.pageSize !== "string" || !/^\d+[KMG]B$/.test(h.pageSize)) throw new CgroupError(`${f(`hugepageLimits[${i}].pageSize`)}: ${JSON.stringify(h.pageSize)} is not a size like "2MB" or "1GB"`);
    int(h.limit, f(`hugepageLimits[${i}].limit`), { min: 0, allowUnlimited: true });
  }
  (r.devices ?? []).forEach((d, i) => v1DeviceLine(d, f(`devices[${i}]`)));
  const n = r.network;
  if (n) {
    if (n.classID !== undefined) int(n.classID, f("network.classID"), { min: 0, max: 0xffffffff });
    for (const [i, p] of (n.priorities ?? []).entries()) {
      if (typeof p.name !== "string" || !/^[^\s/]{1,15}$/.test(p.name)) throw new CgroupError(`${f(`network.priorities[${i}].name`)}: ${JSON.stringify(p.name)} is not an interface name`);
      int(p.priority, f(`network.priorities[${i}].priority`), { min: 0 });
    }
  }
  for (const [dev, l] of Object.entries(r.rdma ?? {})) {
    if (!/^[^\s/]+$/.test(dev)) throw new CgroupError(`${f("rdma")}: ${JSON.stringify(dev)} is not an RDMA device name`);
    if (l.hcaHandles !== undefined) int(l.hcaHandles, f(`rdma.${dev}.hcaHandles`), { min: 0 });
    if (l.hcaObjects !== undefined) int(l.hcaObjects, f(`rdma.${dev}.hcaObjects`), { min: 0 });
  }
  for (const [key, value] of Object.entries(r.unified ?? {})) {
    if (!/^[a-z0-9_]+\.[a-z0-9_.]+$/i.test(key)) throw new CgroupError(`${f("unified")}: ${JSON.stringify(key)} is not a cgroup v2 file name like "memory.high"`);
    if (typeof value !== "string" || /[\0\n]/.test(value)) throw new CgroupError(`${f(`unified.${key}`)}: ${JSON.stringify(value)} must be a one-line string`);
  }
}

export function planResources(r: LinuxResources, homes: Homes): Step[] {
  validateResources(r);
  const steps: Step[] = [];
  if (r.memory) steps.push(...planMemory(r.memory, homes));
  if (r.cpu) steps.push(...planCpu(r.cpu, homes));
  if (r.pids) {
    const limit = r.pids.limit;
    const home = need(homes, "pids", "linux.resources.pids");
    // runc and Docker treat 0 and negatives as "no limit".
    steps.push(w(home.dir, "pids.max", limit <= 0 ? "max" : limit, "linux.resources.pids.limit"));
  }
  if (r.blockIO) steps.push(...planBlockIO(r.blockIO, homes));
  if (r.hugepageLimits?.length) steps.push(...planHugetlb(r.hugepageLimits, homes));
  if (r.devices?.length) steps.push(...planDevices(r.devices, homes));
  if (r.network) steps.push(...planNetwork(r.network, homes));
  if (r.rdma && Object.keys(r.rdma).length) steps.push(...planRdma(r.rdma, homes));
  if (r.unified && Object.keys(r.unified).length) steps.push(...planUnified(r.unified, homes));
  return steps;
}

function planMemory(m: NonNullable<LinuxResources["memory"]>, homes: Homes): Step[] {
  const f = "linux.resources.memory";
  const steps: Step[] = [];
  const { limit, reservation } = m;
  let { swap } = m;
  if (limit === undefined && swap === undefined && reservation === undefined && m.kernel === undefined && m.kernelTCP === undefined &&
      m.swappiness === undefined && m.disableOOMKiller === undefined && m.useHierarchy === undefined) return steps;
  const home = need(homes, "memory", f);
  const d = home.dir;
  if (home.version === 1) {
    // runc's rule: lifting the memory limit (-1) without a word about swap lifts the swap limit
    // too; v1 refuses a memory limit above memsw, so `update --memory -1` failed otherwise.
    if (limit === UNLIMITED && swap === undefined && exists(join(d, "memory.memsw.limit_in_bytes"))) swap = UNLIMITED;
    if (m.checkBeforeUpdate && limit !== undefined && limit !== UNLIMITED) {
      steps.push({ kind: "check-usage", usageFile: join(d, "memory.usage_in_bytes"), limit, field: `${f}.limit` });
    }
    const limitWrite: Write | undefined = limit === undefined ? undefined : { file: join(d, "memory.limit_in_bytes"), value: String(limit), field: `${f}.limit` };
    if (swap !== undefined) {
      const memsw = join(d, "memory.memsw.limit_in_bytes");
      if (!exists(memsw)) {
        if (swap !== UNLIMITED && swap !== limit) noHome(`${f}.swap`, `swap accounting is off in this kernel (no memory.memsw.limit_in_bytes; boot with swapaccount=1)`);
        if (limitWrite) steps.push({ kind: "write", ...limitWrite });
      } else {
        const swapWrite: Write = { file: memsw, value: String(swap), field: `${f}.swap` };
        steps.push(limitWrite ? { kind: "pair", first: limitWrite, second: swapWrite } : { kind: "write", ...swapWrite });
      }
    } else if (limitWrite) {
      steps.push({ kind: "write", ...limitWrite });
    }
    if (reservation !== undefined) steps.push(w(d, "memory.soft_limit_in_bytes", reservation, `${f}.reservation`));
    if (m.kernel !== undefined) {
      if (!exists(join(d, "memory.kmem.limit_in_bytes"))) noHome(`${f}.kernel`, "this kernel has no kernel-memory limit (memory.kmem.limit_in_bytes)");
      steps.push(w(d, "memory.kmem.limit_in_bytes", m.kernel, `${f}.kernel`));
    }
    if (m.kernelTCP !== undefined) {
      if (!exists(join(d, "memory.kmem.tcp.limit_in_bytes"))) noHome(`${f}.kernelTCP`, "this kernel has no memory.kmem.tcp.limit_in_bytes");
      steps.push(w(d, "memory.kmem.tcp.limit_in_bytes", m.kernelTCP, `${f}.kernelTCP`));
    }
    if (m.swappiness !== undefined) steps.push(w(d, "memory.swappiness", m.swappiness, `${f}.swappiness`));
    if (m.disableOOMKiller !== undefined) steps.push(w(d, "memory.oom_control", m.disableOOMKiller ? 1 : 0, `${f}.disableOOMKiller`));
    if (m.useHierarchy !== undefined) steps.push(w(d, "memory.use_hierarchy", m.useHierarchy ? 1 : 0, `${f}.useHierarchy`));
    return steps;
  }
  // cgroup v2
  if (m.kernel !== undefined) noHome(`${f}.kernel`, "cgroup v2 accounts kernel memory inside memory.max and has no separate limit; remove it");
  if (m.kernelTCP !== undefined) noHome(`${f}.kernelTCP`, "cgroup v2 has no separate TCP buffer limit; remove it");
  if (m.swappiness !== undefined) noHome(`${f}.swappiness`, "cgroup v2 has no per-cgroup swappiness; remove it (or use memory.swap.max/memory.high)");
  if (m.disableOOMKiller) noHome(`${f}.disableOOMKiller`, "cgroup v2 cannot disable the OOM killer; use memory.high to throttle instead");
  if (m.useHierarchy === false) noHome(`${f}.useHierarchy`, "cgroup v2 is always hierarchical");
  if (m.checkBeforeUpdate && limit !== undefined && limit !== UNLIMITED) {
    steps.push({ kind: "check-usage", usageFile: join(d, "memory.current"), limit, field: `${f}.limit` });
  }
  if (swap !== undefined) {
    const value = swapToV2(swap, limit);
    if (!exists(join(d, "memory.swap.max"))) {
      if (value !== "max" && value !== "0") noHome(`${f}.swap`, "swap accounting is off in this kernel (no memory.swap.max)");
    } else {
      // set swap after memory.max: the v2 files are independent, order only matters for readers.
      if (limit !== undefined) steps.push(w(d, "memory.max", limit === UNLIMITED ? "max" : limit, `${f}.limit`));
      steps.push(w(d, "memory.swap.max", value, `${f}.swap`));
    }
  }
  if (limit !== undefined && (swap === undefined || !exists(join(d, "memory.swap.max")))) {
    steps.push(w(d, "memory.max", limit === UNLIMITED ? "max" : limit, `${f}.limit`));
  }
  if (reservation !== undefined) steps.push(w(d, "memory.low", reservation === UNLIMITED ? "max" : reservation, `${f}.reservation`));
  return steps;
}

function planCpu(c: NonNullable<LinuxResources["cpu"]>, homes: Homes): Step[] {
  const f = "linux.resources.cpu";
  const steps: Step[] = [];
  const usesCpu = c.shares !== undefined || c.quota !== undefined || c.period !== undefined || c.burst !== undefined ||
    c.realtimePeriod !== undefined || c.realtimeRuntime !== undefined || c.idle !== undefined;
  if (usesCpu) {
    const home = need(homes, "cpu", f);
    const d = home.dir;
    const { shares, quota, period, burst } = c;
    if (home.version === 1) {
      if (shares !== undefined) steps.push(w(d, "cpu.shares", shares, `${f}.shares`));
      // Both: the kernel checks each write against the other value and the parent's limit, so a
      // lower period may only fit once the quota is lowered (runc retries the same way).
      if (period !== undefined && quota !== undefined) {
        steps.push({ kind: "pair", first: { file: join(d, "cpu.cfs_period_us"), value: String(period), field: `${f}.period` }, second: { file: join(d, "cpu.cfs_quota_us"), value: String(quota), field: `${f}.quota` } });
      } else {
        if (period !== undefined) steps.push(w(d, "cpu.cfs_period_us", period, `${f}.period`));
        if (quota !== undefined) steps.push(w(d, "cpu.cfs_quota_us", quota, `${f}.quota`));
      }
      if (burst !== undefined) {
        if (!exists(join(d, "cpu.cfs_burst_us"))) noHome(`${f}.burst`, "this kernel has no cpu.cfs_burst_us");
        steps.push(w(d, "cpu.cfs_burst_us", burst, `${f}.burst`));
      }
      const rtp = c.realtimePeriod, rtr = c.realtimeRuntime;
      if (rtp !== undefined || rtr !== undefined) {
        if (!exists(join(d, "cpu.rt_runtime_us"))) noHome(`${f}.realtimeRuntime`, "this kernel has no RT group scheduling (CONFIG_RT_GROUP_SCHED)");
        const pw: Write | undefined = rtp === undefined ? undefined : { file: join(d, "cpu.rt_period_us"), value: String(rtp), field: `${f}.realtimePeriod` };
        const rw: Write | undefined = rtr === undefined ? undefined : { file: join(d, "cpu.rt_runtime_us"), value: String(rtr), field: `${f}.realtimeRuntime` };
        if (pw && rw) steps.push({ kind: "pair", first: pw, second: rw });
        else steps.push({ kind: "write", ...(pw ?? rw)! });
      }
      if (c.idle !== undefined) {
        if (!exists(join(d, "cpu.idle"))) noHome(`${f}.idle`, "this kernel has no cpu.idle");
        steps.push(w(d, "cpu.idle", c.idle, `${f}.idle`));
      }
    } else {
      if (c.realtimePeriod !== undefined || c.realtimeRuntime !== undefined) {
        noHome(`${f}.realtimeRuntime/realtimePeriod`, "cgroup v2 has no RT bandwidth control; remove them");
      }
      if (shares !== undefined) steps.push(w(d, "cpu.weight", sharesToWeight(shares), `${f}.shares (as cpu.weight)`));
      if (quota !== undefined || period !== undefined) {
        steps.push(w(d, "cpu.max", cpuMax(quota, period, readOptional(join(d, "cpu.max")) ?? "max 100000"), `${f}.quota/period (as cpu.max)`));
      }
      if (burst !== undefined) steps.push(w(d, "cpu.max.burst", burst, `${f}.burst`));
      if (c.idle !== undefined) steps.push(w(d, "cpu.idle", c.idle, `${f}.idle`));
    }
  }
  if (c.cpus !== undefined || c.mems !== undefined) {
    const home = need(homes, "cpuset", `${f}.cpus/mems`);
    for (const [key, value] of [["cpus", c.cpus], ["mems", c.mems]] as const) {
      if (value === undefined) continue;
      steps.push(w(home.dir, `cpuset.${key}`, value, `${f}.${key}`));
    }
  }
  return steps;
}

function planBlockIO(b: NonNullable<LinuxResources["blockIO"]>, homes: Homes): Step[] {
  const f = "linux.resources.blockIO";
  const throttles: [keyof typeof b, string, string][] = [
    ["throttleReadBpsDevice", "read_bps_device", "rbps"], ["throttleWriteBpsDevice", "write_bps_device", "wbps"],
    ["throttleReadIOPSDevice", "read_iops_device", "riops"], ["throttleWriteIOPSDevice", "write_iops_device", "wiops"],
  ];
  const any = b.weight !== undefined || b.leafWeight !== undefined || (b.weightDevice?.length ?? 0) > 0 ||
    throttles.some(([k]) => ((b[k] as ThrottleDevice[] | undefined)?.length ?? 0) > 0);
  if (!any) return [];
  const home = homes.find("blkio") ?? homes.find("io");
  if (!home) need(homes, "blkio", f);
  const d = home!.dir;
  const steps: Step[] = [];
  if (home!.version === 1) {
    // Proportional weights live in CFQ's blkio.weight or BFQ's blkio.bfq.weight, whichever this kernel has.
    const weightFile = ["blkio.weight", "blkio.bfq.weight"].find((x) => exists(join(d, x)));
    if (b.weight !== undefined) {
      if (!weightFile) noHome(`${f}.weight`, "no proportional I/O weight file (blkio.weight / blkio.bfq.weight): the BFQ scheduler is not in use");
      steps.push(w(d, weightFile!, b.weight, `${f}.weight`));
    }
    if (b.leafWeight !== undefined) {
      if (!exists(join(d, "blkio.leaf_weight"))) noHome(`${f}.leafWeight`, "this kernel has no blkio.leaf_weight (CFQ was removed in Linux 5.0)");
      steps.push(w(d, "blkio.leaf_weight", b.leafWeight, `${f}.leafWeight`));
    }
    for (const [i, wd] of (b.weightDevice ?? []).entries()) {
      const key = deviceKey(wd);
      if (wd.weight !== undefined) {
        if (!weightFile) noHome(`${f}.weightDevice`, "no proportional I/O weight file: the BFQ scheduler is not in use");
        // CFQ had blkio.weight_device; BFQ has blkio.bfq.weight_device, or takes "MAJ:MIN W" in blkio.bfq.weight.
        const deviceFile = exists(join(d, `${weightFile}_device`)) ? `${weightFile}_device` : weightFile!;
        steps.push(w(d, deviceFile, `${key} ${wd.weight}`, `${f}.weightDevice[${i}]`));
      }
      if (wd.leafWeight !== undefined) noHome(`${f}.weightDevice[${i}].leafWeight`, "this kernel has no blkio.leaf_weight_device");
    }
    for (const [k, file] of throttles) {
      for (const [i, t] of ((b[k] as ThrottleDevice[] | undefined) ?? []).entries()) {
        steps.push(w(d, `blkio.throttle.${file}`, `${deviceKey(t)} ${t.rate}`, `${f}.${k}[${i}]`));
      }
    }
    return steps;
  }
  const bfq = exists(join(d, "io.bfq.weight"));
  if (b.weight !== undefined) {
    const v = b.weight;
    steps.push(bfq ? w(d, "io.bfq.weight", v, `${f}.weight`) : w(d, "io.weight", `default ${blkioWeightToIoWeight(v)}`, `${f}.weight (as io.weight)`));
  }
  if (b.leafWeight !== undefined) noHome(`${f}.leafWeight`, "cgroup v2 has no leaf weight; remove it");
  for (const [i, wd] of (b.weightDevice ?? []).entries()) {
    const key = deviceKey(wd);
    if (wd.leafWeight !== undefined) noHome(`${f}.weightDevice[${i}].leafWeight`, "cgroup v2 has no leaf weight");
    if (wd.weight === undefined) continue;
    const v = wd.weight;
    steps.push(bfq ? w(d, "io.bfq.weight", `${key} ${v}`, `${f}.weightDevice[${i}]`) : w(d, "io.weight", `${key} ${blkioWeightToIoWeight(v)}`, `${f}.weightDevice[${i}] (as io.weight)`));
  }
  for (const [k, , v2key] of throttles) {
    for (const [i, t] of ((b[k] as ThrottleDevice[] | undefined) ?? []).entries()) {
      const rate = t.rate;
      steps.push(w(d, "io.max", `${deviceKey(t)} ${v2key}=${rate === 0 ? "max" : rate}`, `${f}.${k}[${i}] (as io.max)`));
    }
  }
  return steps;
}

function planHugetlb(limits: NonNullable<LinuxResources["hugepageLimits"]>, homes: Homes): Step[] {
  const f = "linux.resources.hugepageLimits";
  const home = need(homes, "hugetlb", f);
  return limits.map((h, i) => {
    const file = home.version === 1 ? `hugetlb.${h.pageSize}.limit_in_bytes` : `hugetlb.${h.pageSize}.max`;
    if (!exists(join(home.dir, file))) throw new CgroupError(`${f}[${i}].pageSize: this kernel has no ${h.pageSize} huge pages (no ${file})`);
    return w(home.dir, file, home.version === 2 && h.limit === UNLIMITED ? "max" : h.limit, `${f}[${i}]`);
  });
}

/** One v1 devices.allow/deny line: "c 1:3 rwm", "a *:* rwm". */
export function v1DeviceLine(rule: DeviceCgroupRule, field: string): string {
  const type = rule.type ?? "a";
  if (!["a", "c", "b"].includes(type)) throw new CgroupError(`${field}.type: ${JSON.stringify(type)} must be a, c or b`);
  const access = rule.access ?? "rwm";
  if (!/^[rwm]{1,3}$/.test(access)) throw new CgroupError(`${field}.access: ${JSON.stringify(access)} must be letters from "rwm"`);
  const num = (n: number | null | undefined, what: string) => {
    if (n === undefined || n === null || n === -1) return "*";
    return String(int(n, `${field}.${what}`, { min: 0 }));
  };
  return `${type} ${num(rule.major, "major")}:${num(rule.minor, "minor")} ${access}`;
}

function planDevices(rules: DeviceCgroupRule[], homes: Homes): Step[] {
  const f = "linux.resources.devices";
  const home = homes.find("devices");
  if (home?.version === 1) {
    return rules.map((r, i) => w(home.dir, r.allow ? "devices.allow" : "devices.deny", v1DeviceLine(r, `${f}[${i}]`), `${f}[${i}]`));
  }
  // No v1 devices controller: cgroup v2 filters device access with an eBPF program on the cgroup.
  if (!homes.unifiedDir) need(homes, "devices", f);
  return [{ kind: "bpf-devices", dir: homes.unifiedDir!, rules }];
}

function planNetwork(n: NonNullable<LinuxResources["network"]>, homes: Homes): Step[] {
  const f = "linux.resources.network";
  const steps: Step[] = [];
  if (n.classID !== undefined) {
    const home = homes.find("net_cls");
    if (!home || home.version !== 1) {
      noHome(`${f}.classID`, `the net_cls controller is not mounted (${homes.describe()}); on cgroup v2 classify traffic by cgroup path with nftables "socket cgroupv2" instead`);
    }
    steps.push(w(home.dir, "net_cls.classid", n.classID, `${f}.classID`));
  }
  if (n.priorities?.length) {
    const home = homes.find("net_prio");
    if (!home || home.version !== 1) {
      noHome(`${f}.priorities`, `the net_prio controller is not mounted (${homes.describe()}); cgroup v2 has no net_prio`);
    }
    for (const [i, p] of n.priorities.entries()) {
      steps.push(w(home.dir, "net_prio.ifpriomap", `${p.name} ${p.priority}`, `${f}.priorities[${i}]`));
    }
  }
  return steps;
}

function planRdma(rdma: NonNullable<LinuxResources["rdma"]>, homes: Homes): Step[] {
  const f = "linux.resources.rdma";
  const home = need(homes, "rdma", f);
  return Object.entries(rdma).map(([dev, l]) => {
    const part = (v: number | undefined) => v === undefined ? "max" : String(v);
    return w(home.dir, "rdma.max", `${dev} hca_handle=${part(l.hcaHandles)} hca_object=${part(l.hcaObjects)}`, `${f}.${dev}`);
  });
}

function planUnified(unified: Record<string, string>, homes: Homes): Step[] {
  const f = "linux.resources.unified";
  if (!homes.unifiedDir) noHome(f, `no cgroup v2 hierarchy is mounted (${homes.describe()}); use the v1 fields of linux.resources instead`);
  return Object.entries(unified).map(([key, value]) => {
    const controller = key.split(".")[0]!;
    const file = join(homes.unifiedDir!, key);
    const home = homes.find(controller); // enables the controller on the way, when it lives on v2
    if (!exists(file)) {
      const why = home?.version === 1
        ? `the ${controller} controller is bound to cgroup v1 on this host, so the unified hierarchy has no ${key}; use the v1 fields`
        : `${file} does not exist (unknown file, or the ${controller} controller is not enabled on the unified hierarchy)`;
      // "invalid configuration" is runc's word for the same refusal (its validator's).
      throw new CgroupError(`invalid configuration: ${f}.${key}: ${why}`);
    }
    return w(homes.unifiedDir!, key, value, `${f}.${key}`);
  });
}
