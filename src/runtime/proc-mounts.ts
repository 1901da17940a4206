// runc's rule for mounts at or under /proc: a bind or tmpfs there could hide what the masked and
// read-only paths protect, so only proc itself may be mounted at /proc, and below it only the
// files lxcfs emulates. Shared by the plan and the engine (which refuses such a mount at create).
import { statfsSync } from "node:fs";

/** The /proc files that lxcfs and similar tools replace with a bind mount (runc's list). */
const ALLOWED_UNDER_PROC = new Set([
  "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime", "/proc/loadavg",
  "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid", "/proc/sys/crypto/fips_enabled",
]);

const PROC_SUPER_MAGIC = 0x9fa0;

/** True if path is on a proc filesystem (runc's isProc). */
function onProcfs(path: string): boolean {
  try {
    return statfsSync(path).type === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Why a mount of `type` at the normalized container path `dest` is refused, or undefined. With
 * `source`, a bind of a proc filesystem (the host's /proc, for a container that shares the host's
 * pid namespace) may go on /proc, as runc allows.
 */
export function procMountProblem(dest: string, type: string | undefined, source?: string): string | undefined {
  if (dest === "/proc") {
    if (type === "proc" || (type === "bind" && source !== undefined && onProcfs(source))) return undefined;
    return `"/proc" cannot be mounted because it is not of type proc`;
  }
  if (dest.startsWith("/proc/") && !ALLOWED_UNDER_PROC.has(dest)) return `"${dest}" cannot be mounted because it is inside /proc`;
  return undefined;
}
