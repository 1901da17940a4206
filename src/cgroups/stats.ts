// Usage counters of one cgroup, read from whichever hierarchy holds each controller, and runc's
// `events --stats` JSON shape built from them.
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { parseCount, parseFlatKeyed, readOptional } from "./files.ts";
import { hugepageSizeName } from "./convert.ts";
import type { ControllerHome } from "./resources.ts";

export interface BlkioEntry { major: number; minor: number; op: string; value: number }

/** Counters in bytes / nanoseconds; -1 means "no limit". */
export interface CgroupStats {
  cpu: {
    total: number; percpu: number[]; kernel: number; user: number;
    periods: number; throttledPeriods: number; throttledTime: number;
  };
  memory: {
    usage: number; maxUsage: number; limit: number; failcnt: number; cache: number;
    swap: { usage: number; maxUsage: number; limit: number; failcnt: number };
    raw: Record<string, number>;
    oomKills: number;
  };
  pids: { current: number; limit: number };
  blkio: { ioServiceBytesRecursive: BlkioEntry[]; ioServicedRecursive: BlkioEntry[] };
  hugetlb: Record<string, { usage: number; maxUsage: number; failcnt: number; limit: number }>;
}

export type FindHome = (controller: string) => ControllerHome | undefined;

/** Huge page sizes this kernel supports ("2MB", "1GB"). */
export function hugepageSizes(): string[] {
  try {
    return readdirSync("/sys/kernel/mm/hugepages")
      .map((d) => /^hugepages-(\d+)kB$/.exec(d)?.[1])
      .filter((x): x is string => x !== undefined)
      .map((kb) => hugepageSizeName(Number(kb)));
  } catch {
    return [];
  }
}

function read(dir: string, file: string): string | undefined {
  return readOptional(join(dir, file));
}

function cpuStats(find: FindHome, unifiedDir: string | undefined): CgroupStats["cpu"] {
  const out: CgroupStats["cpu"] = { total: 0, percpu: [], kernel: 0, user: 0, periods: 0, throttledPeriods: 0, throttledTime: 0 };
  const acct = find("cpuacct");
  if (acct?.version === 1) {
    out.total = parseCount(read(acct.dir, "cpuacct.usage"));
    out.percpu = (read(acct.dir, "cpuacct.usage_percpu") ?? "").trim().split(/\s+/).filter(Boolean).map(Number);
    out.user = parseCount(read(acct.dir, "cpuacct.usage_user"));
    out.kernel = parseCount(read(acct.dir, "cpuacct.usage_sys"));
  }
  const cpu = find("cpu");
  if (cpu?.version === 1) {
    const s = parseFlatKeyed(read(cpu.dir, "cpu.stat"));
    out.periods = s.nr_periods ?? 0;
    out.throttledPeriods = s.nr_throttled ?? 0;
    out.throttledTime = s.throttled_time ?? 0;
  }
  // cpu.stat exists on every v2 cgroup (usage even without the cpu controller): fill what v1 did not.
  const v2dir = cpu?.version === 2 ? cpu.dir : unifiedDir;
  if (v2dir && (acct?.version !== 1 || cpu?.version !== 1)) {
    const s = parseFlatKeyed(read(v2dir, "cpu.stat"));
    if (acct?.version !== 1) {
      out.total = (s.usage_usec ?? 0) * 1000;
      out.user = (s.user_usec ?? 0) * 1000;
      out.kernel = (s.system_usec ?? 0) * 1000;
    }
    if (cpu?.version !== 1 && s.nr_periods !== undefined) {
      out.periods = s.nr_periods;
      out.throttledPeriods = s.nr_throttled ?? 0;
      out.throttledTime = (s.throttled_usec ?? 0) * 1000;
    }
  }
  return out;
}

function memoryStats(find: FindHome): CgroupStats["memory"] {
  const out: CgroupStats["memory"] = {
    usage: 0, maxUsage: 0, limit: -1, failcnt: 0, cache: 0,
    swap: { usage: 0, maxUsage: 0, limit: -1, failcnt: 0 }, raw: {}, oomKills: 0,
  };
  const home = find("memory");
  if (!home) return out;
  const d = home.dir;
  if (home.version === 1) {
    out.usage = parseCount(read(d, "memory.usage_in_bytes"));
    out.maxUsage = parseCount(read(d, "memory.max_usage_in_bytes"));
    out.limit = parseCount(read(d, "memory.limit_in_bytes"));
    out.failcnt = parseCount(read(d, "memory.failcnt"));
    out.swap = {
      usage: parseCount(read(d, "memory.memsw.usage_in_bytes")),
      maxUsage: parseCount(read(d, "memory.memsw.max_usage_in_bytes")),
      limit: parseCount(read(d, "memory.memsw.limit_in_bytes") ?? "max"),
      failcnt: parseCount(read(d, "memory.memsw.failcnt")),
    };
    out.raw = parseFlatKeyed(read(d, "memory.stat"));
    out.cache = out.raw.cache ?? 0;
    out.oomKills = parseFlatKeyed(read(d, "memory.oom_control")).oom_kill ?? 0;
  } else {
    out.usage = parseCount(read(d, "memory.current"));
    out.maxUsage = parseCount(read(d, "memory.peak"));
    out.limit = parseCount(read(d, "memory.max"));
    const events = parseFlatKeyed(read(d, "memory.events"));
    out.failcnt = events.max ?? 0;
    out.oomKills = events.oom_kill ?? 0;
    out.swap = {
      usage: parseCount(read(d, "memory.swap.current")),
      maxUsage: parseCount(read(d, "memory.swap.peak")),
      limit: parseCount(read(d, "memory.swap.max") ?? "max"),
      failcnt: parseFlatKeyed(read(d, "memory.swap.events")).max ?? 0,
    };
    out.raw = parseFlatKeyed(read(d, "memory.stat"));
    out.cache = out.raw.file ?? 0;
  }
  return out;
}

function blkioStats(find: FindHome): CgroupStats["blkio"] {
  const out: CgroupStats["blkio"] = { ioServiceBytesRecursive: [], ioServicedRecursive: [] };
  const home = find("blkio") ?? find("io");
  if (!home) return out;
  if (home.version === 1) {
    const parse = (text: string | undefined): BlkioEntry[] =>
      (text ?? "").split("\n").map((l) => l.trim().split(/\s+/)).filter((p) => p.length === 3 && p[0]!.includes(":")).map(([dev, op, value]) => {
        const [major, minor] = dev!.split(":").map(Number);
        return { major: major!, minor: minor!, op: op!, value: Number(value) };
      });
    out.ioServiceBytesRecursive = parse(read(home.dir, "blkio.throttle.io_service_bytes_recursive"));
    out.ioServicedRecursive = parse(read(home.dir, "blkio.throttle.io_serviced_recursive"));
  } else {
    for (const line of (read(home.dir, "io.stat") ?? "").split("\n")) {
      const [dev, ...kvs] = line.trim().split(/\s+/);
      if (!dev?.includes(":")) continue;
      const [major, minor] = dev.split(":").map(Number) as [number, number];
      const kv = Object.fromEntries(kvs.map((x) => x.split("=")).map(([k, v]) => [k, Number(v)]));
      out.ioServiceBytesRecursive.push({ major, minor, op: "Read", value: kv.rbytes ?? 0 }, { major, minor, op: "Write", value: kv.wbytes ?? 0 });
      out.ioServicedRecursive.push({ major, minor, op: "Read", value: kv.rios ?? 0 }, { major, minor, op: "Write", value: kv.wios ?? 0 });
    }
  }
  return out;
}

function hugetlbStats(find: FindHome): CgroupStats["hugetlb"] {
  const out: CgroupStats["hugetlb"] = {};
  const home = find("hugetlb");
  if (!home) return out;
  for (const size of hugepageSizes()) {
    const p = `hugetlb.${size}`;
    out[size] = home.version === 1
      ? {
        usage: parseCount(read(home.dir, `${p}.usage_in_bytes`)), maxUsage: parseCount(read(home.dir, `${p}.max_usage_in_bytes`)),
        failcnt: parseCount(read(home.dir, `${p}.failcnt`)), limit: parseCount(read(home.dir, `${p}.limit_in_bytes`)),
      }
      : {
        usage: parseCount(read(home.dir, `${p}.current`)), maxUsage: 0,
        failcnt: parseFlatKeyed(read(home.dir, `${p}.events`)).max ?? 0, limit: parseCount(read(home.dir, `${p}.max`)),
      };
  }
  return out;
}

export function readStats(find: FindHome, unifiedDir: string | undefined): CgroupStats {
  const pidsHome = find("pids");
  return {
    cpu: cpuStats(find, unifiedDir),
    memory: memoryStats(find),
    pids: pidsHome
      ? { current: parseCount(read(pidsHome.dir, "pids.current")), limit: parseCount(read(pidsHome.dir, "pids.max")) }
      : { current: 0, limit: -1 },
    blkio: blkioStats(find),
    hugetlb: hugetlbStats(find),
  };
}

// runc prints "no limit" as a huge number; 2^63-4096 is what v1 itself reports and survives JSON.
const RUNC_UNLIMITED = 9223372036854771712;
const lim = (n: number) => (n < 0 ? RUNC_UNLIMITED : n);

/** Drops zero/empty fields the way Go's `omitempty` does in runc's types. */
function omitEmpty(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  for (const k of keys) {
    const v = o[k];
    if (v === 0 || v === undefined || (Array.isArray(v) && v.length === 0) || (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0)) delete o[k];
  }
  return o;
}

/** One line of `runc events --stats`: {"type":"stats","id":…,"data":{cpu,memory,pids,blkio,hugetlb}}. */
export function runcStatsEvent(id: string, s: CgroupStats): object {
  const entry = (usage: number, max: number, limit: number, failcnt: number) =>
    omitEmpty({ limit: lim(limit), usage, max, failcnt }, ["usage", "max"]);
  const blk = (e: BlkioEntry[]) => e.map((x) => omitEmpty({ ...x }, ["major", "minor", "op", "value"]));
  return {
    type: "stats",
    id,
    data: {
      cpu: {
        usage: omitEmpty({ total: s.cpu.total, percpu: s.cpu.percpu, kernel: s.cpu.kernel, user: s.cpu.user }, ["total", "percpu"]),
        throttling: omitEmpty({ periods: s.cpu.periods, throttledPeriods: s.cpu.throttledPeriods, throttledTime: s.cpu.throttledTime }, ["periods", "throttledPeriods", "throttledTime"]),
      },
      memory: omitEmpty({
        cache: s.memory.cache,
        usage: entry(s.memory.usage, s.memory.maxUsage, s.memory.limit, s.memory.failcnt),
        swap: entry(s.memory.swap.usage, s.memory.swap.maxUsage, s.memory.swap.limit, s.memory.swap.failcnt),
        raw: s.memory.raw,
      }, ["cache", "raw"]),
      pids: omitEmpty({ current: s.pids.current, limit: s.pids.limit < 0 ? 0 : s.pids.limit }, ["current", "limit"]),
      blkio: omitEmpty({
        ioServiceBytesRecursive: blk(s.blkio.ioServiceBytesRecursive),
        ioServicedRecursive: blk(s.blkio.ioServicedRecursive),
      }, ["ioServiceBytesRecursive", "ioServicedRecursive"]),
      hugetlb: Object.fromEntries(Object.entries(s.hugetlb).map(([size, h]) => [size, omitEmpty({ usage: h.usage, max: h.maxUsage, failcnt: h.failcnt }, ["usage", "max"])])),
    },
  };
}

/** runc's `{"type":"oom","id":…}` event, for the runtime's `events` when oomKillCount rises. */
export function runcOomEvent(id: string): object {
  return { type: "oom", id };
}
