// Shared by the monitor tests: build the binary, give each test its own temp dirs, and make sure
// no monitor or container process outlives its test (monitorFixture).
import { afterEach, beforeAll } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MONITOR_BINARY, spawnMonitor, type MonitorOptions } from "../../src/engine/monitor.ts";

const root = join(import.meta.dir, "../..");
export const BUSYBOX = "/bin/busybox";

export function buildMonitor(): string {
  if (!process.env.BERTH_MONITOR) execFileSync("make", ["-s", "-C", join(root, "native"), `OUT=${join(root, "build")}`, MONITOR_BINARY], { stdio: "inherit" });
  if (!existsSync(MONITOR_BINARY)) throw new Error("berth-monitor did not build");
  return MONITOR_BINARY;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "berth-monitor-test-"));
}

/** Sends SIGKILL to each pid still alive, then waits until it is gone. */
export async function killAll(pids: number[]): Promise<void> {
  for (const pid of pids) {
    try { process.kill(pid, "SIGKILL"); } catch {}
  }
  for (const pid of pids) await waitGone(pid);
}

export function alive(pid: number): boolean {
  try {
    // A zombie still answers kill(0); it is gone for our purposes.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export async function waitGone(pid: number, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > end) throw new Error(`process ${pid} is still running after ${ms} ms`);
    await Bun.sleep(10);
  }
}

export async function waitFor<T>(what: string, probe: () => T | undefined | null | false, ms = 10000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

export function parentOf(pid: number): number {
  const m = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : -1;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface DirectMonitor {
  dir: string;
  log: string;
  exit: string;
  pid: string;
  monitor: number;
  container: number;
}

export interface MonitorFixture {
  /** A fresh temp dir, removed after the test. */
  newDir(): string;
  /** Processes to SIGKILL (and wait for) after the test. */
  track(...pids: number[]): void;
  /** A direct-mode monitor running COMMAND, with its log, exit and pid files in DIR (a fresh one
   *  by default); both its pid and the container's are tracked. */
  direct(command: string[], extra?: Partial<MonitorOptions>, dir?: string): Promise<DirectMonitor>;
}

/** Call once at the top of a monitor test file: builds the monitor before its tests and cleans
 *  up after each one. */
export function monitorFixture(): MonitorFixture {
  let dirs: string[] = [];
  let pids: number[] = [];
  beforeAll(() => { buildMonitor(); });
  afterEach(async () => {
    await killAll(pids);
    pids = [];
    for (const dir of dirs) removeDir(dir);
    dirs = [];
  });
  const newDir = () => {
    const dir = tempDir();
    dirs.push(dir);
    return dir;
  };
  return {
    newDir,
    track: (...more) => { pids.push(...more); },
    async direct(command, extra = {}, dir = newDir()) {
      const files = { log: join(dir, "log"), exit: join(dir, "exit.json"), pid: join(dir, "pid") };
      const m = await spawnMonitor({ command, direct: true, pidFile: files.pid, logPath: files.log, exitFile: files.exit, ...extra });
      pids.push(m.pid);
      const container = Number(readFileSync(files.pid, "utf8"));
      pids.push(container);
      return { dir, ...files, monitor: m.pid, container };
    },
  };
}
