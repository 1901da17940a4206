// One function per runtime verb: parse its flags, call the operation, print the result.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { existsSync, writeFileSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { StateStore } from "../../runtime/state-store.ts";
import { defaultSpec } from "../../oci/default-spec.ts";
import { createContainer, loadBundleSpec } from "../../runtime/create.ts";
import { startContainer } from "../../runtime/start.ts";
import { killContainer } from "../../runtime/kill.ts";
import { deleteContainer } from "../../runtime/delete.ts";
import { execInContainer, loadProcessFile } from "../../runtime/exec.ts";
import { stateOf, containerCgroup, statusOf } from "../../runtime/status.ts";
import { parseSignal } from "../../runtime/signals.ts";
import { commandLine, parentPid } from "../../runtime/proc.ts";
import { runtimeFeatures } from "../../runtime/features.ts";
import { runcStatsEvent, runcOomEvent } from "../../cgroups/index.ts";
import type { LinuxResources, Process } from "../../oci/spec.ts";

export interface Context {
  store: StateStore;
  warn: (msg: string) => void;
  debug?: (msg: string) => void;
  logError: (msg: string) => void;
}

type Command = (args: string[], ctx: Context) => Promise<number>;

class UsageError extends Error {
  exitCode = 2;
}

function parse<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T, usage: string) {
  const all = { ...options, help: { type: "boolean", short: "h" } } as T & { help: { type: "boolean"; short: "h" } };
  let parsed;
  try {
    parsed = parseArgs({ args, options: all, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nusage: berth-runtime ${usage}`);
  }
  if ((parsed.values as Record<string, unknown>).help) {
    console.log(`usage: berth-runtime ${usage}`);
    process.exit(0);
  }
  return parsed;
}

function needId(positionals: string[], usage: string): string {
  const id = positionals[0];
  if (!id) throw new UsageError(`missing container ID\nusage: berth-runtime ${usage}`);
  return id;
}

function uintFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

const CREATE_FLAGS = {
  bundle: { type: "string", short: "b" }, "pid-file": { type: "string" }, "console-socket": { type: "string" },
  "no-pivot": { type: "boolean" }, "no-new-keyring": { type: "boolean" }, "preserve-fds": { type: "string" },
} as const;

const spec: Command = async (args) => {
  const usage = "spec [--bundle DIR] [--rootless] [--seccomp]   (--seccomp: include Berth's default seccomp profile)";
  const { values } = parse(args, { bundle: { type: "string", short: "b" }, rootless: { type: "boolean" }, seccomp: { type: "boolean" } }, usage);
  const file = join(resolve(values.bundle ?? "."), "config.json");
  if (existsSync(file)) throw new Error(`${file} exists; remove it first`);
  writeFileSync(file, JSON.stringify(defaultSpec({ rootless: values.rootless, seccomp: values.seccomp }), null, "\t") + "\n");
  return 0;
};

const create: Command = async (args, ctx) => {
  const usage = "create ID [--bundle DIR] [--pid-file F] [--console-socket S] [--no-pivot] [--preserve-fds N]";
  const { values, positionals } = parse(args, CREATE_FLAGS, usage);
  await createContainer(ctx.store, {
    id: needId(positionals, usage), bundle: values.bundle ?? ".", pidFile: values["pid-file"], consoleSocket: values["console-socket"],
    noPivot: values["no-pivot"], preserveFds: uintFlag(values["preserve-fds"], "--preserve-fds"), debug: ctx.debug,
  });
  return 0;
};

const start: Command = async (args, ctx) => {
  const usage = "start ID";
  const { positionals } = parse(args, {}, usage);
  await startContainer(ctx.store, needId(positionals, usage), ctx.warn);
  return 0;
};

const run: Command = async (args, ctx) => {
  const usage = "run ID [--bundle DIR] [-d] [--pid-file F] [--console-socket S] [--no-pivot] [--preserve-fds N] [--keep]";
  const { values, positionals } = parse(args, { ...CREATE_FLAGS, detach: { type: "boolean", short: "d" }, keep: { type: "boolean" } }, usage);
  const id = needId(positionals, usage);
  const detach = values.detach ?? false;
  const created = await createContainer(ctx.store, {
    id, bundle: values.bundle ?? ".", pidFile: values["pid-file"], consoleSocket: values["console-socket"], noPivot: values["no-pivot"],
    preserveFds: uintFlag(values["preserve-fds"], "--preserve-fds"), foreground: !detach, debug: ctx.debug,
  });
  if (!detach) {
    // Signals meant for the container reach berth-init (our child), which forwards them.
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const) process.on(sig, () => created.init.proc.kill(sig));
  }
  try {
    await startContainer(ctx.store, id, ctx.warn);
  } catch (e) {
    await deleteContainer(ctx.store, id, true, ctx.warn);
    throw e;
  }
  if (detach) return 0;
  created.init.closeControl();
  const status = await created.init.proc.exited;
  if (!values.keep) await deleteContainer(ctx.store, id, true, ctx.warn);
  return status;
};

const state: Command = async (args, ctx) => {
  const usage = "state ID";
  const { positionals } = parse(args, {}, usage);
  const rec = ctx.store.read(needId(positionals, usage));
  console.log(JSON.stringify(stateOf(ctx.store, rec), null, "  "));
  return 0;
};

const kill: Command = async (args, ctx) => {
  const usage = "kill ID [SIGNAL] [--all]";
  const { values, positionals } = parse(args, { all: { type: "boolean", short: "a" } }, usage);
  killContainer(ctx.store, needId(positionals, usage), parseSignal(positionals[1] ?? "SIGTERM"), values.all);
  return 0;
};

const del: Command = async (args, ctx) => {
  const usage = "delete ID [--force]";
  const { values, positionals } = parse(args, { force: { type: "boolean", short: "f" } }, usage);
  await deleteContainer(ctx.store, needId(positionals, usage), values.force ?? false, ctx.warn);
  return 0;
};

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("")).join("\n");
}

const list: Command = async (args, ctx) => {
  const usage = "list [--format table|json] [--quiet]";
  const { values } = parse(args, { format: { type: "string", short: "f" }, quiet: { type: "boolean", short: "q" } }, usage);
  const format = values.format ?? "table";
  if (format !== "table" && format !== "json") throw new UsageError("--format must be table or json");
  const states = ctx.store.list().map((id) => stateOf(ctx.store, ctx.store.read(id)));
  if (values.quiet) states.forEach((s) => console.log(s.id));
  else if (format === "json") console.log(JSON.stringify(states));
  else console.log(table([["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], ...states.map((s) => [s.id, String(s.pid ?? 0), s.status, s.bundle, s.created, s.owner])]));
  return 0;
};

const ps: Command = async (args, ctx) => {
  const usage = "ps ID [--format table|json]";
  const { values, positionals } = parse(args, { format: { type: "string", short: "f" } }, usage);
  const rec = ctx.store.read(needId(positionals, usage));
  if (statusOf(ctx.store, rec) === "stopped") throw new Error(`container ${rec.id} is not running`);
  const pids = containerCgroup(rec).pids();
  if ((values.format ?? "table") === "json") console.log(JSON.stringify(pids));
  else console.log(table([["PID", "PPID", "CMD"], ...pids.map((p) => [String(p), String(parentPid(p)), commandLine(p)])]));
  return 0;
};

const exec: Command = async (args, ctx) => {
  const usage = "exec ID [--process FILE | ARGS...] [-t] [-d] [--pid-file F] [-e K=V] [--cwd DIR] [-u UID[:GID]] [--cap CAP] [--no-new-privs] [--console-socket S] [--preserve-fds N]";
  const opts = {
    process: { type: "string", short: "p" }, tty: { type: "boolean", short: "t" }, detach: { type: "boolean", short: "d" },
    "pid-file": { type: "string" }, env: { type: "string", short: "e", multiple: true }, cwd: { type: "string" },
    user: { type: "string", short: "u" }, "additional-gids": { type: "string", short: "g", multiple: true },
    cap: { type: "string", short: "c", multiple: true }, "no-new-privs": { type: "boolean" }, "console-socket": { type: "string" },
    "preserve-fds": { type: "string" }, "process-label": { type: "string" }, apparmor: { type: "string" },
  } as const;
  // The container ID is the first positional; everything after the next positional belongs to
  // the command, flags included (as with runc).
  let split = args.length;
  let seenId = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") { split = i; break; }
    if (a.startsWith("-") && a !== "-") {
      if (takesValue(a) && !a.includes("=")) i++;
      continue;
    }
    if (!seenId) { seenId = true; continue; }
    split = i;
    break;
  }
  const cmdStart = args[split] === "--" ? split + 1 : split;
  const { values, positionals } = parse(args.slice(0, split), opts, usage);
  const cmd = args.slice(cmdStart);
  const id = needId(positionals, usage);
  let proc: Process;
  if (values.process) proc = loadProcessFile(values.process);
  else {
    if (cmd.length === 0) throw new UsageError(`exec needs a command or --process FILE\nusage: berth-runtime ${usage}`);
    const rec = ctx.store.read(id);
    const base = rec.config.process!;
    proc = { ...base, args: cmd, terminal: values.tty ?? false, env: [...(base.env ?? []), ...(values.env ?? [])] };
    delete proc.consoleSize;
    if (values.cwd) proc.cwd = values.cwd;
    if (values.user) {
      const m = /^(\d+)(?::(\d+))?$/.exec(values.user);
      if (!m) throw new UsageError(`--user must be UID[:GID] with numbers, got ${values.user}`);
      proc.user = { ...base.user, uid: Number(m[1]), gid: Number(m[2] ?? 0) };
    }
    if (values["additional-gids"]) proc.user = { ...proc.user, additionalGids: values["additional-gids"].map((g) => Number(g)) };
    if (values.cap?.length) {
      const add = (set?: string[]) => [...new Set([...(set ?? []), ...values.cap!])];
      const c = base.capabilities ?? {};
      proc.capabilities = { ...c, bounding: add(c.bounding), effective: add(c.effective), permitted: add(c.permitted) };
    }
    if (values["no-new-privs"]) proc.noNewPrivileges = true;
  }
  if (values["process-label"] || values.apparmor) throw new UsageError("SELinux/AppArmor labels are not available on this host");
  return await execInContainer(ctx.store, {
    id, process: proc, detach: values.detach, pidFile: values["pid-file"], consoleSocket: values["console-socket"],
    preserveFds: uintFlag(values["preserve-fds"], "--preserve-fds"),
  });
};

function takesValue(flag: string | undefined): boolean {
  return flag !== undefined && ["-p", "--process", "--pid-file", "-e", "--env", "--cwd", "-u", "--user", "-g", "--additional-gids", "-c", "--cap",
    "--console-socket", "--preserve-fds", "--process-label", "--apparmor"].includes(flag);
}

const pause: Command = async (args, ctx) => {
  const usage = "pause ID";
  const { positionals } = parse(args, {}, usage);
  const rec = ctx.store.read(needId(positionals, usage));
  const status = statusOf(ctx.store, rec);
  if (status !== "running" && status !== "created") throw new Error(`cannot pause container ${rec.id}: it is ${status}`);
  containerCgroup(rec).freeze();
  return 0;
};

const resume: Command = async (args, ctx) => {
  const usage = "resume ID";
  const { positionals } = parse(args, {}, usage);
  const rec = ctx.store.read(needId(positionals, usage));
  if (statusOf(ctx.store, rec) !== "paused") throw new Error(`cannot resume container ${rec.id}: it is not paused`);
  containerCgroup(rec).thaw();
  return 0;
};

function bytes(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(-?\d+)([kmgt]?)b?$/i.exec(v.trim());
  if (!m) throw new UsageError(`${name}: bad size ${JSON.stringify(v)}; use a number with an optional k, m, g or t suffix`);
  return Number(m[1]) * 1024 ** " kmgt".indexOf((m[2] || " ").toLowerCase());
}

const update: Command = async (args, ctx) => {
  const usage = "update ID [-r resources.json|-] [--memory N] [--memory-reservation N] [--memory-swap N] [--cpu-shares N] [--cpu-quota N] [--cpu-period N] [--cpuset-cpus L] [--cpuset-mems L] [--pids-limit N] [--blkio-weight N]";
  const opts = {
    resources: { type: "string", short: "r" }, memory: { type: "string" }, "memory-reservation": { type: "string" }, "memory-swap": { type: "string" },
    "cpu-shares": { type: "string" }, "cpu-quota": { type: "string" }, "cpu-period": { type: "string" }, "cpuset-cpus": { type: "string" },
    "cpuset-mems": { type: "string" }, "pids-limit": { type: "string" }, "blkio-weight": { type: "string" }, "cpu-rt-period": { type: "string" },
    "cpu-rt-runtime": { type: "string" }, "cpu-idle": { type: "string" }, "l3-cache-schema": { type: "string" }, "mem-bw-schema": { type: "string" },
  } as const;
  const { values, positionals } = parse(args, opts, usage);
  const rec = ctx.store.read(needId(positionals, usage));
  if (statusOf(ctx.store, rec) === "stopped") throw new Error(`cannot update container ${rec.id}: it has stopped`);
  let r: LinuxResources = {};
  if (values.resources) {
    const text = values.resources === "-" ? await Bun.stdin.text() : readFileSync(values.resources, "utf8");
    try {
      r = JSON.parse(text) as LinuxResources;
    } catch (e) {
      throw new UsageError(`--resources: invalid JSON: ${(e as Error).message}`);
    }
  }
  const int = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw new UsageError(`${name} must be an integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const mem = { limit: bytes(values.memory, "--memory"), reservation: bytes(values["memory-reservation"], "--memory-reservation"), swap: bytes(values["memory-swap"], "--memory-swap") };
  if (Object.values(mem).some((v) => v !== undefined)) r.memory = { ...r.memory, ...Object.fromEntries(Object.entries(mem).filter(([, v]) => v !== undefined)) };
  const cpu = {
    shares: int(values["cpu-shares"], "--cpu-shares"), quota: int(values["cpu-quota"], "--cpu-quota"), period: int(values["cpu-period"], "--cpu-period"),
    realtimePeriod: int(values["cpu-rt-period"], "--cpu-rt-period"), realtimeRuntime: int(values["cpu-rt-runtime"], "--cpu-rt-runtime"),
    idle: int(values["cpu-idle"], "--cpu-idle"), cpus: values["cpuset-cpus"], mems: values["cpuset-mems"],
  };
  if (Object.values(cpu).some((v) => v !== undefined)) r.cpu = { ...r.cpu, ...Object.fromEntries(Object.entries(cpu).filter(([, v]) => v !== undefined)) };
  const pids = int(values["pids-limit"], "--pids-limit");
  if (pids !== undefined) r.pids = { limit: pids };
  const weight = int(values["blkio-weight"], "--blkio-weight");
  if (weight !== undefined) r.blockIO = { ...r.blockIO, weight };
  if (values["l3-cache-schema"] || values["mem-bw-schema"]) throw new UsageError("Intel RDT is not available on this host");
  containerCgroup(rec).update(r);
  return 0;
};

const events: Command = async (args, ctx) => {
  const usage = "events ID [--stats] [--interval SECONDS]";
  const { values, positionals } = parse(args, { stats: { type: "boolean" }, interval: { type: "string" } }, usage);
  const rec = ctx.store.read(needId(positionals, usage));
  const cg = containerCgroup(rec);
  if (values.stats) {
    console.log(JSON.stringify(runcStatsEvent(rec.id, cg.stats())));
    return 0;
  }
  const interval = Number((values.interval ?? "5s").replace(/s$/, "")) * 1000;
  if (!Number.isFinite(interval) || interval <= 0) throw new UsageError("--interval must be a positive number of seconds");
  let ooms = cg.oomKillCount();
  let nextStats = Date.now();
  while (statusOf(ctx.store, rec) !== "stopped") {
    const now = cg.oomKillCount();
    if (now > ooms) console.log(JSON.stringify(runcOomEvent(rec.id)));
    ooms = now;
    if (Date.now() >= nextStats) {
      console.log(JSON.stringify(runcStatsEvent(rec.id, cg.stats())));
      nextStats = Date.now() + interval;
    }
    await Bun.sleep(Math.min(interval, 200));
  }
  return 0;
};

const features: Command = async (args) => {
  parse(args, {}, "features");
  console.log(JSON.stringify(runtimeFeatures(), null, "  "));
  return 0;
};

void loadBundleSpec;
export const COMMANDS: Record<string, Command> = {
  spec, create, start, run, state, kill, delete: del, list, ps, exec, pause, resume, update, events, features,
};
