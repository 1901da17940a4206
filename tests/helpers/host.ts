// What this host's kernel offers, for tests that depend on it: a test adapts to the host or is
// skipped with the reason printed, and never fails because a machine lacks a kernel option.
//
//   test.skipIf(lacks(HOST.timeNamespaces, "time namespaces (CONFIG_TIME_NS)"))("…", () => { … });
import { existsSync, readFileSync } from "node:fs";

function readNumber(path: string): number | undefined {
  try {
    return Number(readFileSync(path, "utf8").trim());
  } catch {
    return undefined;
  }
}

export const HOST = {
  /** CONFIG_TIME_NS (Linux 5.6+). */
  timeNamespaces: existsSync("/proc/self/ns/time"),
  /** CONFIG_USER_NS, and not switched off with user.max_user_namespaces=0. */
  userNamespaces: existsSync("/proc/self/ns/user") && (readNumber("/proc/sys/user/max_user_namespaces") ?? 1) > 0,
  /** Swap accounting on a v1 memory controller (off with swapaccount=0 or without CONFIG_MEMCG_SWAP). */
  v1SwapAccounting: existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
  /** A v1 memory limit does not stop a process that can swap: swap is on and not accounted. */
  swapEscapesV1Limit: !existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") && existsSync("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    && /^SwapTotal:\s+[1-9]/m.test(readFileSync("/proc/meminfo", "utf8")),
  /** 2 MiB huge pages (x86-64 and most arm64 kernels; not every page-size configuration). */
  hugepages2MB: existsSync("/sys/kernel/mm/hugepages/hugepages-2048kB"),
  /** Subordinate ids of the user "berth" for --userns=auto (scripts/install-system-deps.sh adds them). */
  berthSubids: ["/etc/subuid", "/etc/subgid"].every((f) => existsSync(f) && /^berth:\d+:\d+$/m.test(readFileSync(f, "utf8"))),
};

const said = new Set<string>();

/** True (skip) when the host lacks `what`; says so once on stderr, so a skip is never silent. */
export function lacks(available: boolean, what: string): boolean {
  if (!available && !said.has(what)) {
    said.add(what);
    process.stderr.write(`skipped on this host: it has no ${what}\n`);
  }
  return !available;
}
