// The engine's side of berth-monitor (native/monitor): start one per container, detached, and
// read the outcome it records. The monitor outlives the berth command that started it.
import { existsSync, readFileSync, watch } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { BUILD_DIR } from "../sys/build-dir.ts";
import { isRunning, processStartTime } from "../sys/proc.ts";

/** Where `make -C native OUT=$PWD/build` puts the binary; BERTH_MONITOR names another build. */
export const MONITOR_BINARY = process.env.BERTH_MONITOR || join(BUILD_DIR, "berth-monitor");

export interface MonitorOptions {
  /** CMD and its arguments: the runtime's stage 0, or (direct) the container process itself. */
  command: string[];
  /** CMD is the container process: there is no runtime stage 0 and no pid file to read. */
  direct?: boolean;
  /** Runtime mode: the file stage 0 writes the container pid into. Direct mode: written by the monitor. */
  pidFile?: string;
  /** Runtime mode: how long the pid file may take to appear after stage 0 exited 0 (default 30000 ms). */
  pidFileWaitMs?: number;
  /** Container log (CRI line format, see logs.ts). */
  logPath?: string;
  /** Rotate the log to `<logPath>.1` before it grows past this many bytes. */
  logMaxBytes?: number;
  /** Written atomically when the container is gone; read it with readExitFile(). */
  exitFile?: string;
  /** The cgroup's memory.events (v2) or memory.oom_control (v1), read at exit for `oom_kill N`. */
  oomFile?: string;
  /** The oom_kill counter when the container started (its cgroup may be older than it). */
  oomBase?: number;
  /** Give the container a terminal instead of pipes. */
  tty?: boolean;
  ttySize?: { rows: number; cols: number };
  /** With tty: the runtime creates the pty inside the container and sends its master here. */
  consoleSocket?: string;
  /** Keep the container's stdin open so attach clients can write to it. */
  stdin?: boolean;
  /** Unix socket serving attach clients (protocol: logs.ts `attach`). */
  attachSocket?: string;
  /** Run after the exit file is written, detached, stdio on /dev/null: [absolute path, ...args]. */
  exitCommand?: string[];
  /** ...unless this file is gone or another process holds flock(2) on it. */
  exitCommandUnlessLocked?: string;
  /** Open fds handed to CMD as its fds 3, 4, … (e.g. the runtime's sync pipes). */
  passFds?: number[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Defaults to MONITOR_BINARY. */
  binary?: string;
}

export interface MonitorHandle {
  /** The monitor's pid (the container's parent). */
  pid: number;
}

/** The container could not be started; `message` is the monitor's (and stage 0's) explanation. */
export class MonitorStartError extends Error {
  constructor(message: string, readonly monitorExitCode: number | null) {
    super(message);
    this.name = "MonitorStartError";
  }
}

/** The options that are flags of the monitor (not how it is spawned). */
export type MonitorFlags = Omit<MonitorOptions, "command" | "passFds" | "cwd" | "env" | "binary">;

/** The monitor's flags for these options, without the ready fd and the command. */
export function monitorFlags(opts: MonitorFlags): string[] {
  if (!opts.direct && !opts.pidFile) throw new Error("berth-monitor: pidFile is required unless direct is set (stage 0 leaves the container's pid there)");
  const a: string[] = [];
  const opt = (name: string, value: string | number | undefined) => {
    if (value !== undefined) a.push(name, String(value));
  };
  // Absolute paths let the monitor leave the caller's working directory (see loop.c).
  const path = (name: string, value: string | undefined) => opt(name, value === undefined ? undefined : resolve(value));
  if (opts.direct) a.push("--direct");
  path("--pid-file", opts.pidFile);
  opt("--pid-wait", opts.pidFileWaitMs);
  path("--log", opts.logPath);
  opt("--log-max", opts.logMaxBytes);
  path("--exit-file", opts.exitFile);
  path("--oom-file", opts.oomFile);
  opt("--oom-base", opts.oomBase);
  if (opts.tty) a.push("--tty");
  if (opts.ttySize) opt("--tty-size", `${opts.ttySize.rows},${opts.ttySize.cols}`);
  path("--console-socket", opts.consoleSocket);
  if (opts.stdin) a.push("--stdin");
  path("--attach-socket", opts.attachSocket);
  if (opts.exitCommand && opts.exitCommand.length > 0) {
    const [program, ...args] = opts.exitCommand;
    opt("--exit-command", program);
    for (const arg of args) opt("--exit-command-arg", arg);
    path("--exit-command-unless-locked", opts.exitCommandUnlessLocked);
  }
  return a;
}

/** The monitor's whole argv after the binary, as spawnMonitor runs it. */
export function monitorArgs(opts: MonitorOptions): string[] {
  if (opts.command.length === 0) throw new Error("spawnMonitor: command is empty; give the program to run");
  const a = monitorFlags(opts);
  if (opts.passFds && opts.passFds.length > 0) a.push("--preserve-fds", String(opts.passFds.length));
  // fd 1 is the ready channel: one NUL byte when the container runs, else the error text.
  a.push("--ready-fd", "1", "--", ...opts.command);
  return a;
}

/**
 * The prefix for the runtime's `createContainer({ launcher })`: the monitor then runs
 * `berth-init create` as its child, passes the runtime's sync fds 3 and 4 through, and adopts the
 * container init when stage 0 exits. Give createContainer the same `pidFile` (it writes it).
 * Spawn it with stdio "ignore": the monitor makes the container's own pipes or pty.
 */
export function monitorLauncher(opts: MonitorFlags & { binary?: string }): string[] {
  if (opts.direct) throw new Error("monitorLauncher: a launcher runs the runtime's stage 0, so direct mode does not apply");
  return [opts.binary ?? MONITOR_BINARY, ...monitorFlags(opts), "--preserve-fds", "2", "--"];
}

/**
 * Starts a monitor for one container and resolves once the container is running (direct mode)
 * or created (runtime mode: stage 0 exited 0 and the pid file named the container init).
 * Rejects with MonitorStartError when it could not be started (the exit file, if asked for,
 * then also says so).
 */
export async function spawnMonitor(opts: MonitorOptions): Promise<MonitorHandle> {
  const binary = opts.binary ?? MONITOR_BINARY;
  if (!existsSync(binary)) {
    throw new Error(`berth-monitor not found at ${binary}; build the C core with \`make -C native OUT=$PWD/build\``);
  }
  const proc = Bun.spawn([binary, ...monitorArgs(opts)], {
    cwd: opts.cwd,
    env: opts.env,
    detached: true, // its own session: a ^C or hangup of berth's terminal does not reach it
    stdio: ["ignore", "pipe", "ignore", ...(opts.passFds ?? [])],
  });
  const ready = Buffer.from(await new Response(proc.stdout).arrayBuffer());
  if (ready.length === 1 && ready[0] === 0) {
    proc.unref();
    return { pid: proc.pid };
  }
  const code = await proc.exited;
  const text = ready.toString("utf8").trim();
  throw new MonitorStartError(text || `berth-monitor exited with status ${code} before the container started`, code);
}

/**
 * Whether the monitor of this run still lives (it will write the run's exit record, or has).
 * The row keeps only the monitor's pid, so a reused pid is told apart by its start time: the
 * monitor starts before the container's init (it runs stage 0), while a process that took the
 * pid after the monitor left started after the init did (the monitor outlives its init).
 */
export function monitorAlive(row: { monitorPid: number; pidStart: string }): boolean {
  if (row.monitorPid <= 0 || !isRunning(row.monitorPid)) return false;
  const started = processStartTime(row.monitorPid);
  if (!started || !/^\d+$/.test(row.pidStart)) return true;
  return BigInt(started) <= BigInt(row.pidStart);
}

/**
 * Whether a run's end is still being recorded: its init is gone but its monitor, which reaps it,
 * drains its output and then writes the exit record, has not written it yet. Until then the
 * record is the only truth about how the run ended: nobody may settle the container without it.
 */
export function exitPending(row: { monitorPid: number; pidStart: string }, exitFile: string): boolean {
  return !existsSync(exitFile) && monitorAlive(row);
}

export interface ExitRecord {
  /** The container's exit status; 128+signal when a signal ended it, -1 when never collected. */
  exitCode: number;
  signal: number | null;
  /** Present when an OOM file was given: true when the OOM killer struck in its cgroup. */
  oomKilled?: boolean;
  pid: number;
  startedAt: string;
  finishedAt: string;
  /** The container never ran; `error` says why. */
  startFailed?: boolean;
  error?: string;
}

function parseExitRecord(text: string, path: string): ExitRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`exit file ${path} is not valid JSON (${(e as Error).message}); remove it to reset the container state`);
  }
  const r = v as Partial<ExitRecord>;
  if (typeof v !== "object" || v === null || typeof r.exitCode !== "number" || typeof r.finishedAt !== "string"
    || (r.signal !== null && typeof r.signal !== "number")) {
    throw new Error(`exit file ${path} lacks exitCode/signal/finishedAt; it was not written by berth-monitor`);
  }
  return r as ExitRecord;
}

/** The recorded outcome, or null while the container has not exited (no exit file yet). */
export function readExitFile(path: string): ExitRecord | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  return parseExitRecord(text, path);
}

/**
 * Resolves with the exit record once the monitor wrote it. Watches the directory (the file
 * appears by rename), with a slow re-check in case an event is missed.
 */
export function waitExitFile(path: string, signal?: AbortSignal): Promise<ExitRecord> {
  return new Promise((resolve, reject) => {
    const name = basename(path);
    let timer: ReturnType<typeof setInterval> | undefined;
    let watcher: ReturnType<typeof watch> | undefined;
    const stop = () => {
      if (timer) clearInterval(timer);
      watcher?.close();
      signal?.removeEventListener("abort", onAbort);
    };
    const check = () => {
      try {
        const r = readExitFile(path);
        if (r) { stop(); resolve(r); }
      } catch (e) {
        stop();
        reject(e);
      }
    };
    const onAbort = () => { stop(); reject(signal?.reason ?? new Error("aborted")); };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort);
    watcher = watch(dirname(path), (_event, file) => { if (file === null || file === name) check(); });
    timer = setInterval(check, 1000);
    check();
  });
}
