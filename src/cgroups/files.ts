// Reading and writing cgroup control files. Every failure names the file and says what the kernel
// meant, because a bare EINVAL from a write under /sys/fs/cgroup tells a user nothing.
import { readFileSync, writeFileSync, existsSync } from "node:fs";

export class CgroupError extends Error {
  override name = "CgroupError";
  /** Which rule refused a value, for a caller that words it its own way (resources.ts RULES). */
  constructor(message: string, readonly rule?: string) {
    super(message);
  }
}

function errnoCode(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? "";
}

/** What a failed write to a control file means, in words. */
function explainWrite(code: string, file: string, value: string): string {
  switch (code) {
    case "EINVAL": return `the kernel rejected ${JSON.stringify(value)} for ${file} (invalid value or out of range)`;
    case "EBUSY": return `the kernel refused ${JSON.stringify(value)} for ${file}: resource busy (e.g. a limit below current usage, or the group has processes/children)`;
    case "ENOENT": return `${file} does not exist (controller not enabled or not supported by this kernel)`;
    case "EACCES": case "EPERM": return `permission denied writing ${file} (need root, or the parent forbids it)`;
    case "ENOSPC": return `no space: ${file} rejected ${JSON.stringify(value)} (e.g. empty cpuset, or too many cgroups)`;
    case "EOPNOTSUPP": case "ENOTSUP":
      return `${file} refused ${JSON.stringify(value)}: not supported here${file.includes("bfq") ? " (the device's I/O scheduler is not BFQ; see /sys/block/DEV/queue/scheduler)" : ""}`;
    case "ESRCH": return `no such process: ${JSON.stringify(value)} for ${file}`;
    default: return `cannot write ${JSON.stringify(value)} to ${file}: ${code || "unknown error"}`;
  }
}

export function writeControl(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch (e) {
    const err = new CgroupError(explainWrite(errnoCode(e), file, value));
    (err as { code?: string }).code = errnoCode(e);
    throw err;
  }
}

export function readControl(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    const code = errnoCode(e);
    if (code === "ENOENT") throw new CgroupError(`${file} does not exist (controller not enabled, or the cgroup is gone)`);
    throw new CgroupError(`cannot read ${file}: ${code || String(e)}`);
  }
}

/** Reads a control file, or returns undefined when it does not exist (optional counters). */
export function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Parses a number as the kernel prints it; "max" and v1's huge "unlimited" become -1. */
export function parseCount(text: string | undefined): number {
  if (text === undefined) return 0;
  const t = text.trim();
  if (t === "max" || t === "") return t === "max" ? -1 : 0;
  const n = Number(t);
  if (!Number.isFinite(n)) return 0;
  // v1 prints "no limit" as PAGE_COUNTER_MAX * PAGE_SIZE (≈ 2^63); report it as unlimited.
  return n >= 2 ** 62 ? -1 : n;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, …) as a map. */
export function parseFlatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? "").split("\n")) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined) out[key] = Number(value);
  }
  return out;
}

export const exists = existsSync;
