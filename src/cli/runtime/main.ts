// berth-runtime: the OCI runtime's command line, runc-compatible so containerd and people who
// know runc can drive it. This file parses and prints only; operations live in src/runtime.
import { FlagError, HelpRequested, bool, commandSpec, flagLines, parseFlags, str } from "../flags.ts";
import { appendText, writeText } from "../../sys/rawfile.ts";
import { StateStore, DEFAULT_ROOT } from "../../runtime/state-store.ts";
import { type Command, type Context, programName } from "./args.ts";
import { OCI_VERSION } from "../../oci/version.ts";
import { RUNTIME_VERSION } from "../../runtime/version.ts";
import { trace } from "../../sys/trace.ts";

// Each verb lives in its own file and is loaded only when used: start-up time is the runtime's
// first cost in every container start.
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  spec: () => import("./spec.ts"), create: () => import("./create.ts"), start: () => import("./start.ts"),
  run: () => import("./run.ts"), state: () => import("./state.ts"), kill: () => import("./kill.ts"),
  delete: () => import("./delete.ts"), list: () => import("./list.ts"), ps: () => import("./ps.ts"),
  exec: () => import("./exec.ts"), pause: () => import("./pause.ts"), resume: () => import("./resume.ts"),
  update: () => import("./update.ts"), events: () => import("./events.ts"), features: () => import("./features.ts"),
  checkpoint: () => import("./checkpoint.ts").then((m) => ({ command: m.checkpoint })),
  restore: () => import("./checkpoint.ts").then((m) => ({ command: m.restore })),
};

// runc's global flags. --rootless is accepted for compatibility: berth-runtime detects rootless
// operation by itself (euid), so every value means the same.
const GLOBALS = commandSpec({
  name: "", usage: "[global options] COMMAND [options] [args]", summary: "",
  flags: [
    str("root", undefined, "state directory", { default: DEFAULT_ROOT }),
    str("log", undefined, "also write errors and debug messages to FILE"),
    str("log-format", undefined, "text or json", { default: "text" }),
    bool("debug", undefined, "log the plan handed to the C core"),
    bool("help", "h", "this help; COMMAND --help for a command's options"),
    bool("version", "v", "print the version"),
    bool("systemd-cgroup", undefined, "cgroupsPath is systemd's slice:prefix:name (parsed, then refused: berth-runtime manages cgroupfs directly)"),
    str("rootless", undefined, "accepted for runc compatibility (rootless operation is detected)", { hidden: true }),
  ],
  // Global options end at the command name; everything after belongs to the command.
  stopAtPositional: true,
});

// The global help in urfave/cli's layout (NAME, USAGE, COMMANDS, GLOBAL OPTIONS), as runc prints
// it, under the name the program was run by (programName).
function usage(name: string): string {
  return `NAME:
   ${name} - Open Container Initiative runtime (berth-runtime: runc-compatible, runtime-spec 1.x)

USAGE:
   ${name} [global options] COMMAND [options] [args]

COMMANDS:
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
   checkpoint, restore
             not supported (no CRIU): answered with an error saying so

GLOBAL OPTIONS:
${flagLines(GLOBALS.flags, "runc").join("\n")}`;
}

async function main(argv: string[]): Promise<number> {
  let global;
  try {
    global = parseFlags(GLOBALS, argv, "runc");
  } catch (e) {
    if (!(e instanceof HelpRequested)) throw e;
    console.log(usage(programName()));
    return 0;
  }
  if (global.get("version")) {
    // runc's three lines (NAME version X, commit:, spec:), which tools that look for a runc parse.
    console.log(`${programName()} version ${RUNTIME_VERSION}\ncommit: ${buildId()}\nspec: ${OCI_VERSION}`);
    return 0;
  }
  const [name, ...rest] = global.args;
  if (!name) {
    console.log(usage(programName()));
    return 2;
  }
  const logFile = global.get("log");
  const logFormat = global.get("log-format");
  const json = logFormat === "json";
  if (!["text", "json"].includes(logFormat)) throw new UsageError(`--log-format must be text or json`);
  // runc's log lines (logrus): JSON objects, or `time="…" level=… msg="…"` with msg quoted.
  const line = (level: string, msg: string, asJson: boolean) =>
    asJson ? JSON.stringify({ level, msg, time: new Date().toISOString() }) : `time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}`;
  const log = (level: string, msg: string) => {
    if (!logFile) return;
    appendText(logFile, line(level, msg, json) + "\n"); // the log is best effort
  };
  const ctx: Context = {
    store: new StateStore(global.get("root")),
    // writeText(2, …), not process.stderr: that getter loads Node's stream library (~4 ms).
    warn: (msg) => { writeText(2, `berth-runtime: warning: ${msg}\n`); log("warning", msg); },
    // As runc: debug lines go to --log when there is one, else to stderr (in the text format).
    debug: global.get("debug") ? (msg) => { if (logFile) log("debug", msg); else writeText(2, line("debug", msg, false) + "\n"); } : undefined,
    logError: (msg) => log("error", msg),
    systemdCgroup: global.get("systemd-cgroup"),
  };
  try {
    const load = COMMANDS[name];
    // `foo -h` gets runc's (urfave/cli's) answer.
    if (!load && (rest.includes("-h") || rest.includes("--help"))) throw new UsageError(`No help topic for '${name}'`);
    if (!load) throw new UsageError(`unknown command ${JSON.stringify(name)}; see berth-runtime --help`);
    const { command } = await load();
    trace(`main: ${name} loaded`);
    return await command(rest, ctx);
  } catch (e) {
    ctx.logError((e as Error).message);
    throw e;
  }
}

export class UsageError extends Error {}

declare const BERTH_BUILD_ID: string | undefined;

/** What `-v` names as the commit: the build's source hash (scripts/build.mjs), or "development". */
function buildId(): string {
  return typeof BERTH_BUILD_ID === "string" ? `berth-source-${BERTH_BUILD_ID.slice(0, 12)}` : "development";
}

function report(e: unknown): void {
  const err = e as Error & { exitCode?: number };
  writeText(2, `berth-runtime: ${err.message}\n`);
  process.exitCode = err.exitCode ?? (err instanceof UsageError || err instanceof FlagError ? 2 : 1);
}

// No top-level await: the entry can then be precompiled to bytecode (see scripts/build.mjs).
main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, report);
