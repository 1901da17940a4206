// The container verbs of `berth`: run, create, start, stop, restart, kill, rm, ps, logs, exec,
// attach, wait, inspect, top, port, rename, pause, unpause, container prune. Parsing and printing
// only; the work is in src/engine.
import { statSync } from "node:fs";
import { trace } from "../../sys/trace.ts";
import { writeFully, type Io } from "./io.ts";
import type { Engine, ContainerView } from "../../engine/engine.ts";
import type { CreateRequest } from "../../engine/config.ts";
import { EngineError, UsageError } from "../../engine/errors.ts";
import { parseDetachKeys, parseSignal, parseInteger } from "../../engine/options.ts";
import { inspectObject, psObject } from "../../engine/inspect.ts";
import type { AttachSession } from "../../engine/logs.ts";
import { listContainers, parseContainerFilters, pruneContainers } from "../../engine/containers.ts";
import { type Command, type Parsed, bool, int, list, str, verb } from "./args.ts";
import { formatRows, humanSize, table } from "./format.ts";

export type { Io, Command };
export { writeFully };

// Loaded by the verbs that stream a container's output (run, start -a, attach, logs), not by ps & co.
const logsModule = () => import("../../engine/logs.ts");

// The resource flags create/run and update share (docker's words for both).
const MEMORY = str("memory", "m", "Memory limit", "bytes");
const MEMORY_SWAP = str("memory-swap", undefined, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", "bytes");
const CPUS = str("cpus", undefined, "Number of CPUs", "decimal");
const CPU_SHARES = str("cpu-shares", "c", "CPU shares (relative weight)", "int");
const PIDS_LIMIT = str("pids-limit", undefined, "Tune container pids limit (set -1 for unlimited)", "int");

export const CREATE_FLAGS = [
  bool("interactive", "i", "Keep STDIN open even if not attached"),
  bool("tty", "t", "Allocate a pseudo-TTY"),
  str("name", undefined, "Assign a name to the container"),
  list("env", "e", "Set environment variables"),
  list("env-file", undefined, "Read in a file of environment variables"),
  str("workdir", "w", "Working directory inside the container"),
  str("user", "u", "Username or UID (format: <name|uid>[:<group|gid>])"),
  str("hostname", "h", "Container host name"),
  str("domainname", undefined, "Container NIS domain name"),
  str("entrypoint", undefined, "Overwrite the default ENTRYPOINT of the image"),
  list("volume", "v", "Bind mount a volume (HOST:CTR[:MODES] or NAME:CTR[:MODES]; MODES: ro, rw, nocopy, rshared, rslave…)"),
  list("tmpfs", undefined, "Mount a tmpfs directory (PATH[:OPTIONS])"),
  bool("read-only", undefined, "Mount the container's root filesystem as read only"),
  MEMORY, MEMORY_SWAP, CPUS, CPU_SHARES, PIDS_LIMIT,
  str("cpu-quota", undefined, "Limit CPU CFS (Completely Fair Scheduler) quota", "int"),
  str("cpu-period", undefined, "Limit CPU CFS (Completely Fair Scheduler) period", "int"),
  str("cpuset-cpus", undefined, "CPUs in which to allow execution (0-3, 0,1)", "string"),
  str("cpuset-mems", undefined, "MEMs in which to allow execution (0-3, 0,1)", "string"),
  str("memory-reservation", undefined, "Memory soft limit", "bytes"),
  str("kernel-memory", undefined, "Kernel memory limit (refused: the kernel has no such limit)", { value: "bytes", hidden: true }),
  bool("oom-kill-disable", undefined, "Disable OOM Killer"),
  str("oom-score-adj", undefined, "Tune host's OOM preferences (-1000 to 1000)", "int"),
  str("blkio-weight", undefined, "Block IO (relative weight), between 10 and 1000, or 0 to disable", "uint16"),
  list("device-read-bps", undefined, "Limit read rate (bytes per second) from a device", "list"),
  list("device-write-bps", undefined, "Limit write rate (bytes per second) to a device", "list"),
  list("device-read-iops", undefined, "Limit read rate (IO per second) from a device", "list"),
  list("device-write-iops", undefined, "Limit write rate (IO per second) to a device", "list"),
  str("cgroup-parent", undefined, "Optional parent cgroup for the container", "string"),
  list("device", undefined, "Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS])", "list"),
  list("device-cgroup-rule", undefined, "Add a rule to the cgroup allowed devices list ('c 42:* rmw')", "list"),
  list("ulimit", undefined, "Ulimit options (NAME=SOFT[:HARD])", "ulimit"),
  str("shm-size", undefined, "Size of /dev/shm", "bytes"),
  list("group-add", undefined, "Add additional groups to join", "list"),
  list("mount", undefined, "Attach a filesystem mount to the container (type=bind|volume|tmpfs,src=…,dst=…)", "mount"),
  str("cidfile", undefined, "Write the container ID to the file", "string"),
  list("cap-add", undefined, "Add Linux capabilities"),
  list("cap-drop", undefined, "Drop Linux capabilities"),
  bool("privileged", undefined, "Give extended privileges to this container"),
  list("security-opt", undefined, "Security Options (seccomp=FILE|unconfined, no-new-privileges)"),
  str("userns", undefined, "User namespace to use: host (default), auto[:size=N] (a range of berth's subordinate ids of its own)"),
  list("uidmap", undefined, "UID map for a user namespace of its own (CONTAINER_ID:HOST_ID:SIZE)"),
  list("gidmap", undefined, "GID map for a user namespace of its own (CONTAINER_ID:HOST_ID:SIZE)"),
  str("pid", undefined, "PID namespace to use (host, container:NAME)"),
  str("ipc", undefined, "IPC mode to use (private, shareable, none, host, container:NAME)"),
  str("uts", undefined, "UTS namespace to use (host)"),
  str("cgroupns", undefined, "Cgroup namespace to use (host, private)"),
  str("restart", undefined, "Restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)"),
  bool("init", undefined, "Run an init inside the container that forwards signals and reaps processes"),
  list("label", "l", "Set meta data on a container"),
  list("label-file", undefined, "Read in a line delimited file of labels"),
  str("network", undefined, "Connect a container to a network (none, host, bridge or NAME)"),
  str("net", undefined, "Alias of --network"),
  list("network-alias", undefined, "Add network-scoped alias for the container"),
  str("ip", undefined, "IPv4 address (e.g., 172.30.100.104) on the user network given with --network"),
  list("publish", "p", "Publish a container's port(s) to the host"),
  bool("publish-all", "P", "Publish all exposed ports to random ports"),
  list("add-host", undefined, "Add a custom host-to-IP mapping (host:ip)"),
  list("dns", undefined, "Set custom DNS servers"),
  list("log-opt", undefined, "Log driver options (max-size=10m)"),
  str("stop-signal", undefined, "Signal to stop the container"),
  str("stop-timeout", undefined, "Timeout (in seconds) to stop a container", "int"),
  list("sysctl", undefined, "Sysctl options"),
  bool("rm", undefined, "Automatically remove the container when it exits"),
  str("health-cmd", undefined, "Command to run to check health"),
  str("health-interval", undefined, "Time between running the check (ms|s|m|h) (default 0s)", "duration"),
  str("health-timeout", undefined, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)", "duration"),
  str("health-start-period", undefined, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)", "duration"),
  str("health-retries", undefined, "Consecutive failures needed to report unhealthy", "int"),
  bool("no-healthcheck", undefined, "Disable any container-specified HEALTHCHECK"),
  str("pull", undefined, 'Pull image before running ("always", "missing", "never")', { default: "missing" }),
  str("platform", undefined, "Set platform if the image is pulled from a multi-platform index (OS/ARCH[/VARIANT])"),
] as const;

/** The engine's CreateRequest from run's and create's flags: the one place they are read. */
export function createRequest(p: Parsed<(typeof CREATE_FLAGS)[number]>): CreateRequest {
  const [image, ...args] = p.args;
  if (!image) throw new UsageError("an image is required");
  return {
    image, args, pull: p.get("pull") as CreateRequest["pull"], platform: p.get("platform"), name: p.get("name"), entrypoint: p.get("entrypoint"), env: p.get("env"), envFiles: p.get("env-file"),
    workdir: p.get("workdir"), user: p.get("user"), hostname: p.get("hostname"), domainname: p.get("domainname"),
    tty: p.get("tty"), interactive: p.get("interactive"), rm: p.get("rm"), restart: p.get("restart"),
    labels: p.get("label"), labelFiles: p.get("label-file"), volumes: p.get("volume"), tmpfs: p.get("tmpfs"),
    readOnly: p.get("read-only"), memory: p.get("memory"), memorySwap: p.get("memory-swap"), cpus: p.get("cpus"),
    cpuShares: p.get("cpu-shares"), pidsLimit: p.get("pids-limit"), capAdd: p.get("cap-add"), capDrop: p.get("cap-drop"),
    privileged: p.get("privileged"), securityOpt: p.get("security-opt"), init: p.get("init"),
    network: p.get("network") ?? p.get("net"), networkAliases: p.get("network-alias"), ip: p.get("ip"), publish: p.get("publish"), stopSignal: p.get("stop-signal"),
    stopTimeout: p.get("stop-timeout"), userns: p.get("userns"), uidmap: p.get("uidmap"), gidmap: p.get("gidmap"), pid: p.get("pid"), ipc: p.get("ipc"), uts: p.get("uts"), cgroupns: p.get("cgroupns"), sysctls: p.get("sysctl"),
    publishAll: p.get("publish-all"), addHosts: p.get("add-host"), dns: p.get("dns"), logOpts: p.get("log-opt"),
    cpuQuota: p.get("cpu-quota"), cpuPeriod: p.get("cpu-period"), cpusetCpus: p.get("cpuset-cpus"), cpusetMems: p.get("cpuset-mems"),
    memoryReservation: p.get("memory-reservation"), kernelMemory: p.get("kernel-memory"), oomKillDisable: p.get("oom-kill-disable"),
    oomScoreAdj: p.get("oom-score-adj"), blkioWeight: p.get("blkio-weight"), deviceReadBps: p.get("device-read-bps"),
    deviceWriteBps: p.get("device-write-bps"), deviceReadIops: p.get("device-read-iops"), deviceWriteIops: p.get("device-write-iops"),
    cgroupParent: p.get("cgroup-parent"), devices: p.get("device"), deviceCgroupRules: p.get("device-cgroup-rule"),
    ulimits: p.get("ulimit"), shmSize: p.get("shm-size"), groupAdd: p.get("group-add"), mounts: p.get("mount"), cidfile: p.get("cidfile"),
    health: {
      cmd: p.get("health-cmd"), interval: p.get("health-interval"), timeout: p.get("health-timeout"),
      startPeriod: p.get("health-start-period"), retries: p.get("health-retries"), disable: p.get("no-healthcheck"),
    },
  };
}

/** A pull that run/create start reports on stderr, as docker does (the display module loads on the first event). */
function pullReporter(): (e: { id?: string; status: string; current?: number; total?: number }) => void {
  let display: { event: (e: { id?: string; status: string; current?: number; total?: number }) => void } | null = null;
  return (e) => {
    display ??= (require("./progress.ts") as typeof import("./progress.ts")).pullDisplay("err");
    display.event(e);
  };
}

// bun:ffi only for the verbs that attach a terminal (run, start -a, attach).
const isTerminal = (fd: number): boolean => (require("../../engine/tty.ts") as typeof import("../../engine/tty.ts")).isTerminal(fd);

function terminalSize(): { height: number; width: number } | undefined {
  if (!isTerminal(1)) return undefined;
  return { height: process.stdout.rows || 24, width: process.stdout.columns || 80 };
}

/**
 * Connects the caller's terminal or pipes to the container through the monitor's attach socket:
 * output to our stdout/stderr, our stdin (with -i) to the container, raw mode and resizes with -t.
 */
interface Attached {
  session: AttachSession;
  /** Bytes of output received over the socket. */
  received: () => number;
  /** The user typed the detach keys (ctrl-p ctrl-q): the session ended, the container runs on. */
  detached: () => boolean;
  done: () => void;
}

/** docker's default detach keys: ctrl-p ctrl-q. */
const DEFAULT_DETACH_KEYS = [0x10, 0x11];

/** How a client attaches: stdin or not, which output streams (-a), which keys detach. */
interface AttachHow {
  withStdin: boolean;
  /** -a stdout/stderr: the output streams shown (default both). */
  streams?: ReadonlySet<string>;
  /** --detach-keys, as bytes (default ctrl-p ctrl-q). */
  detachKeys?: number[];
}

/**
 * Finds the detach sequence in what the user types, across reads: bytes that may start it are
 * held back until it is complete (detach) or broken (they go to the container after all).
 */
function detachMatcher(keys: readonly number[]): (d: Buffer) => { out: Buffer; detach: boolean } {
  let held = 0;
  return (d) => {
    const out: number[] = [];
    for (const byte of d) {
      if (byte === keys[held]) {
        held++;
        if (held === keys.length) return { out: Buffer.from(out), detach: true };
        continue;
      }
      out.push(...keys.slice(0, held));
      // (a one-key sequence never gets here: its key matched above)
      held = byte === keys[0] ? 1 : 0;
      if (held === 0) out.push(byte);
    }
    return { out: Buffer.from(out), detach: false };
  };
}

async function attachStdio(engine: Engine, view: ContainerView, how: AttachHow): Promise<Attached> {
  const withStdin = how.withStdin;
  const tty = view.row.config.tty;
  let received = 0;
  let detached = false;
  trace("attach: begin");
  const { attach } = await logsModule();
  trace("attach: module");
  const session = await attach(engine.paths.attachSocket(view.row.id), {
    tty,
    onOutput: (stream, data) => {
      received += data.length;
      // -a: a stream not asked for is not shown (on a terminal, both arrive as one stream).
      if (how.streams && !tty && !how.streams.has(stream)) return;
      writeFully(stream === "stderr" ? 2 : 1, data);
    },
  });
  const cleanups: (() => void)[] = [];
  if (withStdin) {
    const stdin = process.stdin;
    if (tty && stdin.isTTY) {
      stdin.setRawMode(true);
      cleanups.push(() => stdin.setRawMode(false));
    }
    // docker's detach keys on a terminal (default ctrl-p ctrl-q) leave the container running.
    const match = detachMatcher(how.detachKeys ?? DEFAULT_DETACH_KEYS);
    const onData = (d: Buffer) => {
      if (!tty) return session.write(d);
      const { out, detach } = match(d);
      if (out.length) session.write(out);
      if (detach) { detached = true; session.detach(); }
    };
    const onEnd = () => { if (!tty) session.closeStdin(); };
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    cleanups.push(() => { stdin.off("data", onData); stdin.off("end", onEnd); stdin.pause(); });
  }
  if (tty && isTerminal(1)) {
    const resize = () => session.resize(process.stdout.rows || 24, process.stdout.columns || 80);
    resize();
    process.on("SIGWINCH", resize);
    cleanups.push(() => process.off("SIGWINCH", resize));
  }
  return { session, received: () => received, detached: () => detached, done: () => { for (const c of cleanups) c(); } };
}

/** docker run's sig-proxy: INT/TERM/HUP/QUIT to the foreground berth go to the container. */
function proxySignals(engine: Engine, id: string): () => void {
  const handlers: [NodeJS.Signals, () => void][] = (["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const).map((sig) => [sig, () => {
    try { engine.kill(id, parseSignal(sig)); } catch { /* already gone */ }
  }]);
  for (const [sig, h] of handlers) process.on(sig, h);
  return () => { for (const [sig, h] of handlers) process.off(sig, h); };
}

/** Bytes in a container's log (0 when there is none): a silent container needs no replay. */
function logSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export async function runForeground(engine: Engine, id: string, how: AttachHow & { sigProxy?: boolean }, removeOnFailure: boolean): Promise<number> {
  let attached: Attached | undefined;
  let unproxy = () => {};
  let startedNs = 0n;
  try {
    const code = await engine.runAttached(id, {
      foreground: true,
      consoleSize: terminalSize(),
      beforeStart: async (row) => {
        startedNs = BigInt(Date.now() - 1000) * 1_000_000n;
        attached = await attachStdio(engine, engine.observe(row), how);
        trace("start: stdio attached");
        if (!row.config.tty && how.sigProxy !== false) unproxy = proxySignals(engine, id);
      },
      untilExit: async () => {
        await attached?.session.closed;
        if (attached?.detached()) return "detached";
        // The monitor may accept our connection only after the first output went by (under
        // load); then nothing came over the socket, and the log has it all.
        if (attached && attached.received() === 0 && logSize(engine.paths.log(id)) > 0) {
          const { writeLogs } = await logsModule();
          await writeLogs(engine.paths.log(id), { since: startedNs }, { stdout: (d) => writeFully(1, d), stderr: (d) => writeFully(2, d) });
        }
        return "exited";
      },
    });
    if (code === "detached") {
      process.stderr.write("\r\n");
      return 0;
    }
    return code;
  } catch (e) {
    if (removeOnFailure) await engine.remove(id, { force: true, volumes: true }).catch(() => {});
    throw e;
  } finally {
    attached?.done();
    unproxy();
  }
}

const DETACH_KEYS = str("detach-keys", undefined, "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)", "string");

function detachKeysOf(value: string | undefined): { detachKeys?: number[] } {
  return value === undefined ? {} : { detachKeys: parseDetachKeys(value) };
}

/** -a/--attach: docker's stream names, any case. */
function attachStreams(list: string[]): Set<string> | undefined {
  if (list.length === 0) return undefined;
  return new Set(list.map((s) => {
    const v = s.toLowerCase();
    if (!["stdin", "stdout", "stderr"].includes(v)) throw new UsageError(`invalid argument "${s}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
    return v;
  }));
}

const run = verb({
  name: "run", usage: "run [OPTIONS] IMAGE [COMMAND] [ARG...]", summary: "Create and run a new container from an image",
  flags: [
    bool("detach", "d", "Run container in background and print container ID"), ...CREATE_FLAGS,
    list("attach", "a", "Attach to STDIN, STDOUT or STDERR"),
    bool("sig-proxy", undefined, "Proxy received signals to the process", { default: true }),
    DETACH_KEYS,
  ], stopAtPositional: true, minArgs: 1,
}, async (engine, p, io) => {
  const detach = p.get("detach");
  const streams = attachStreams(p.get("attach"));
  if (detach && streams) throw new UsageError("Conflicting options: -a and -d");
  // -a without stdin: the container's stdin is not the caller's, even with -i.
  const how = { withStdin: p.get("interactive") && (!streams || streams.has("stdin")), ...(streams ? { streams } : {}), sigProxy: p.get("sig-proxy"), ...detachKeysOf(p.get("detach-keys")) };
  const req = createRequest(p);
  const row = await engine.create(req, { forRun: true, onPull: pullReporter() });
  if (detach) {
    try {
      await engine.start(row.id);
    } catch (e) {
      await engine.remove(row.id, { force: true, volumes: true }).catch(() => {});
      throw e;
    }
    io.out(`${row.id}\n`);
    return 0;
  }
  return runForeground(engine, row.id, how, true);
});

const create = verb({ name: "create", usage: "create [OPTIONS] IMAGE [COMMAND] [ARG...]", summary: "Create a new container", flags: CREATE_FLAGS, stopAtPositional: true, minArgs: 1 }, async (engine, p, io) => {
  const row = await engine.create(createRequest(p), { onPull: pullReporter() });
  io.out(`${row.id}\n`);
  return 0;
});

const start = verb({
  name: "start", usage: "start [OPTIONS] CONTAINER [CONTAINER...]", summary: "Start one or more stopped containers",
  flags: [bool("attach", "a", "Attach STDOUT/STDERR and forward signals"), bool("interactive", "i", "Attach container's STDIN"), bool("all", undefined, "Start every container whose restart policy is always or unless-stopped (at boot)"), DETACH_KEYS],
}, async (engine, p, io) => {
  if (p.get("all")) {
    const r = await engine.startAll();
    for (const n of r.started) io.out(`${n}\n`);
    for (const f of r.failed) io.err(`Error response from daemon: ${f.name}: ${f.error}\n`);
    return r.failed.length ? 1 : 0;
  }
  if (p.args.length === 0) throw new UsageError(`"berth start" requires at least 1 argument.\nSee 'berth start --help'.`);
  if (p.get("attach") || p.get("interactive")) {
    if (p.args.length > 1) throw new UsageError("you cannot start and attach multiple containers at once");
    const row = engine.find(p.args[0]!);
    return runForeground(engine, row.id, { withStdin: p.get("interactive"), ...detachKeysOf(p.get("detach-keys")) }, false);
  }
  let failed = 0;
  for (const ref of p.args) {
    try {
      await engine.start(ref);
      io.out(`${ref}\n`);
    } catch (e) {
      failed++;
      io.err(`Error response from daemon: ${(e as Error).message}\n`);
      if (e instanceof EngineError && p.args.length === 1) throw e;
    }
  }
  if (failed) io.err(`Error: failed to start containers: ${p.args.join(", ")}\n`);
  return failed ? 1 : 0;
});

/** Applies fn to each CONTAINER argument; docker prints each ref on success and errors per ref. */
async function each(p: { readonly args: string[] }, io: Io, fn: (ref: string) => Promise<void> | void, print = true): Promise<number> {
  let failed = 0;
  for (const ref of p.args) {
    try {
      await fn(ref);
      if (print) io.out(`${ref}\n`);
    } catch (e) {
      failed++;
      io.err(`Error response from daemon: ${(e as Error).message}\n`);
    }
  }
  return failed ? 1 : 0;
}

const stop = verb({ name: "stop", usage: "stop [OPTIONS] CONTAINER [CONTAINER...]", summary: "Stop one or more running containers", flags: [int("time", "t", "Seconds to wait before killing the container", { min: -1 }), str("signal", "s", "Signal to send to the container")], minArgs: 1 }, async (engine, p, io) => {
  const timeout = p.get("time");
  return each(p, io, async (ref) => { await engine.stop(ref, timeout); });
});

const restart = verb({ name: "restart", usage: "restart [OPTIONS] CONTAINER [CONTAINER...]", summary: "Restart one or more containers", flags: [int("time", "t", "Seconds to wait before killing the container", { min: -1 })], minArgs: 1 }, async (engine, p, io) => {
  const timeout = p.get("time");
  return each(p, io, async (ref) => {
    const row = await engine.stop(ref, timeout);
    await engine.start(row.id);
  });
});

const killCmd = verb({ name: "kill", usage: "kill [OPTIONS] CONTAINER [CONTAINER...]", summary: "Kill one or more running containers", flags: [str("signal", "s", "Signal to send to the container")], minArgs: 1 }, async (engine, p, io) => {
  const sig = parseSignal(p.get("signal") ?? "KILL");
  return each(p, io, (ref) => { engine.kill(ref, sig); });
});

const rm = verb({
  name: "rm", usage: "rm [OPTIONS] CONTAINER [CONTAINER...]", summary: "Remove one or more containers",
  flags: [bool("force", "f", "Force the removal of a running container (uses SIGKILL)"), bool("volumes", "v", "Remove anonymous volumes associated with the container")], minArgs: 1,
}, async (engine, p, io) => {
  return each(p, io, async (ref) => { await engine.remove(ref, { force: p.get("force"), volumes: p.get("volumes") }); });
});

const ps = verb({
  name: "ps", usage: "ps [OPTIONS]", summary: "List containers", maxArgs: 0,
  flags: [bool("all", "a", "Show all containers (default shows just running)"), bool("quiet", "q", "Only display container IDs"), list("filter", "f", "Filter output based on conditions provided"),
    str("format", undefined, "Format output using a custom template"), bool("no-trunc", undefined, "Don't truncate output"), int("last", "n", "Show n last created containers (includes all states)", { default: -1, min: -1 }), bool("latest", "l", "Show the latest created container (includes all states)")],
}, async (engine, p, io) => {
  const views = listContainers(engine, { all: p.get("all"), last: p.get("latest") ? 1 : p.get("last"), filters: parseContainerFilters(p.get("filter")) });
  const noTrunc = p.get("no-trunc");
  if (p.get("quiet")) {
    io.out(views.map((v) => (noTrunc ? v.row.id : v.row.id.slice(0, 12)) + "\n").join(""));
    return 0;
  }
  // A random host port (-p 80, -P) is known only from the network's bindings.
  for (const v of views) {
    if (v.running && v.row.config.publish.some((x) => x.hostPort === 0 || x.hostPortEnd)) v.row.config.publish = await engine.publishedPorts(v.row);
  }
  const objs = views.map((v) => psObject(v, noTrunc));
  const format = p.get("format");
  if (format) {
    io.out(formatRows(format, objs));
    return 0;
  }
  io.out(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
    objs.map((o) => [o.ID, o.Image, o.Command, o.RunningFor, o.Status, o.Ports, o.Names].map(String))));
  return 0;
});

const logs = verb({
  name: "logs", usage: "logs [OPTIONS] CONTAINER", summary: "Fetch the logs of a container", minArgs: 1, maxArgs: 1,
  flags: [bool("follow", "f", "Follow log output"), str("tail", "n", "Number of lines to show from the end of the logs", { default: "all" }), bool("timestamps", "t", "Show timestamps"),
    str("since", undefined, "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)"), str("until", undefined, "Show logs before a timestamp or relative time")],
}, async (engine, p) => {
  const [{ parseSince }, { containerLogs }] = await Promise.all([logsModule(), import("../../engine/container-logs.ts")]);
  const tailArg = p.get("tail"), since = p.get("since"), until = p.get("until");
  const ac = new AbortController();
  const onInt = () => ac.abort();
  process.on("SIGINT", onInt);
  try {
    await containerLogs(engine, {
      container: p.args[0]!, follow: p.get("follow"), timestamps: p.get("timestamps"), signal: ac.signal,
      tail: tailArg === "all" ? undefined : parseInteger(tailArg, "-n, --tail", -1),
      since: since === undefined ? undefined : parseSince(since),
      until: until === undefined ? undefined : parseSince(until),
    }, { stdout: (d) => writeFully(1, d), stderr: (d) => writeFully(2, d) });
  } finally {
    process.off("SIGINT", onInt);
  }
  return 0;
});

const exec = verb({
  name: "exec", usage: "exec [OPTIONS] CONTAINER COMMAND [ARG...]", summary: "Execute a command in a running container", stopAtPositional: true, minArgs: 2,
  flags: [bool("detach", "d", "Detached mode: run command in the background"), bool("interactive", "i", "Keep STDIN open even if not attached"), bool("tty", "t", "Allocate a pseudo-TTY"),
    list("env", "e", "Set environment variables"), list("env-file", undefined, "Read in a file of environment variables"), str("user", "u", "Username or UID (format: <name|uid>[:<group|gid>])"),
    str("workdir", "w", "Working directory inside the container"), bool("privileged", undefined, "Give extended privileges to the command")],
}, async (engine, p) => {
  const [ref, ...cmd] = p.args;
  const { execProcess } = await import("../../engine/exec.ts");
  return execProcess(engine, ref!, {
    cmd, detach: p.get("detach"), interactive: p.get("interactive"), tty: p.get("tty"), env: p.get("env"),
    envFiles: p.get("env-file"), user: p.get("user"), workdir: p.get("workdir"), privileged: p.get("privileged"),
  });
});

const attachCmd = verb({ name: "attach", usage: "attach [OPTIONS] CONTAINER", summary: "Attach local standard input, output, and error streams to a running container", minArgs: 1, maxArgs: 1, flags: [bool("no-stdin", undefined, "Do not attach STDIN"), bool("sig-proxy", undefined, "Proxy all received signals to the process", { default: true }), DETACH_KEYS] }, async (engine, p) => {
  const row = engine.find(p.args[0]!);
  const v = engine.observe(row);
  if (!v.running) throw new EngineError("You cannot attach to a stopped container, start it first");
  const a = await attachStdio(engine, v, { withStdin: !p.get("no-stdin") && row.config.openStdin, ...detachKeysOf(p.get("detach-keys")) });
  const unproxy = row.config.tty || !p.get("sig-proxy") ? () => {} : proxySignals(engine, row.id);
  try {
    await a.session.closed;
  } finally {
    a.done();
    unproxy();
  }
  if (a.detached()) return 0;
  return engine.waitExit(row.id);
});

const wait = verb({ name: "wait", usage: "wait CONTAINER [CONTAINER...]", summary: "Block until one or more containers stop, then print their exit codes", flags: [], minArgs: 1 }, async (engine, p, io) => {
  return each(p, io, async (ref) => {
    const code = await engine.waitExit(engine.find(ref).id);
    io.out(`${code}\n`);
  }, false);
});

const inspect = verb({ name: "inspect", usage: "inspect [OPTIONS] NAME|ID [NAME|ID...]", summary: "Return low-level information on containers, images or volumes", minArgs: 1, flags: [str("format", "f", "Format output using a Go template"), bool("size", "s", "Display total file sizes"), str("type", undefined, "Return JSON for specified type (container, image, volume)")] }, async (engine, p, io) => {
  const out: Record<string, unknown>[] = [];
  let failed = 0;
  const type = p.get("type");
  for (const ref of p.args) {
    try {
      if (type === "volume") { out.push(engine.volumes.info(engine.volumes.get(ref)) as unknown as Record<string, unknown>); continue; }
      if (type !== "image") {
        try {
          const v = engine.observe(engine.find(ref));
          const { containerEndpoints } = await import("../../engine/network.ts");
          out.push(inspectObject(engine, v, await engine.publishedPorts(v.row), await containerEndpoints(engine, v.row)));
          continue;
        } catch (e) {
          if (type === "container") throw e;
        }
      }
      const img = engine.images.resolve(ref);
      if (!img) throw new EngineError(`No such object: ${ref}`);
      out.push({ Id: img.id, RepoTags: img.names, RepoDigests: img.repoDigests, Created: img.created, Size: img.size, Config: img.config, RootFS: { Type: "layers", Layers: img.layers.map((x) => x.diffId) } });
    } catch (e) {
      failed++;
      io.err(`Error: ${(e as Error).message}\n`);
    }
  }
  const format = p.get("format");
  if (format) io.out(out.map((o) => formatRows(format, [o])).join(""));
  else io.out(JSON.stringify(out, null, 4) + "\n");
  return failed ? 1 : 0;
});

const top = verb({ name: "top", usage: "top CONTAINER", summary: "Display the running processes of a container", minArgs: 1, flags: [] }, async (engine, p, io) => {
  const row = engine.find(p.args[0]!);
  if (!engine.observe(row).running) throw new EngineError(`container ${row.id} is not running`);
  const { containerTop } = await import("../../engine/exec.ts");
  const t = containerTop(row);
  io.out(table(t.titles, t.processes));
  return 0;
});

const port = verb({ name: "port", usage: "port CONTAINER [PRIVATE_PORT[/PROTO]]", summary: "List port mappings or a specific mapping for the container", minArgs: 1, maxArgs: 2, flags: [] }, async (engine, p, io) => {
  const row = engine.find(p.args[0]!);
  const want = p.args[1];
  let pubs = await engine.publishedPorts(row);
  if (want) {
    const [num, proto = "tcp"] = want.split("/");
    pubs = pubs.filter((x) => String(x.containerPort) === num && x.proto === proto);
    if (pubs.length === 0) throw new EngineError(`No public port '${want}' published for ${p.args[0]}`);
  }
  for (const x of pubs) io.out(want ? `${x.hostIp}:${x.hostPort}\n` : `${x.containerPort}/${x.proto} -> ${x.hostIp}:${x.hostPort}\n`);
  return 0;
});

const rename = verb({ name: "rename", usage: "rename CONTAINER NEW_NAME", summary: "Rename a container", minArgs: 2, maxArgs: 2, flags: [] }, async (engine, p) => {
  engine.rename(p.args[0]!, p.args[1]!);
  return 0;
});

const pause = verb({ name: "pause", usage: "pause CONTAINER [CONTAINER...]", summary: "Pause all processes within one or more containers", minArgs: 1, flags: [] }, async (engine, p, io) => { return each(p, io, (ref) => { engine.pause(ref); }); });

const unpause = verb({ name: "unpause", usage: "unpause CONTAINER [CONTAINER...]", summary: "Unpause all processes within one or more containers", minArgs: 1, flags: [] }, async (engine, p, io) => { return each(p, io, (ref) => { engine.unpause(ref); }); });

const prune = verb({ name: "container prune", usage: "container prune [OPTIONS]", summary: "Remove all stopped containers", maxArgs: 0, flags: [bool("force", "f", "Do not prompt for confirmation"), list("filter", undefined, "Provide filter values (e.g. 'label=<key>=<value>')")] }, async (engine, p, io) => {
  // docker's prune filters are label= and until=; only labels are known here, the rest is ignored.
  const { deleted: ids, reclaimed } = await pruneContainers(engine, parseContainerFilters(p.get("filter").filter((f) => f.startsWith("label="))));
  io.out(ids.length ? `Deleted Containers:\n${ids.join("\n")}\n\n` : "");
  io.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
  return 0;
});

const update = verb({
  name: "update", usage: "update [OPTIONS] CONTAINER [CONTAINER...]", summary: "Update configuration of one or more containers", minArgs: 1,
  flags: [
    MEMORY, MEMORY_SWAP, CPUS, CPU_SHARES, PIDS_LIMIT,
    str("restart", undefined, "Restart policy to apply when a container exits", "string"),
  ],
}, async (engine, p, io) => {
  const { parseUpdate, updateContainer } = await import("../../engine/update.ts");
  // A bad flag value is the same for every container: said once, exit 125, nothing changed.
  const update = parseUpdate({
    memory: p.get("memory"), memorySwap: p.get("memory-swap"), cpus: p.get("cpus"), cpuShares: p.get("cpu-shares"),
    pidsLimit: p.get("pids-limit"), restart: p.get("restart"),
  });
  return each(p, io, async (ref) => { await updateContainer(engine, ref, update); });
});

export const CONTAINER_COMMANDS: Record<string, Command> = {
  run, create, start, stop, restart, kill: killCmd, rm, ps, logs, exec, attach: attachCmd, wait, inspect, top, port, rename, pause, unpause, update,
  "container prune": prune,
};
