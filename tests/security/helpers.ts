// Shared by the security tests: builds the static probe (tests/security/fixtures/probe.c) and
// the C-core driver once per test process, into a temp dir removed at exit.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { encodePlan, type PlanRecord } from "../../src/sys/plan-encoding.ts";

export const REPO = resolve(import.meta.dir, "../..");
const FIXTURES = join(REPO, "tests/security/fixtures");
const NATIVE = join(REPO, "native/init");

let built: { dir: string; probe: string; driver: string } | undefined;

function cc(args: string[]): void {
  const r = Bun.spawnSync(["cc", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`cc ${args.join(" ")} failed:\n${r.stderr.toString()}`);
}

/** Compiles once per test file; call removeFixtures() in afterAll. */
export function fixtures(): { dir: string; probe: string; driver: string } {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), "berth-sec-bin-"));
  chmodSync(dir, 0o755); // tests run the probe as unprivileged uids too
  const probe = join(dir, "probe");
  const driver = join(dir, "driver");
  try {
    cc(["-static", "-O2", "-o", probe, join(FIXTURES, "probe.c")]);
    cc(["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE", `-I${NATIVE}`, "-o", driver, join(FIXTURES, "driver.c"),
      join(NATIVE, "plan.c"), join(NATIVE, "caps.c"), join(NATIVE, "seccomp.c"), "-lseccomp"]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  built = { dir, probe, driver };
  return built;
}

export function removeFixtures(): void {
  if (built) rmSync(built.dir, { recursive: true, force: true });
  built = undefined;
}

export interface Ran {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
}

export function run(argv: string[], opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string | undefined> } = {}): Ran {
  const r = Bun.spawnSync(argv, { cwd: opts.cwd, env: opts.env, stdout: "pipe", stderr: "pipe", timeout: opts.timeoutMs ?? 30_000 });
  return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode, signal: r.signalCode == null ? null : String(r.signalCode) };
}

let planCount = 0;
/** Writes a plan into the fixtures dir and runs `probe ARGS` under the driver. */
export function underPlan(records: PlanRecord[], probeArgs: string[], opts: { uid?: number; nnp?: boolean; prepareBeforeFork?: boolean } = {}): Ran {
  const { dir, driver, probe } = fixtures();
  const path = join(dir, `plan-${process.pid}-${planCount++}`);
  writeFileSync(path, encodePlan(records));
  try {
    return run([driver, path, String(opts.uid ?? -1), opts.nnp ? "1" : "0", probe, ...probeArgs], {
      env: opts.prepareBeforeFork ? { ...process.env, DRIVER_PREPARE_BEFORE_FORK: "1" } : undefined,
    });
  } finally {
    rmSync(path, { force: true });
  }
}

/** syscall numbers the operator tests use (getpid ignores its arguments, so they are free to test). */
export const NR = {
  getpid: process.arch === "arm64" ? 172 : 39,
} as const;
