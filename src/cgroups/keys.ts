// Control-file names as people type them (the seeds' v1 names: memory.limit_in_bytes,
// cpu.cfs_quota_us, cpu.shares, …) resolved to the file that exists for a group on this layout.
// On v2 a v1 name is translated where a mapping exists, values converted both ways, and the
// caller is told (note) so nobody is surprised by what was actually written.
import { join } from "node:path";
import { CgroupError, exists, readControl } from "./files.ts";
import { blkioWeightToIoWeight, parseBytes, sharesToWeight, weightToShares } from "./convert.ts";
import type { ControllerHome } from "./resources.ts";
import { KNOWN_CONTROLLERS } from "./manager.ts";

export interface ResolvedKey {
  /** absolute path of the file that is read/written */
  file: string;
  /** the file's own name (differs from the asked key when mapped) */
  actual: string;
  /** value as the user gave it -> what the file takes (validates; throws CgroupError) */
  encode(value: string): string;
  /** file contents -> value in the asked key's terms */
  decode(raw: string): string;
  /** set when a v1 name was mapped to v2 */
  note?: string;
}

const SIZE_KEYS = /^(memory\.(limit_in_bytes|soft_limit_in_bytes|memsw\.limit_in_bytes|kmem\.limit_in_bytes|kmem\.tcp\.limit_in_bytes|max|high|low|min|swap\.max|swap\.high)|hugetlb\.\d+[KMG]B\.(limit_in_bytes|max))$/;
const INT_KEYS = /^(cpu\.(shares|cfs_quota_us|cfs_period_us|cfs_burst_us|rt_runtime_us|rt_period_us|weight|idle|max\.burst)|pids\.max|blkio\.weight|memory\.swappiness|memory\.oom_control)$/;

function validate(key: string, value: string): string {
  const v = value.trim();
  if (SIZE_KEYS.test(key)) {
    const n = parseBytes(v, key);
    return n === -1 ? (/\.(limit_in_bytes)$/.test(key) ? "-1" : "max") : String(n);
  }
  if (INT_KEYS.test(key)) {
    if (key === "pids.max" && (v === "max" || v === "-1")) return "max";
    if (!/^-?\d+$/.test(v)) throw new CgroupError(`${key}: ${JSON.stringify(value)} is not an integer`);
    const n = Number(v);
    const mayBeUnlimited = /cfs_quota_us|rt_runtime_us/.test(key);
    if (n < 0 && !(mayBeUnlimited && n === -1)) throw new CgroupError(`${key}: ${n} is negative${mayBeUnlimited ? " (only -1, for unlimited, is allowed)" : ""}`);
    return String(n);
  }
  if (value.includes("\n")) throw new CgroupError(`${key}: value must be one line`);
  return value;
}

function cpuMaxParts(dir: string): [string, string] {
  const [q = "max", p = "100000"] = readControl(join(dir, "cpu.max")).trim().split(/\s+/);
  return [q, p];
}

/** v1 name -> v2 file, with conversions, for the names the seeds use. */
function mapToV2(key: string, dir: string): Omit<ResolvedKey, "note"> | undefined {
  const raw = (actual: string, enc: (v: string) => string = (v) => v, dec: (r: string) => string = (r) => r.trim()) =>
    ({ file: join(dir, actual), actual, encode: enc, decode: dec });
  const bytesToMax = (v: string) => { const n = parseBytes(v, key); return n === -1 ? "max" : String(n); };
  const maxToBytes = (r: string) => (r.trim() === "max" ? "-1" : r.trim());
  const hugetlb = /^hugetlb\.(\d+[KMG]B)\.limit_in_bytes$/.exec(key);
  if (hugetlb) return raw(`hugetlb.${hugetlb[1]}.max`, bytesToMax, maxToBytes);
  switch (key) {
    case "memory.limit_in_bytes": return raw("memory.max", bytesToMax, maxToBytes);
    case "memory.soft_limit_in_bytes": return raw("memory.low", bytesToMax, maxToBytes);
    case "memory.memsw.limit_in_bytes":
      // v1 counts memory+swap; v2's memory.swap.max counts swap alone.
      return raw("memory.swap.max", (v) => {
        const total = parseBytes(v, key);
        if (total === -1) return "max";
        const mem = parseBytes(readControl(join(dir, "memory.max")).trim(), "memory.max");
        if (mem === -1) throw new CgroupError(`${key}: set memory.limit_in_bytes first; v2 needs it to derive memory.swap.max`);
        if (total < mem) throw new CgroupError(`${key}: ${total} is below the memory limit ${mem} (it counts memory+swap)`);
        return String(total - mem);
      }, (r) => {
        if (r.trim() === "max") return "-1";
        const mem = readControl(join(dir, "memory.max")).trim();
        return mem === "max" ? "-1" : String(Number(r) + Number(mem));
      });
    case "cpu.shares": return raw("cpu.weight", (v) => String(sharesToWeight(Number(validate(key, v)))), (r) => String(weightToShares(Number(r))));
    case "cpu.cfs_quota_us": return raw("cpu.max", (v) => {
      const q = Number(validate(key, v));
      return `${q < 0 ? "max" : q} ${cpuMaxParts(dir)[1]}`;
    }, (r) => { const q = r.trim().split(/\s+/)[0]; return q === "max" ? "-1" : q!; });
    case "cpu.cfs_period_us": return raw("cpu.max", (v) => `${cpuMaxParts(dir)[0]} ${validate(key, v)}`, (r) => r.trim().split(/\s+/)[1] ?? "");
    case "cpu.cfs_burst_us": return raw("cpu.max.burst");
    case "blkio.weight": return raw("io.weight", (v) => `default ${blkioWeightToIoWeight(Number(validate(key, v)))}`, (r) => r.trim());
    case "freezer.state": return raw("cgroup.freeze", (v) => {
      if (v === "FROZEN") return "1";
      if (v === "THAWED") return "0";
      throw new CgroupError(`freezer.state: ${JSON.stringify(v)} must be FROZEN or THAWED`);
    }, (r) => (r.trim() === "1" ? "FROZEN" : "THAWED"));
  }
  return undefined;
}

/**
 * Resolves KEY for a group whose controllers live where `find` says. Errors: malformed key,
 * unknown controller, controller not in this group, no such file.
 */
export function resolveKey(key: string, find: (c: string) => ControllerHome | undefined, unifiedDir: string | undefined, what: string): ResolvedKey {
  if (!/^[a-z_]+\.[A-Za-z0-9_.]+$/.test(key)) throw new CgroupError(`${JSON.stringify(key)} is not a control file name like memory.limit_in_bytes`);
  const controller = key.split(".")[0]!;
  const identity = { encode: (v: string) => validate(key, v), decode: (r: string) => r.trim() };
  if (controller === "cgroup") {
    const dir = unifiedDir ?? find("freezer")?.dir ?? find("memory")?.dir ?? find("cpu")?.dir ?? find("pids")?.dir;
    if (!dir) throw new CgroupError(`${what} has no directory to read ${key} from`);
    if (!exists(join(dir, key))) throw new CgroupError(`${key} does not exist in ${dir}`);
    return { file: join(dir, key), actual: key, ...identity };
  }
  if (!(KNOWN_CONTROLLERS as readonly string[]).includes(controller)) {
    throw new CgroupError(`unknown controller ${JSON.stringify(controller)} in ${key}; known controllers: ${KNOWN_CONTROLLERS.join(", ")}`);
  }
  // freezer.state on a v2-only group maps to cgroup.freeze; other controllers must be in the group.
  const home = find(controller) ?? (controller === "freezer" && unifiedDir ? { version: 2 as const, dir: unifiedDir } : undefined)
    ?? (controller === "blkio" ? find("io") : undefined);
  if (!home) throw new CgroupError(`${what} is not in the ${controller} controller (create it with -g ${controller}:NAME, if ${controller} is mounted here)`);
  const file = join(home.dir, key);
  if (exists(file)) return { file, actual: key, ...identity };
  if (home.version === 2) {
    const mapped = mapToV2(key, home.dir);
    if (mapped && exists(mapped.file)) {
      return { ...mapped, note: `cgroup v2 has no ${key}; using ${mapped.actual} (value converted)` };
    }
  }
  throw new CgroupError(`${key} does not exist in ${home.dir} (no such control file for cgroup v${home.version} on this kernel)`);
}
