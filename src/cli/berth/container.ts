// The container verbs of `berth`: run, create, start, stop, restart, kill, rm, ps, logs, exec,
// attach, wait, inspect, top, port, rename, pause, unpause, container prune. Parsing and printing
// only; the work is in src/engine.
import { statSync } from "node:fs";
import { trace } from "../../sys/trace.ts";
import { writeFully, type Io } from "./io.ts";
import type { Engine, ContainerView } from "../../engine/engine.ts";
import type { CreateRequest } from "../../engine/config.ts";
import { EngineError, UsageError } from "../../engine/errors.ts";
import { parseSignal, parseInteger } from "../../engine/options.ts";
import { inspectObject, psObject } from "../../engine/inspect.ts";
import type { AttachSession } from "../../engine/logs.ts";
import { waitExitFile } from "../../engine/monitor.ts";
import { type CommandSpec, type FlagSpec, type Parsed } from "./args.ts";
import { formatRows, humanSize, table } from "./format.ts";

export type { Io };
export { writeFully };

export type Handler = (engine: Engine, p: Parsed, io: Io) => Promise<number>;

export interface Command {
  spec: CommandSpec;
  run: Handler;
  /** Runs without the engine's reconcile (fast paths such as the exit hook). */
  noReconcile?: boolean;
}

// Loaded by the verbs that stream a container's output (run, start -a, attach, logs), not by ps & co.
const logsModule = () => import("../../engine/logs.ts");

const b = (long: string, short: string | undefined, help: string): FlagSpec => ({ long, short, kind: "bool", help });
const s = (long: string, short: string | undefined, help: string, value = "string"): FlagSpec => ({ long, short, kind: "string", help, value });
const l = (long: string, short: string | undefined, help: string, value = "list"): FlagSpec => ({ long, short, kind: "list", help, value });

export const CREATE_FLAGS: FlagSpec[] = [
  b("interactive", "i", "Keep STDIN open even if not attached"),
  b("tty", "t", "Allocate a pseudo-TTY"),
  s("name", undefined, "Assign a name to the container"),
  l("env", "e", "Set environment variables"),
  l("env-file", undefined, "Read in a file of environment variables"),
  s("workdir", "w", "Working directory inside the container"),
  s("user", "u", "Username or UID (format: <name|uid>[:<group|gid>])"),
  s("hostname", "h", "Container host name"),
  s("domainname", undefined, "Container NIS domain name"),
  s("entrypoint", undefined, "Overwrite the default ENTRYPOINT of the image"),
  l("volume", "v", "Bind mount a volume (HOST:CTR[:ro] or NAME:CTR[:ro])"),
  l("tmpfs", undefined, "Mount a tmpfs directory (PATH[:OPTIONS])"),
  b("read-only", undefined, "Mount the container's root filesystem as read only"),
  s("memory", "m", "Memory limit", "bytes"),
  s("memory-swap", undefined, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", "bytes"),
  s("cpus", undefined, "Number of CPUs", "decimal"),
  s("cpu-shares", "c", "CPU shares (relative weight)", "int"),
  s("pids-limit", undefined, "Tune container pids limit (set -1 for unlimited)", "int"),
  l("cap-add", undefined, "Add Linux capabilities"),
  l("cap-drop", undefined, "Drop Linux capabilities"),
  b("privileged", undefined, "Give extended privileges to this container"),
  l("security-opt", undefined, "Security Options (seccomp=FILE|unconfined, no-new-privileges)"),
  s("userns", undefined, "User namespace to use (host)"),
  s("restart", undefined, "Restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)"),
  b("init", undefined, "Run an init inside the container that forwards signals and reaps processes"),
  l("label", "l", "Set meta data on a container"),
  l("label-file", undefined, "Read in a line delimited file of labels"),
  s("network", undefined, "Connect a container to a network (none, host, bridge or NAME)"),
  s("net", undefined, "Alias of --network"),
  l("publish", "p", "Publish a container's port(s) to the host"),
  b("publish-all", "P", "Publish all exposed ports to random ports"),
  l("add-host", undefined, "Add a custom host-to-IP mapping (host:ip)"),
  l("dns", undefined, "Set custom DNS servers"),
  l("log-opt", undefined, "Log driver options (max-size=10m)"),
  s("stop-signal", undefined, "Signal to stop the container"),
  s("stop-timeout", undefined, "Timeout (in seconds) to stop a container", "int"),
  l("sysctl", undefined, "Sysctl options"),
  b("rm", undefined, "Automatically remove the container when it exits"),
];

export function createRequest(p: Parsed): CreateRequest {
  const [image, ...args] = p.args;
  if (!image) throw new UsageError("an image is required");
  const str = (k: string) => p.strings.get(k);
  return {
    image, args, name: str("name"), entrypoint: str("entrypoint"), env: p.lists.get("env"), envFiles: p.lists.get("env-file"),
    workdir: str("workdir"), user: str("user"), hostname: str("hostname"), domainname: str("domainname"),
    tty: p.bools.has("tty"), interactive: p.bools.has("interactive"), rm: p.bools.has("rm"), restart: str("restart"),
    labels: p.lists.get("label"), labelFiles: p.lists.get("label-file"), volumes: p.lists.get("volume"), tmpfs: p.lists.get("tmpfs"),
    readOnly: p.bools.has("read-only"), memory: str("memory"), memorySwap: str("memory-swap"), cpus: str("cpus"),
    cpuShares: str("cpu-shares"), pidsLimit: str("pids-limit"), capAdd: p.lists.get("cap-add"), capDrop: p.lists.get("cap-drop"),
    privileged: p.bools.has("privileged"), securityOpt: p.lists.get("security-opt"), init: p.bools.has("init"),
    network: str("network") ?? str("net"), publish: p.lists.get("publish"), stopSignal: str("stop-signal"),
    stopTimeout: str("stop-timeout"), userns: str("userns"), sysctls: p.lists.get("sysctl"),
    publishAll: p.bools.has("publish-all"), addHosts: p.lists.get("add-host"), dns: p.lists.get("dns"), logOpts: p.lists.get("log-opt"),
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

const CTRL_P = 0x10, CTRL_Q = 0x11;

async function attachStdio(engine: Engine, view: ContainerView, withStdin: boolean): Promise<Attached> {
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
    // docker's detach keys on a terminal: ctrl-p then ctrl-q leaves the container running.
    let pendingP = false;
    const onData = (d: Buffer) => {
      if (!tty) return session.write(d);
      let out = d;
      if (pendingP) {
        pendingP = false;
        if (d[0] === CTRL_Q) { detached = true; session.detach(); return; }
        out = Buffer.concat([Buffer.from([CTRL_P]), d]);
      }
      const at = out.indexOf(CTRL_P);
      if (at >= 0 && at === out.length - 1) { pendingP = true; out = out.subarray(0, at); }
      else if (at >= 0 && out[at + 1] === CTRL_Q) { session.write(out.subarray(0, at)); detached = true; session.detach(); return; }
      if (out.length) session.write(out);
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

async function runForeground(engine: Engine, id: string, withStdin: boolean, removeOnFailure: boolean): Promise<number> {
  let attached: Attached | undefined;
  let unproxy = () => {};
  let startedNs = 0n;
  try {
    const code = await engine.runAttached(id, {
      foreground: true,
      consoleSize: terminalSize(),
      beforeStart: async (row) => {
        startedNs = BigInt(Date.now() - 1000) * 1_000_000n;
        attached = await attachStdio(engine, engine.observe(row), withStdin);
        trace("start: stdio attached");
        if (!row.config.tty) unproxy = proxySignals(engine, id);
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

const run: Command = {
  spec: {
    name: "run", usage: "run [OPTIONS] IMAGE [COMMAND] [ARG...]", summary: "Create and run a new container from an image",
    flags: [b("detach", "d", "Run container in background and print container ID"), ...CREATE_FLAGS], stopAtPositional: true, minArgs: 1,
  },
  async run(engine, p, io) {
    const req = createRequest(p);
    const detach = p.bools.has("detach");
    const row = await engine.create(req, { forRun: true });
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
    return runForeground(engine, row.id, p.bools.has("interactive"), true);
  },
};

const create: Command = {
  spec: { name: "create", usage: "create [OPTIONS] IMAGE [COMMAND] [ARG...]", summary: "Create a new container", flags: CREATE_FLAGS, stopAtPositional: true, minArgs: 1 },
  async run(engine, p, io) {
    const row = await engine.create(createRequest(p));
    io.out(`${row.id}\n`);
    return 0;
  },
};

const start: Command = {
  spec: {
    name: "start", usage: "start [OPTIONS] CONTAINER [CONTAINER...]", summary: "Start one or more stopped containers",
    flags: [b("attach", "a", "Attach STDOUT/STDERR and forward signals"), b("interactive", "i", "Attach container's STDIN"), b("all", undefined, "Start every container whose restart policy is always or unless-stopped (at boot)")],
  },
  async run(engine, p, io) {
    if (p.bools.has("all")) {
      const r = await engine.startAll();
      for (const n of r.started) io.out(`${n}\n`);
      for (const f of r.failed) io.err(`Error response from daemon: ${f.name}: ${f.error}\n`);
      return r.failed.length ? 1 : 0;
    }
    if (p.args.length === 0) throw new UsageError(`"berth start" requires at least 1 argument.\nSee 'berth start --help'.`);
    if (p.bools.has("attach") || p.bools.has("interactive")) {
      if (p.args.length > 1) throw new UsageError("you cannot start and attach multiple containers at once");
      const row = engine.find(p.args[0]!);
      return runForeground(engine, row.id, p.bools.has("interactive"), false);
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
  },
};

/** Applies fn to each CONTAINER argument; docker prints each ref on success and errors per ref. */
async function each(p: Parsed, io: Io, fn: (ref: string) => Promise<void> | void, print = true): Promise<number> {
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

const stop: Command = {
  spec: { name: "stop", usage: "stop [OPTIONS] CONTAINER [CONTAINER...]", summary: "Stop one or more running containers", flags: [s("time", "t", "Seconds to wait before killing the container", "int"), s("signal", "s", "Signal to send to the container")], minArgs: 1 },
  async run(engine, p, io) {
    const t = p.strings.get("time");
    const timeout = t === undefined ? undefined : parseInteger(t, "-t, --time", -1);
    return each(p, io, async (ref) => { await engine.stop(ref, timeout); });
  },
};

const restart: Command = {
  spec: { name: "restart", usage: "restart [OPTIONS] CONTAINER [CONTAINER...]", summary: "Restart one or more containers", flags: [s("time", "t", "Seconds to wait before killing the container", "int")], minArgs: 1 },
  async run(engine, p, io) {
    const t = p.strings.get("time");
    const timeout = t === undefined ? undefined : parseInteger(t, "-t, --time", -1);
    return each(p, io, async (ref) => {
      const row = await engine.stop(ref, timeout);
      await engine.start(row.id);
    });
  },
};

const killCmd: Command = {
  spec: { name: "kill", usage: "kill [OPTIONS] CONTAINER [CONTAINER...]", summary: "Kill one or more running containers", flags: [s("signal", "s", "Signal to send to the container")], minArgs: 1 },
  async run(engine, p, io) {
    const sig = parseSignal(p.strings.get("signal") ?? "KILL");
    return each(p, io, (ref) => { engine.kill(ref, sig); });
  },
};

const rm: Command = {
  spec: {
    name: "rm", usage: "rm [OPTIONS] CONTAINER [CONTAINER...]", summary: "Remove one or more containers",
    flags: [b("force", "f", "Force the removal of a running container (uses SIGKILL)"), b("volumes", "v", "Remove anonymous volumes associated with the container")], minArgs: 1,
  },
  async run(engine, p, io) {
    return each(p, io, async (ref) => { await engine.remove(ref, { force: p.bools.has("force"), volumes: p.bools.has("volumes") }); });
  },
};

function matchesFilter(v: ContainerView, filters: string[]): boolean {
  for (const f of filters) {
    const at = f.indexOf("=");
    if (at < 0) throw new UsageError(`bad format of filter (expected name=value): ${f}`);
    const k = f.slice(0, at), val = f.slice(at + 1);
    const r = v.row;
    switch (k) {
      case "id": if (!r.id.startsWith(val)) return false; break;
      case "name": if (!r.name.includes(val)) return false; break;
      case "status": if (v.status !== val) return false; break;
      case "exited": if (v.status !== "exited" || String(v.exitCode) !== val) return false; break;
      case "ancestor": if (r.config.image !== val && !r.config.imageId.includes(val)) return false; break;
      case "label": {
        const eq = val.indexOf("=");
        const key = eq < 0 ? val : val.slice(0, eq);
        if (!(key in r.config.labels) || (eq >= 0 && r.config.labels[key] !== val.slice(eq + 1))) return false;
        break;
      }
      case "volume": if (!r.config.mounts.some((m) => m.source === val || m.destination === val)) return false; break;
      case "network": if (r.config.network !== val) return false; break;
      default: throw new UsageError(`invalid filter '${k}' (supported: id, name, status, exited, ancestor, label, volume, network)`);
    }
  }
  return true;
}

const ps: Command = {
  spec: {
    name: "ps", usage: "ps [OPTIONS]", summary: "List containers", maxArgs: 0,
    flags: [b("all", "a", "Show all containers (default shows just running)"), b("quiet", "q", "Only display container IDs"), l("filter", "f", "Filter output based on conditions provided"),
      s("format", undefined, "Format output using a custom template"), b("no-trunc", undefined, "Don't truncate output"), s("last", "n", "Show n last created containers (includes all states)", "int"), b("latest", "l", "Show the latest created container (includes all states)")],
  },
  async run(engine, p, io) {
    let views = engine.list().reverse();
    const last = p.bools.has("latest") ? 1 : p.strings.has("last") ? parseInteger(p.strings.get("last")!, "-n, --last", -1) : -1;
    if (!p.bools.has("all") && last < 0) views = views.filter((v) => v.running);
    views = views.filter((v) => matchesFilter(v, p.lists.get("filter") ?? []));
    if (last >= 0) views = views.slice(0, last);
    const noTrunc = p.bools.has("no-trunc");
    if (p.bools.has("quiet")) {
      io.out(views.map((v) => (noTrunc ? v.row.id : v.row.id.slice(0, 12)) + "\n").join(""));
      return 0;
    }
    // A random host port (-p 80, -P) is known only from the network's bindings.
    for (const v of views) {
      if (v.running && v.row.config.publish.some((x) => x.hostPort === 0)) v.row.config.publish = await engine.publishedPorts(v.row);
    }
    const objs = views.map((v) => psObject(v, noTrunc));
    const format = p.strings.get("format");
    if (format) {
      io.out(formatRows(format, objs));
      return 0;
    }
    io.out(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
      objs.map((o) => [o.ID, o.Image, o.Command, o.RunningFor, o.Status, o.Ports, o.Names].map(String))));
    return 0;
  },
};

const logs: Command = {
  spec: {
    name: "logs", usage: "logs [OPTIONS] CONTAINER", summary: "Fetch the logs of a container", minArgs: 1, maxArgs: 1,
    flags: [b("follow", "f", "Follow log output"), s("tail", "n", "Number of lines to show from the end of the logs (default \"all\")"), b("timestamps", "t", "Show timestamps"),
      s("since", undefined, "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)"), s("until", undefined, "Show logs before a timestamp or relative time")],
  },
  async run(engine, p) {
    const { writeLogs, parseSince } = await logsModule();
    const row = engine.find(p.args[0]!);
    const tailArg = p.strings.get("tail");
    const tail = tailArg === undefined || tailArg === "all" ? undefined : parseInteger(tailArg, "-n, --tail", -1);
    const follow = p.bools.has("follow") && engine.observe(row).running;
    const ac = new AbortController();
    const stop = follow ? waitExitFile(engine.paths.exitFile(row.id), ac.signal).catch(() => {}) : undefined;
    const onInt = () => ac.abort();
    process.on("SIGINT", onInt);
    try {
      await writeLogs(engine.paths.log(row.id), {
        tail, follow, stop, signal: ac.signal, timestamps: p.bools.has("timestamps"),
        since: p.strings.has("since") ? parseSince(p.strings.get("since")!) : undefined,
        until: p.strings.has("until") ? parseSince(p.strings.get("until")!) : undefined,
      }, { stdout: (d) => writeFully(1, d), stderr: (d) => writeFully(2, d) });
    } finally {
      process.off("SIGINT", onInt);
      ac.abort();
    }
    return 0;
  },
};

const exec: Command = {
  spec: {
    name: "exec", usage: "exec [OPTIONS] CONTAINER COMMAND [ARG...]", summary: "Execute a command in a running container", stopAtPositional: true, minArgs: 2,
    flags: [b("detach", "d", "Detached mode: run command in the background"), b("interactive", "i", "Keep STDIN open even if not attached"), b("tty", "t", "Allocate a pseudo-TTY"),
      l("env", "e", "Set environment variables"), l("env-file", undefined, "Read in a file of environment variables"), s("user", "u", "Username or UID (format: <name|uid>[:<group|gid>])"),
      s("workdir", "w", "Working directory inside the container"), b("privileged", undefined, "Give extended privileges to the command")],
  },
  async run(engine, p) {
    const [ref, ...cmd] = p.args;
    const { execProcess } = await import("../../engine/exec.ts");
    return execProcess(engine, ref!, {
      cmd, detach: p.bools.has("detach"), interactive: p.bools.has("interactive"), tty: p.bools.has("tty"), env: p.lists.get("env") ?? [],
      envFiles: p.lists.get("env-file") ?? [], user: p.strings.get("user"), workdir: p.strings.get("workdir"), privileged: p.bools.has("privileged"),
    });
  },
};

const attachCmd: Command = {
  spec: { name: "attach", usage: "attach [OPTIONS] CONTAINER", summary: "Attach local standard input, output, and error streams to a running container", minArgs: 1, maxArgs: 1, flags: [b("no-stdin", undefined, "Do not attach STDIN"), b("sig-proxy", undefined, "Proxy all received signals to the process (default true)")] },
  async run(engine, p) {
    const row = engine.find(p.args[0]!);
    const v = engine.observe(row);
    if (!v.running) throw new EngineError("You cannot attach to a stopped container, start it first");
    const a = await attachStdio(engine, v, !p.bools.has("no-stdin") && row.config.openStdin);
    const unproxy = row.config.tty ? () => {} : proxySignals(engine, row.id);
    try {
      await a.session.closed;
    } finally {
      a.done();
      unproxy();
    }
    if (a.detached()) return 0;
    return engine.waitExit(row.id);
  },
};

const wait: Command = {
  spec: { name: "wait", usage: "wait CONTAINER [CONTAINER...]", summary: "Block until one or more containers stop, then print their exit codes", flags: [], minArgs: 1 },
  async run(engine, p, io) {
    return each(p, io, async (ref) => {
      const code = await engine.waitExit(engine.find(ref).id);
      io.out(`${code}\n`);
    }, false);
  },
};

const inspect: Command = {
  spec: { name: "inspect", usage: "inspect [OPTIONS] NAME|ID [NAME|ID...]", summary: "Return low-level information on containers, images or volumes", minArgs: 1, flags: [s("format", "f", "Format output using a Go template"), b("size", "s", "Display total file sizes"), s("type", undefined, "Return JSON for specified type (container, image, volume)")] },
  async run(engine, p, io) {
    const out: Record<string, unknown>[] = [];
    let failed = 0;
    const type = p.strings.get("type");
    for (const ref of p.args) {
      try {
        if (type === "volume") { out.push(engine.volumes.info(engine.volumes.get(ref)) as unknown as Record<string, unknown>); continue; }
        if (type !== "image") {
          try {
            out.push(inspectObject(engine, engine.observe(engine.find(ref))));
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
    const format = p.strings.get("format");
    if (format) io.out(out.map((o) => formatRows(format, [o])).join(""));
    else io.out(JSON.stringify(out, null, 4) + "\n");
    return failed ? 1 : 0;
  },
};

const top: Command = {
  spec: { name: "top", usage: "top CONTAINER", summary: "Display the running processes of a container", minArgs: 1, flags: [] },
  async run(engine, p, io) {
    const row = engine.find(p.args[0]!);
    if (!engine.observe(row).running) throw new EngineError(`container ${row.id} is not running`);
    const { containerTop } = await import("../../engine/exec.ts");
    const t = containerTop(row.id);
    io.out(table(t.titles, t.processes));
    return 0;
  },
};

const port: Command = {
  spec: { name: "port", usage: "port CONTAINER [PRIVATE_PORT[/PROTO]]", summary: "List port mappings or a specific mapping for the container", minArgs: 1, maxArgs: 2, flags: [] },
  async run(engine, p, io) {
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
  },
};

const rename: Command = {
  spec: { name: "rename", usage: "rename CONTAINER NEW_NAME", summary: "Rename a container", minArgs: 2, maxArgs: 2, flags: [] },
  async run(engine, p) {
    engine.rename(p.args[0]!, p.args[1]!);
    return 0;
  },
};

const pause: Command = {
  spec: { name: "pause", usage: "pause CONTAINER [CONTAINER...]", summary: "Pause all processes within one or more containers", minArgs: 1, flags: [] },
  async run(engine, p, io) { return each(p, io, (ref) => { engine.pause(ref); }); },
};

const unpause: Command = {
  spec: { name: "unpause", usage: "unpause CONTAINER [CONTAINER...]", summary: "Unpause all processes within one or more containers", minArgs: 1, flags: [] },
  async run(engine, p, io) { return each(p, io, (ref) => { engine.unpause(ref); }); },
};

const prune: Command = {
  spec: { name: "container prune", usage: "container prune [OPTIONS]", summary: "Remove all stopped containers", maxArgs: 0, flags: [b("force", "f", "Do not prompt for confirmation"), l("filter", undefined, "Provide filter values (e.g. 'label=<key>=<value>')")] },
  async run(engine, p, io) {
    const ids: string[] = [];
    let reclaimed = 0;
    for (const v of engine.list()) {
      if (v.running || v.status === "removing" || !matchesFilter(v, (p.lists.get("filter") ?? []).filter((f) => f.startsWith("label=")))) continue;
      const size = engine.diskUsage(v.row.id);
      if (!(await engine.removeIfIdle(v.row.id))) continue; // started or in use meanwhile
      ids.push(v.row.id);
      reclaimed += size;
    }
    io.out(ids.length ? `Deleted Containers:\n${ids.join("\n")}\n\n` : "");
    io.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    return 0;
  },
};

export const CONTAINER_COMMANDS: Record<string, Command> = {
  run, create, start, stop, restart, kill: killCmd, rm, ps, logs, exec, attach: attachCmd, wait, inspect, top, port, rename, pause, unpause,
  "container prune": prune,
};
