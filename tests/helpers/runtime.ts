// Drives an OCI runtime from tests exactly as a user would: one process per command.
// By default that is bin/berth-runtime; BERTH_TEST_RUNTIME=runc (or any path) runs the same
// tests against another runtime, to check that the tests' expectations are fair.
//
//   const root = useStateRoot();                 // temp --root for this file, cleaned after each test
//   const r = runtime(root, ["run", "-b", bundle.dir, "c1"]);
//   expect(r.code).toBe(0);
import { isRunning } from "../../src/runtime/proc.ts";
import { afterAll, afterEach, setDefaultTimeout } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
export const RUNTIME = process.env.BERTH_TEST_RUNTIME || join(REPO, "bin/berth-runtime");
/** True when the tests drive berth-runtime itself (not runc/crun). */
export const IS_BERTH = !process.env.BERTH_TEST_RUNTIME;

export interface RunResult {
  /** Exit status; -1 when the runtime was killed (by timeoutMs). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Text fed to the runtime's stdin (default: /dev/null). */
  stdin?: string;
  /** Extra fds the runtime inherits as 3, 4, … (for --preserve-fds and fd-leak tests). */
  extraFds?: number[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

let outDir: string | undefined;
let outCount = 0;

function removeOutDir(): void {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
  outDir = undefined;
}

/**
 * Runs `RUNTIME --root ROOT ARGS…` and waits for it. Output goes through temp files rather than
 * pipes: a detached container inherits the runtime's stdout, and a pipe would keep the call
 * waiting for EOF until the container exits.
 */
export function runtime(root: string, args: string[], opts: RunOptions = {}): RunResult {
  if (!outDir) {
    outDir = mkdtempSync(join(tmpdir(), "berth-test-out-"));
    process.on("exit", removeOutDir); // for callers without useStateRoot
  }
  const base = join(outDir, String(outCount++));
  const out = openSync(`${base}.out`, "w+");
  const err = openSync(`${base}.err`, "w+");
  try {
    const r = Bun.spawnSync({
      cmd: [RUNTIME, "--root", root, ...args],
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: [opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin), out, err, ...(opts.extraFds ?? [])],
      timeout: opts.timeoutMs ?? 60_000,
    });
    return {
      code: r.exitCode ?? -1, // -1: killed by a signal (e.g. our timeout)
      stdout: readFileSync(`${base}.out`, "utf8"),
      stderr: readFileSync(`${base}.err`, "utf8"),
    };
  } finally {
    closeSync(out);
    closeSync(err);
    rmSync(`${base}.out`, { force: true });
    rmSync(`${base}.err`, { force: true });
  }
}

/** Like runtime(), but throws with the runtime's stderr unless it exits 0. */
export function ok(root: string, args: string[], opts: RunOptions = {}): RunResult {
  const r = runtime(root, args, opts);
  if (r.code !== 0) throw new Error(`${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r;
}

export interface RuntimeState {
  ociVersion: string;
  id: string;
  status: string;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** `state ID`, parsed; throws when the runtime fails. */
export function stateOf(root: string, id: string): RuntimeState {
  return JSON.parse(ok(root, ["state", id]).stdout) as RuntimeState;
}

/** IDs of every container the runtime knows under this root. */
export function containerIds(root: string): string[] {
  if (!existsSync(root)) return [];
  const r = runtime(root, ["list", "--format", "json"]);
  if (r.code !== 0) return [];
  const list = JSON.parse(r.stdout.trim() || "[]") as { id: string }[] | null;
  return (list ?? []).map((s) => s.id);
}

/**
 * Force-deletes every container under root (what afterEach does); throws if a deleted
 * container's state dir or cgroup survives, so a leak fails the test that caused it.
 */
export function deleteAll(root: string): void {
  const leaks: string[] = [];
  for (const id of containerIds(root)) {
    runtime(root, ["delete", "--force", id]);
    if (existsSync(join(root, id))) leaks.push(join(root, id));
    leaks.push(...cgroupLeftovers(id));
  }
  if (leaks.length) throw new Error(`delete --force left behind: ${leaks.join(", ")}`);
}

/**
 * A temp state root for this test file. Registers afterEach (force-delete every container left)
 * and afterAll (remove the root). Call once at the top level of a test file. Also raises the
 * per-test timeout to 60 s: a test runs several containers, and the machine may be busy.
 */
export function useStateRoot(): string {
  setDefaultTimeout(60_000);
  // Only named here: the runtime makes it on first use, so a file whose tests are all filtered
  // out (bun test -t) leaves nothing behind.
  const root = join(tmpdir(), `berth-test-root-${process.pid}-${crypto.randomUUID().slice(0, 8)}`);
  afterEach(() => deleteAll(root));
  afterAll(() => {
    try {
      deleteAll(root);
    } finally {
      rmSync(root, { recursive: true, force: true });
      removeOutDir();
    }
  });
  return root;
}

/** `run ID -b DIR` in the foreground: the container's output and exit status. */
export function runBundle(root: string, dir: string, opts: RunOptions & { id?: string } = {}): RunResult {
  return runtime(root, ["run", "-b", dir, opts.id ?? uniqueId()], opts);
}

/** A container ID unique to this run. */
export function uniqueId(prefix = "t"): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** The container's cgroup directories that still exist: berth's /berth/ID, or runc's /ID. */
export function cgroupLeftovers(id: string): string[] {
  const found: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-");
    if (sep < 0 || !["cgroup", "cgroup2"].includes(f[sep + 1]!)) continue;
    for (const d of [join(f[4]!, "berth", id), join(f[4]!, id)]) if (existsSync(d)) found.push(d);
  }
  return found;
}

/** Mount points in this (the host's) mount namespace at or below `path`. */
export function mountsUnder(path: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(Boolean)
    .map((l) => l.split(" ")[4]!.replace(/\\040/g, " "))
    .filter((m) => m === path || m.startsWith(path.endsWith("/") ? path : path + "/"));
}

/** True while a process with this pid exists and is not a zombie. */
export const processAlive = isRunning;

/** Polls until cond() holds; the deadline is generous (a hang guard, not a timing assertion). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await Bun.sleep(25);
  }
}

/** Reads a host file, or "" when it does not exist (yet). */
export function readOr(path: string, fallback = ""): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback;
  }
}

/** Undo actions run after each test, newest first: `const defer = useCleanups()` at the top of a
 *  test file, then `defer(() => …)` wherever a test makes something. */
export function useCleanups(): (fn: () => void) => void {
  const pending: (() => void)[] = [];
  afterEach(() => {
    while (pending.length) pending.pop()!();
  });
  return (fn) => void pending.push(fn);
}

/** Saves the bundle's config, runs it in the foreground, and returns its stdout; throws on failure. */
export function runOk(root: string, b: { dir: string; save(): void }): string {
  b.save();
  const r = runBundle(root, b.dir);
  if (r.code !== 0) throw new Error(`run exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}
