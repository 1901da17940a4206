// berth: the container engine's command line (docker's verbs, flags and exit codes). Each run of
// it does one job and exits; containers keep running under their monitors. bin/berth runs this.
//
// Start-up time is most of what a short command costs, so this file loads only what every
// command needs; each verb's module (and the engine behind it) is imported when that verb runs.
import { resolve } from "node:path";
import type { Engine } from "../../engine/engine.ts";
import { DEFAULT_ENGINE_ROOT } from "../../engine/paths.ts";
import { EngineError, EXIT_ENGINE, UsageError } from "../../engine/errors.ts";
import type { Command } from "./container.ts";
import { stdio as io } from "./io.ts";
import { trace } from "../../sys/trace.ts";
import { COMPILED } from "../../sys/build-dir.ts";
import { VERSION_TEXT as VERSION } from "./version.ts";
import { EXIT_USAGE, FlagError, HelpRequested, bool, commandSpec, flagErrorText, parseFlags, str } from "./args.ts";
import { flagLines } from "../flags.ts";

// Verbs outside container.ts: the image-layer code behind commit costs more start-up time than
// a whole `run` may spend.
const SYSTEM_VERBS = ["stats", "cp", "info", "version", "volume create", "volume ls", "volume list", "volume rm", "volume remove",
  "volume inspect", "volume prune", "system df", "system prune", "system reset", "system info", "system service"];
const COMMIT_VERBS = ["commit", "export", "diff"];

async function extraCommand(name: string): Promise<Command | undefined> {
  if (name === "system service") return (await import("./service.ts")).serviceCommand;
  if (SYSTEM_VERBS.includes(name)) return (await import("./system.ts")).EXTRA_COMMANDS[name];
  if (COMMIT_VERBS.includes(name)) return (await import("./commit.ts")).IMAGE_CONTAINER_COMMANDS[name];
  if (name === "ns") return (await import("./ns.ts")).NS_COMMAND;
  if (name === "build") return (await import("./build.ts")).BUILD_COMMAND;
  return undefined;
}

trace("modules loaded");

const IMAGE_VERBS = new Set(["images", "load", "save", "import", "rmi", "tag", "history", "image"]);
const REGISTRY_VERBS = new Set(["pull", "push", "login", "logout"]);

/** berth's own flags, before the command. */
const GLOBALS = commandSpec({
  name: "", usage: "[OPTIONS] COMMAND", summary: "A daemonless container engine: docker's commands, containers kept by a tiny monitor each.",
  flags: [
    str("root", undefined, `Engine state directory (default ${DEFAULT_ENGINE_ROOT}, or $BERTH_ROOT)`, "DIR"),
    bool("version", "v", "Print version information and quit"),
    bool("help", "h", "This help"),
    bool("debug", "D", "Enable debug mode", { hidden: true }),
  ],
  stopAtPositional: true,
});

const USAGE = `Usage:  berth ${GLOBALS.usage}

${GLOBALS.summary}

Options:
${flagLines(GLOBALS.flags).join("\n")}

Common Commands:
  run         Create and run a new container from an image
  exec        Execute a command in a running container
  ps          List containers
  images      List images
  logs        Fetch the logs of a container
  stop        Stop one or more running containers
  rm          Remove one or more containers

Container Commands:
  attach      Attach to a running container's input and output
  cp          Copy files/folders between a container and the local filesystem
  create      Create a new container
  inspect     Return low-level information on containers, images or volumes
  kill        Kill one or more running containers
  pause       Pause all processes within one or more containers
  port        List port mappings or a specific mapping for the container
  rename      Rename a container
  restart     Restart one or more containers
  start       Start one or more stopped containers (--all: the ones whose policy says so, at boot)
  stats       Display a live stream of container(s) resource usage statistics
  ns          Show containers' namespaces: own, the host's, or shared (and with whom)
  top         Display the running processes of a container
  unpause     Unpause all processes within one or more containers
  update      Update limits and restart policy of one or more containers
  wait        Block until one or more containers stop, then print their exit codes
  container   Manage containers (prune, and every verb above)

Images, volumes, networks and the system:
  load, save, import, images, rmi, tag, history, image    Image store
  pull, push, login, logout    Images from and to registries
  commit, export, diff    A container's changes as an image, its files as a tar, what it changed
  build       Build an image from a Dockerfile
  volume      Manage volumes (create, ls, rm, inspect, prune)
  network     Manage networks
  compose     Define and run multi-container applications (compose files, as docker compose)
  cgroup      Inspect and drive control groups
  system      df, info, prune
  info        Display system-wide information
  version     Show the berth version information

Run 'berth COMMAND --help' for more information on a command.
`;

// Synchronous writes: main ends with process.exit, which must not cut off buffered output.
const GROUP_USAGE: Record<string, string> = {
  container: `Usage:  berth container COMMAND

Manage containers: every container verb (run, create, start, stop, restart, kill, rm, ls/ps,
logs, exec, attach, wait, inspect, top, port, stats, cp, rename, pause, unpause, commit, export,
diff), and prune (remove all stopped containers).
`,
  volume: `Usage:  berth volume COMMAND

Commands:
  create [NAME]   Create a volume
  ls              List volumes
  inspect NAME…   Display detailed information on volumes
  rm NAME…        Remove volumes
  prune           Remove unused anonymous volumes (--all: named ones too)
`,
  system: `Usage:  berth system COMMAND

Commands:
  df       Show berth disk usage
  info     Display system-wide information
  prune    Remove stopped containers, dangling images and what interrupted commands left (--volumes: and unused anonymous volumes)
  reset    Remove every container, and every network's bridges, rules and leases
  service  Serve the Docker Engine API on a unix socket (DOCKER_HOST=unix:///run/berth/docker.sock docker ...)
`,
};

/** Help and version text: Bun's own writer, so these answers do not load node:fs (~2.5 ms). */
async function print(text: string): Promise<void> {
  await Bun.write(Bun.stdout, text);
}

interface Globals {
  root: string;
  rest: string[];
}

function parseGlobals(argv: string[]): Globals | "help" | "version" {
  let p;
  try {
    p = parseFlags(GLOBALS, argv);
  } catch (e) {
    if (e instanceof HelpRequested) return "help";
    throw e;
  }
  if (p.get("version")) return "version";
  const root = p.get("root") ?? (process.env.BERTH_ROOT || DEFAULT_ENGINE_ROOT);
  if (!root) throw new UsageError("--root needs a directory");
  return { root: resolve(root), rest: p.args };
}

/** $BERTH_NETWORK_PREFIX / $BERTH_NETWORK_SUBNET: bridge names and default subnet of a root whose network is
 *  new (tests); by default each root derives its own (network/README.md, "Several state roots"). */
function networkOptions(): { namePrefix?: string; defaultSubnet?: string } {
  return {
    ...(process.env.BERTH_NETWORK_PREFIX ? { namePrefix: process.env.BERTH_NETWORK_PREFIX } : {}),
    ...(process.env.BERTH_NETWORK_SUBNET ? { defaultSubnet: process.env.BERTH_NETWORK_SUBNET } : {}),
  };
}

/** The monitor runs this (detached) once a container ended: `berth --root R internal exit ID`. */
function exitCommand(root: string): string[] {
  // Compiled (build/berth): the executable is the whole CLI; from source, bun runs this file.
  return [process.execPath, ...(COMPILED ? [] : [Bun.main]), "--root", root, "internal", "exit"];
}

// The engine loads each operation's code on first use (engine.ts). No verb preloads its path: in
// the compiled executable every module is in memory already and only its top level runs late.
async function withEngine<T>(root: string, reconcile: boolean, fn: (e: Engine) => Promise<T>): Promise<T> {
  const { openEngine } = await import("../../engine/engine.ts");
  trace("engine loaded");
  const exit = exitCommand(root);
  const engine = openEngine(root, { exitCommand: exit, healthCommand: [...exit.slice(0, -1), "health"], network: networkOptions() });
  trace("engine open");
  if (reconcile) await engine.reconcile();
  trace("reconciled");
  // Not closed: the process ends right after (runAndExit), and closing the last connection to a
  // WAL database checkpoints it (two fsyncs per database) — work the next writer or SQLite's
  // auto-checkpoint does anyway. A WAL database left open at exit is as safe as after kill -9.
  engineUsed = true;
  return await fn(engine);
}

/** A command opened the engine's databases: leave through _exit(2), so that Bun's shutdown does not close them. */
let engineUsed = false;

async function findCommand(rest: string[]): Promise<{ cmd: Command; argv: string[] } | null> {
  const [verb, ...argv] = rest;
  if (!verb) return null;
  const { CONTAINER_COMMANDS } = await import("./container.ts");
  trace("verbs loaded");
  if (verb === "container") {
    const [sub, ...subArgv] = argv;
    if (sub === "prune") return { cmd: CONTAINER_COMMANDS["container prune"]!, argv: subArgv };
    if (sub === "ls" || sub === "list") return { cmd: CONTAINER_COMMANDS.ps!, argv: subArgv };
    const c = sub ? CONTAINER_COMMANDS[sub] ?? await extraCommand(sub) : undefined;
    return c ? { cmd: c, argv: subArgv } : null;
  }
  if (verb === "volume" || verb === "system") {
    const [sub = "", ...subArgv] = argv;
    const c = await extraCommand(`${verb} ${sub}`);
    if (!c) throw new UsageError(`berth ${verb}: unknown command "${sub}"; use one of: ${SYSTEM_VERBS.filter((k) => k.startsWith(verb + " ")).map((k) => k.slice(verb.length + 1)).join(", ")}`);
    return { cmd: c, argv: subArgv };
  }
  const c = CONTAINER_COMMANDS[verb] ?? await extraCommand(verb);
  return c ? { cmd: c, argv } : null;
}

async function otherModule(verb: string, argv: string[], root: string): Promise<number | null> {
  process.env.BERTH_ROOT = root;
  if (verb === "cgroup") {
    const { cgroupCommand } = await import("./cgroup.ts");
    return cgroupCommand(argv, {
      // Only when NAME is no group: the engine opens for a container's name or ID.
      containerGroup: (ref) => withEngine(root, false, async (engine) => {
        try {
          const row = engine.find(ref);
          const { cgroupsPathOf } = await import("../../engine/limits.ts");
          const { parseCgroupsPath } = await import("../../cgroups/path.ts");
          return { path: parseCgroupsPath(cgroupsPathOf(row.config, row.id), row.id).path.replace(/^\//, ""), name: row.name };
        } catch {
          return undefined;
        }
      }),
    });
  }
  if (verb === "network") {
    const { networkCommand } = await import("./network.ts");
    return withEngine(root, false, async (engine) => networkCommand(argv, {
      stateRoot: root,
      open: networkOptions(),
      resolveContainer: (ref) => {
        try {
          const row = engine.find(ref);
          const v = engine.observe(row);
          return v.running ? { id: row.id, name: row.name, netnsPath: `/proc/${row.pid}/ns/net` } : null;
        } catch {
          return null;
        }
      },
    }));
  }
  if (verb === "compose") {
    const { composeCommand } = await import("./compose.ts");
    return composeCommand(argv, root, io, (fn) => withEngine(root, true, fn));
  }
  if (REGISTRY_VERBS.has(verb)) return (await import("./registry.ts")).registryCommand(verb, argv, { root });
  if (IMAGE_VERBS.has(verb)) {
    const { imageCommand } = await import("./image.ts");
    return imageCommand(verb, argv, { root });
  }
  return null;
}

let verb: string | undefined;

export async function main(argv: string[]): Promise<number> {
  const g = parseGlobals(argv);
  verb = g === "help" || g === "version" ? undefined : g.rest[0];
  if (g === "help") { await print(USAGE); return 0; }
  if (g === "version") { await print(`berth version ${VERSION}\n`); return 0; }
  const rest = g.rest.slice(1);
  if (!verb) { await print(USAGE); return 0; }
  if (verb === "help") { await print(USAGE); return 0; }
  if (verb === "internal") {
    // Hidden: the monitor's exit command. Never prints (its stdio is /dev/null).
    // `internal health ID`: the monitor's periodic command for a container's healthcheck.
    if ((rest[0] !== "exit" && rest[0] !== "health") || !rest[1]) throw new UsageError("usage: berth internal exit|health ID");
    if (rest[0] === "health") {
      const { runHealthcheck } = await import("../../engine/health.ts");
      await withEngine(g.root, false, (e) => runHealthcheck(e, rest[1]!));
      return 0;
    }
    await withEngine(g.root, false, (e) => e.onExit(rest[1]!));
    return 0;
  }
  if ((verb === "container" || verb === "volume" || verb === "system") && (rest.length === 0 || rest[0] === "--help" || rest[0] === "-h" || rest[0] === "help")) {
    await print(GROUP_USAGE[verb]!);
    return rest.length === 0 ? 1 : 0;
  }
  const other = await otherModule(verb, rest, g.root);
  if (other !== null) return other;
  // Everything this command will load, asked for at once: Bun loads the graphs side by side.
  // (A failure surfaces where each module is awaited below.)
  void Promise.all([import("./container.ts"), import("./args.ts"), import("../../engine/engine.ts")]).catch(() => {});
  const found = await findCommand(g.rest);
  if (!found) throw new UsageError(`berth: '${g.rest.join(" ")}' is not a berth command.\nSee 'berth --help'`);
  const { runParsed } = await import("./args.ts");
  return runParsed(found.cmd.spec, found.argv, io, (parsed) => withEngine(g.root, !found.cmd.noReconcile, (engine) => found.cmd.run(engine, parsed, io)));
}

/** Runs the command line and exits with its status (no top-level await: a bundle may be CommonJS). */
async function runAndExit(argv: string[]): Promise<never> {
  // Without a pending top-level await nothing else keeps Bun's event loop alive while a command
  // waits on something unref'd (the image store's blob worker): Bun would exit 0 mid-command.
  setInterval(() => {}, 1 << 30);
  let code: number;
  try {
    code = await main(argv);
  } catch (e) {
    const err = e as Error;
    if (e instanceof FlagError) {
      // docker prints a broken command line's message bare, with its hint (cli.StatusError).
      code = EXIT_USAGE;
      io.err(flagErrorText(e) + "\n");
    } else {
      code = e instanceof EngineError ? e.exitCode : EXIT_ENGINE;
      const prefix = verb === "run" || verb === "create" || verb === "start" ? "berth: Error: " : "Error: ";
      io.err(`${prefix}${err.message}\n`);
    }
    if (process.env.BERTH_DEBUG && err.stack) io.err(err.stack + "\n");
  }
  trace("done");
  // All output went out through writeSync (io.ts); nothing is left to flush.
  if (engineUsed) (require("../../sys/libc.ts") as typeof import("../../sys/libc.ts")).exitNow(code);
  process.exit(code);
}

if (import.meta.main) void runAndExit(process.argv.slice(2));
