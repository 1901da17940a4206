// berth-runtime: the OCI runtime's command line, runc-compatible so containerd and people who
// know runc can drive it. This file parses and prints only; operations live in src/runtime.
import { parseFlags, FlagError } from "./flags.ts";
import { appendFileSync } from "node:fs";
import { StateStore, DEFAULT_ROOT } from "../../runtime/state-store.ts";
import type { Command, Context } from "./args.ts";
import { trace } from "../../sys/trace.ts";

// Each verb lives in its own file and is loaded only when used: start-up time is the runtime's
// first cost in every container start.
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  spec: () => import("./spec.ts"), create: () => import("./create.ts"), start: () => import("./start.ts"),
  run: () => import("./run.ts"), state: () => import("./state.ts"), kill: () => import("./kill.ts"),
  delete: () => import("./delete.ts"), list: () => import("./list.ts"), ps: () => import("./ps.ts"),
  exec: () => import("./exec.ts"), pause: () => import("./pause.ts"), resume: () => import("./resume.ts"),
  update: () => import("./update.ts"), events: () => import("./events.ts"), features: () => import("./features.ts"),
};

const USAGE = `berth-runtime: an OCI runtime (runtime-spec 1.x), runc-compatible

usage: berth-runtime [global options] COMMAND [options] [args]

commands:
  spec      write a new config.json in the bundle
  create    create a container (its process waits for start)
  start     run the process of a created container
  run       create and start a container (foreground unless -d)
  state     print a container's state as JSON
  kill      send a signal to a container's process (--all: every process)
  delete    remove a stopped container (--force: stop it first)
  list      list containers
  ps        list the processes of a container
  exec      run another process in a container
  pause     freeze every process of a container
  resume    thaw a paused container
  update    change a container's resource limits
  events    print a container's stats and OOM events
  features  print what this runtime supports, as JSON

global options:
  --root DIR          state directory (default ${DEFAULT_ROOT})
  --log FILE          also write errors and debug messages to FILE
  --log-format FMT    text or json (default text)
  --debug             log the plan handed to the C core
  -h, --help          this help; COMMAND --help for a command's options
  -v, --version       print the version`;

// runc's global flags. --rootless is accepted for compatibility: berth-runtime detects rootless
// operation by itself (euid), so every value means the same.
const GLOBAL_OPTIONS = {
  root: { type: "string" }, log: { type: "string" }, "log-format": { type: "string" }, debug: { type: "boolean" },
  help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "v" },
  "systemd-cgroup": { type: "boolean" }, rootless: { type: "string" },
} as const;

async function main(argv: string[]): Promise<number> {
  // Global options end at the command name; everything after belongs to the command.
  const { values: global, positionals, rest } = parseFlags(argv, GLOBAL_OPTIONS, true);
  if (global.version) {
    console.log("berth-runtime version 0.1.0\nspec: 1.2.0");
    return 0;
  }
  const name = positionals[0];
  if (!name || global.help) {
    console.log(USAGE);
    return name || global.help ? 0 : 2;
  }
  const logFile = global.log;
  const json = global["log-format"] === "json";
  if (global["log-format"] && !["text", "json"].includes(global["log-format"])) throw new UsageError(`--log-format must be text or json`);
  const log = (level: string, msg: string) => {
    if (!logFile) return;
    const line = json ? JSON.stringify({ level, msg, time: new Date().toISOString() }) : `time="${new Date().toISOString()}" level=${level} msg="${msg}"`;
    try { appendFileSync(logFile, line + "\n"); } catch { /* the log is best effort */ }
  };
  if (global["systemd-cgroup"]) throw new UsageError("--systemd-cgroup is not supported: berth-runtime manages cgroupfs directly");
  const ctx: Context = {
    store: new StateStore(global.root ?? DEFAULT_ROOT),
    warn: (msg) => { process.stderr.write(`berth-runtime: warning: ${msg}\n`); log("warning", msg); },
    debug: global.debug ? (msg) => { process.stderr.write(`berth-runtime: debug: ${msg}\n`); log("debug", msg); } : undefined,
    logError: (msg) => log("error", msg),
  };
  const load = COMMANDS[name];
  if (!load) throw new UsageError(`unknown command ${JSON.stringify(name)}; see berth-runtime --help`);
  const { command } = await load();
  trace(`main: ${name} loaded`);
  try {
    return await command(rest, ctx);
  } catch (e) {
    ctx.logError((e as Error).message);
    throw e;
  }
}

export class UsageError extends Error {}

function report(e: unknown): void {
  const err = e as Error & { exitCode?: number };
  process.stderr.write(`berth-runtime: ${err.message}\n`);
  process.exitCode = err.exitCode ?? (err instanceof UsageError || err instanceof FlagError ? 2 : 1);
}

// No top-level await: the entry can then be precompiled to bytecode (see scripts/build.mjs).
main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, report);
