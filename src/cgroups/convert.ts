// Value conversions between the runtime-spec (whose numbers follow cgroup v1) and cgroup v2,
// with the same linear mappings runc and crun use, so a config means the same on either layout.
import { CgroupError } from "./files.ts";

/** cpu.shares (2..262144, default 1024) -> cpu.weight (1..10000, default 100). */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  const s = Math.min(Math.max(shares, 2), 262144);
  return Math.floor(1 + ((s - 2) * 9999) / 262142);
}

/** cpu.weight -> the cpu.shares that maps to it (inverse of sharesToWeight, for `get` on v2). */
export function weightToShares(weight: number): number {
  return Math.ceil(2 + ((weight - 1) * 262142) / 9999);
}

/** blkio.weight (10..1000) -> io.weight (1..10000). */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return Math.floor(1 + ((weight - 10) * 9999) / 990);
}

/**
 * The spec's memory.swap is memory+swap (v1 memsw). v2's memory.swap.max counts swap alone, so the
 * value is swap - limit; an unlimited swap stays "max".
 */
export function swapToV2(swap: number, limit: number | undefined): string {
  if (swap === -1) return "max";
  if (limit === undefined || limit === -1) {
    throw new CgroupError(`linux.resources.memory.swap=${swap} needs a memory limit on cgroup v2 (swap.max = swap - limit); set memory.limit too, or swap to -1`);
  }
  if (swap < limit) {
    throw new CgroupError(`linux.resources.memory.swap=${swap} is below memory.limit=${limit}; swap is memory+swap and must be >= limit (or -1 for unlimited)`);
  }
  return String(swap - limit);
}

/** Quota/period in microseconds as cpu.max wants them: "QUOTA PERIOD" with "max" for no quota. */
export function cpuMax(quota: number | undefined, period: number | undefined, current: string): string {
  const [curQuota = "max", curPeriod = "100000"] = current.trim().split(/\s+/);
  const q = quota === undefined ? curQuota : quota < 0 ? "max" : String(quota);
  const p = period === undefined ? curPeriod : String(period);
  return `${q} ${p}`;
}

/** "100M", "1g", "512k", "-1", "max" -> bytes (or -1). Throws on junk or negatives other than -1. */
export function parseBytes(text: string, what: string): number {
  const t = text.trim();
  if (t === "-1" || t === "max") return -1;
  const m = /^(\d+)([kKmMgGtT]?)[bB]?$/.exec(t);
  if (!m) throw new CgroupError(`${what}: ${JSON.stringify(text)} is not a size; use bytes or a number with K, M, G or T, or -1 for unlimited`);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase()]!;
  return Number(m[1]) * unit;
}

/** Hugepage size names as the kernel spells them in hugetlb.<size>.* ("2MB", "1GB"). */
export function hugepageSizeName(kb: number): string {
  if (kb >= 1024 * 1024 && kb % (1024 * 1024) === 0) return `${kb / (1024 * 1024)}GB`;
  if (kb >= 1024 && kb % 1024 === 0) return `${kb / 1024}MB`;
  return `${kb}KB`;
}
