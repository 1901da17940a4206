// Docker's hardening defaults for containers Berth starts itself: masked and read-only procfs
// and sysfs paths, the default capability set, and rlimits that this host can actually grant.
import { readFileSync } from "node:fs";
import type { Rlimit } from "../oci/spec.ts";
import { DEFAULT_CAPABILITIES } from "./capabilities.ts";

export { DEFAULT_CAPABILITIES };

/** Hidden from the container (empty file or empty read-only directory): they leak host kernel
 *  memory, keys, timers, scheduling and hardware details. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
];

/** Visible but read-only: writing them changes the host (sysctls, sysrq, irq affinity). */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
];

export interface Limit { soft: number; hard: number }

const LIMIT_NAMES: Record<string, string> = {
  "Max cpu time": "RLIMIT_CPU", "Max file size": "RLIMIT_FSIZE", "Max data size": "RLIMIT_DATA",
  "Max stack size": "RLIMIT_STACK", "Max core file size": "RLIMIT_CORE", "Max resident set": "RLIMIT_RSS",
  "Max processes": "RLIMIT_NPROC", "Max open files": "RLIMIT_NOFILE", "Max locked memory": "RLIMIT_MEMLOCK",
  "Max address space": "RLIMIT_AS", "Max file locks": "RLIMIT_LOCKS", "Max pending signals": "RLIMIT_SIGPENDING",
  "Max msgqueue size": "RLIMIT_MSGQUEUE", "Max nice priority": "RLIMIT_NICE", "Max realtime priority": "RLIMIT_RTPRIO",
  "Max realtime timeout": "RLIMIT_RTTIME",
};

/** -1 stands for RLIM_INFINITY, as in the plan's `rlimit` record. */
function limitValue(text: string): number {
  return text === "unlimited" ? -1 : Number(text);
}

/** This process's limits, from /proc/self/limits (no FFI needed for a table the kernel prints). */
export function currentLimits(text = readFileSync("/proc/self/limits", "utf8")): Map<string, Limit> {
  const limits = new Map<string, Limit>();
  for (const line of text.split("\n").slice(1)) {
    const m = /^(.+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    const name = m && LIMIT_NAMES[m[1]!.trim()];
    if (!m || !name) continue;
    limits.set(name, { soft: limitValue(m[2]!), hard: limitValue(m[3]!) });
  }
  return limits;
}

/** min() where -1 means infinity. */
function atMost(value: number, ceiling: number): number {
  if (ceiling === -1) return value;
  if (value === -1) return ceiling;
  return Math.min(value, ceiling);
}

/** Open files: soft 1024 (select() users break above it), hard up to 1048576 like Docker's
 *  daemon — but never above the caller's hard limit: raising it needs CAP_SYS_RESOURCE, which
 *  the runtime may not have, and the container would then fail to start. */
export function defaultRlimits(limits: Map<string, Limit> = currentLimits()): Rlimit[] {
  const nofile = limits.get("RLIMIT_NOFILE") ?? { soft: 1024, hard: 1024 };
  const hard = atMost(1048576, nofile.hard);
  return [{ type: "RLIMIT_NOFILE", soft: atMost(1024, hard), hard }];
}
