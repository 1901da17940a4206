// Shared bits for the cgroup tests: unique names, a leak check over every hierarchy, polling.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { discoverHierarchies } from "../../src/cgroups/index.ts";

export function uniqueName(prefix = "berth-test"): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Directories named `path` (absolute, below each hierarchy root) that still exist anywhere. */
export function leftovers(path: string): string[] {
  const h = discoverHierarchies();
  const roots = new Set([...h.v1.values()].map((m) => m.mountPoint));
  if (h.unified) roots.add(h.unified.mountPoint);
  return [...roots].map((r) => join(r, path)).filter((d) => existsSync(d));
}

/** Polls until cond() is true; fails with `what` after a generous deadline (not a timing assertion). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await Bun.sleep(20);
  }
}

export function procState(pid: number): string {
  const m = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m?.[1] ?? "?";
}

export interface CliResult { code: number; stdout: string; stderr: string }

/** Runs `berth cgroup ARGS…` in its own process, as a user would. */
export function cli(...args: string[]): CliResult {
  const r = Bun.spawnSync([process.execPath, join(import.meta.dir, "run-cgroup.ts"), ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? 128, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** A controller this kernel knows but this host has mounted nowhere (net_prio on many hosts, but
 *  not all: systemd's hybrid layout often mounts net_cls,net_prio); undefined when all are. */
export function unmountedController(): string | undefined {
  const h = discoverHierarchies();
  const served = (c: string) => h.v1.has(c) || h.v2Controllers.has(c) || ((c === "freezer" || c === "devices") && h.unified !== undefined);
  return ["net_prio", "net_cls", "rdma", "perf_event", "misc", "hugetlb"].find((c) => !served(c));
}
