// runc's rule for mounts at or under /proc: a bind or tmpfs there could hide what the masked and
// read-only paths protect, so only proc itself may be mounted at /proc, and below it only the
// files lxcfs emulates. Shared by the plan and the engine (which refuses such a mount at create).

/** The /proc files that lxcfs and similar tools replace with a bind mount (runc's list). */
const ALLOWED_UNDER_PROC = new Set([
  "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps", "/proc/uptime", "/proc/loadavg",
  "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid", "/proc/sys/crypto/fips_enabled",
]);

/** Why a mount of `type` at the normalized container path `dest` is refused, or undefined. */
export function procMountProblem(dest: string, type: string | undefined): string | undefined {
  if (dest === "/proc") return type === "proc" ? undefined : `"/proc" cannot be mounted because it is not of type proc`;
  if (dest.startsWith("/proc/") && !ALLOWED_UNDER_PROC.has(dest)) return `"${dest}" cannot be mounted because it is inside /proc`;
  return undefined;
}
