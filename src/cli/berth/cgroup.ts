// `berth cgroup …`: the seeds' cgcreate/cgset/cgget/cgexec/cgclassify/cgdelete/lscgroup as one
// tool that works the same on v1, v2 and hybrid hosts. NAME is a path below each hierarchy's
// root ("demo", "lab/a"). Every command validates everything before touching the kernel, prints
// one clear line on error and exits non-zero, and leaves nothing half-created.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { constants as osConstants } from "node:os";
import {
  CgroupError, type CgroupManager, type CgroupStats, DEFAULT_ROOT, discoverHierarchies,
  type Hierarchies, joinedArgv, openCgroup, parseCgroupsPath,
} from "../../cgroups/index.ts";
import { resolveKey } from "../../cgroups/keys.ts";
import { parseCount, readControl, writeControl } from "../../cgroups/files.ts";
import type { ControllerHome } from "../../cgroups/resources.ts";

const USAGE: Record<string, string> = {
  main: `Usage: berth cgroup [--root DIR] COMMAND …

Manage cgroups by name, on cgroup v1, v2 or hybrid hosts (detected at run time).

Commands:
  create -g CTRL[,CTRL…]:NAME     create NAME in the given controllers ("*" = all)
  set -r KEY=VALUE [-r …] NAME    write limits (v1 names are mapped on v2, and said so)
  get -r KEY [-r …] NAME          read control files
  exec -g CTRL[,CTRL…]:NAME -- CMD [ARG…]   run CMD inside NAME (like cgexec)
  attach PID NAME                 move a running process into NAME
  delete [-f] NAME                remove NAME (-f kills its processes first)
  list                            list cgroups as CONTROLLERS:/PATH
  stat NAME [--json]              usage against limits, once
  top NAME [-n COUNT] [-d SECS]   usage against limits, refreshed

--root DIR  where the hierarchies are mounted (default ${DEFAULT_ROOT}); a cgroup2 mount point
            such as /sys/fs/cgroup/unified gives a pure v2 view.
Run "berth cgroup COMMAND --help" for details.`,
  create: `Usage: berth cgroup create -g CTRL[,CTRL…]:NAME [-g …]
Creates NAME in each listed controller's hierarchy. CTRL is a v1 or v2 controller name
(cpu, cpuacct, cpuset, memory, pids, blkio, io, freezer, devices, hugetlb, …), "unified" for the
v2 group itself, or "*" for every mounted controller. Creating an existing group is not an error.`,
  set: `Usage: berth cgroup set -r KEY=VALUE [-r KEY=VALUE …] NAME
Writes control files of NAME, e.g. -r memory.limit_in_bytes=64M -r cpu.cfs_quota_us=20000.
Sizes take K/M/G suffixes and -1 for unlimited. On cgroup v2, the v1 names memory.limit_in_bytes,
memory.soft_limit_in_bytes, memory.memsw.limit_in_bytes, cpu.shares, cpu.cfs_quota_us,
cpu.cfs_period_us, blkio.weight, hugetlb.SIZE.limit_in_bytes and freezer.state are mapped to
their v2 files with converted values; a note on stderr says so. All values are checked first;
nothing is written if one is invalid.`,
  get: `Usage: berth cgroup get -r KEY [-r KEY …] NAME
Prints "KEY: VALUE" for each KEY (v1 names are mapped on v2 as in "set").`,
  exec: `Usage: berth cgroup exec -g CTRL[,CTRL…]:NAME [-g …] -- CMD [ARG…]
Runs CMD with its process already inside NAME in each listed controller (NAME must exist).
Exits with CMD's status, or 128+N when CMD is killed by signal N; says so when the kernel's
OOM killer or a limit was the cause.`,
  attach: `Usage: berth cgroup attach PID NAME
Moves process PID (all its threads) into NAME in every hierarchy where NAME exists.`,
  delete: `Usage: berth cgroup delete [-f] NAME
Removes NAME (and its sub-groups) from every hierarchy. Refuses while processes remain unless
-f/--force is given, which kills them first.`,
  list: `Usage: berth cgroup list
Lists every cgroup below the roots as CONTROLLERS:/PATH (like lscgroup).`,
  stat: `Usage: berth cgroup stat NAME [--json]
Shows memory, CPU, pids and hugetlb usage of NAME against its limits. --json prints runc's
"events --stats" shape.`,
  top: `Usage: berth cgroup top NAME [-n COUNT] [-d SECONDS]
Like stat, refreshed every SECONDS (default 1) COUNT times (default: until interrupted), with
CPU use as a percentage of one CPU.`,
};

class UsageError extends Error {}

interface Ctx {
  root: string;
  h: Hierarchies;
  out: (s: string) => void;
  err: (s: string) => void;
}

/** NAME as the tool accepts it: a relative path under each hierarchy root, no "..". */
function checkName(name: string | undefined): string {
  if (!name) throw new UsageError("missing cgroup NAME");
  if (name.split("/").includes("..")) throw new CgroupError(`cgroup name ${JSON.stringify(name)} contains "..", which would escape the cgroup root`);
  return parseCgroupsPath("/" + name.replace(/^\/+/, ""), name).path;
}

/** "-g cpu,memory:NAME" → controllers and path. */
function parseGroupSpec(spec: string, h: Hierarchies): { controllers: string[]; path: string } {
  const colon = spec.lastIndexOf(":");
  if (colon <= 0) throw new UsageError(`-g ${JSON.stringify(spec)} must look like CTRL[,CTRL…]:NAME, e.g. cpu,memory:demo`);
  const list = spec.slice(0, colon).split(",").map((s) => s.trim()).filter(Boolean);
  const controllers = list.includes("*") ? allControllers(h) : list;
  return { controllers, path: checkName(spec.slice(colon + 1)) };
}

function allControllers(h: Hierarchies): string[] {
  const out = [...h.v1.keys()];
  if (h.unified) out.push("unified");
  return out;
}

/** The controllers in which NAME exists right now (v1 ones, plus "unified"). */
function presentControllers(h: Hierarchies, path: string): string[] {
  const out: string[] = [];
  for (const [c, m] of h.v1) if (existsSync(join(m.mountPoint, path))) out.push(c);
  if (h.unified && existsSync(join(h.unified.mountPoint, path))) out.push("unified");
  return out;
}

function openExisting(ctx: Ctx, path: string, only?: string[]): CgroupManager {
  const present = presentControllers(ctx.h, path);
  if (!present.length) throw new CgroupError(`no cgroup named ${path} (create it with: berth cgroup create -g CTRL:${path})`);
  if (only) {
    for (const c of only) {
      const there = c === "unified" || ctx.h.v1.has(c) ? present.includes(c) : present.includes("unified") && ctx.h.v2Controllers.has(c);
      if (!there) throw new CgroupError(`cgroup ${path} does not exist in controller ${c} (create it with: berth cgroup create -g ${c}:${path})`);
    }
  }
  return openCgroup({ cgroupsPath: "/" + path, containerId: path, root: ctx.root, controllers: only ?? present });
}

function finder(ctx: Ctx, m: CgroupManager): (c: string) => ControllerHome | undefined {
  const paths = m.paths();
  return (c) => {
    if (paths[c]) return { version: 1, dir: paths[c]! };
    if (paths.unified && ctx.h.v2Controllers.has(c) && !ctx.h.v1.has(c)) return { version: 2, dir: paths.unified };
    return undefined;
  };
}

async function cmdCreate(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { g: { type: "string", short: "g", multiple: true } }, allowPositionals: true });
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}; NAME goes after the controllers: -g cpu,memory:NAME`);
  if (!values.g?.length) throw new UsageError("missing -g CTRL[,CTRL…]:NAME");
  // Open every manager first: unknown or unmounted controllers fail here, before any mkdir.
  const managers = values.g.map((spec) => {
    const { controllers, path } = parseGroupSpec(spec, ctx.h);
    return { path, m: openCgroup({ cgroupsPath: "/" + path, containerId: path, root: ctx.root, controllers }) };
  });
  const done: CgroupManager[] = [];
  try {
    for (const { m } of managers) {
      const fresh = !m.exists();
      m.create();
      if (fresh) done.push(m);
    }
  } catch (e) {
    for (const m of done) m.destroy();
    throw e;
  }
  return 0;
}

async function cmdSet(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { r: { type: "string", short: "r", multiple: true } }, allowPositionals: true });
  if (!values.r?.length) throw new UsageError("missing -r KEY=VALUE");
  if (positionals.length !== 1) throw new UsageError("give exactly one NAME after the -r options");
  const path = checkName(positionals[0]);
  const m = openExisting(ctx, path);
  const find = finder(ctx, m);
  const unified = m.paths().unified;
  // Resolve and encode every value first: one bad value means nothing is written.
  const writes = values.r.map((kv) => {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UsageError(`-r ${JSON.stringify(kv)} must be KEY=VALUE`);
    const key = kv.slice(0, eq), value = kv.slice(eq + 1);
    const rk = resolveKey(key, find, unified, `cgroup ${path}`);
    const encoded = rk.encode(value);
    checkAgainstUsage(rk.actual, encoded, rk.file);
    return { key, rk, encoded };
  });
  for (const { key, rk, encoded } of writes) {
    if (rk.note) ctx.err(`berth cgroup: ${rk.note}: ${rk.actual}=${encoded}`);
    try {
      writeControl(rk.file, encoded);
    } catch (e) {
      throw new CgroupError(`${key}: ${(e as Error).message}`);
    }
  }
  return 0;
}

/** A memory limit below what the group already uses would only make the kernel reclaim or fail. */
function checkAgainstUsage(actual: string, encoded: string, file: string): void {
  const usageFile = actual === "memory.limit_in_bytes" ? "memory.usage_in_bytes" : actual === "memory.max" ? "memory.current" : undefined;
  if (!usageFile || encoded === "max" || encoded === "-1") return;
  const usage = parseCount(readControl(join(file, "..", usageFile)));
  if (Number(encoded) < usage) {
    throw new CgroupError(`${actual}=${encoded} is below the group's current memory usage (${usage} bytes); stop some processes or choose a higher limit`);
  }
}

async function cmdGet(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { r: { type: "string", short: "r", multiple: true } }, allowPositionals: true });
  if (!values.r?.length) throw new UsageError("missing -r KEY");
  if (positionals.length !== 1) throw new UsageError("give exactly one NAME after the -r options");
  const path = checkName(positionals[0]);
  const m = openExisting(ctx, path);
  const find = finder(ctx, m);
  const lines = values.r.map((key) => {
    const rk = resolveKey(key, find, m.paths().unified, `cgroup ${path}`);
    if (rk.note) ctx.err(`berth cgroup: ${rk.note}`);
    const raw = readControl(rk.file);
    const value = rk.decode(raw);
    return value.includes("\n") ? `${key}:\n${value.split("\n").map((l) => "  " + l).join("\n")}` : `${key}: ${value}`;
  });
  ctx.out(lines.join("\n"));
  return 0;
}

async function cmdExec(args: string[], ctx: Ctx): Promise<number> {
  const dash = args.indexOf("--");
  const opts = dash < 0 ? args : args.slice(0, dash);
  const command = dash < 0 ? [] : args.slice(dash + 1);
  const { values, positionals } = parseArgs({ args: opts, options: { g: { type: "string", short: "g", multiple: true } }, allowPositionals: true });
  if (!values.g?.length) throw new UsageError("missing -g CTRL[,CTRL…]:NAME");
  const cmd = [...positionals, ...command];
  if (!cmd.length) throw new UsageError("missing command: berth cgroup exec -g CTRL:NAME -- CMD [ARG…]");
  const managers = values.g.map((spec) => {
    const { controllers, path } = parseGroupSpec(spec, ctx.h);
    return openExisting(ctx, path, controllers);
  });
  const files = [...new Set(managers.flatMap((m) => m.procsFiles()))];
  const oomBefore = managers.map((m) => m.oomKillCount());
  const child = Bun.spawn(joinedArgv(files, cmd), { stdio: ["inherit", "inherit", "inherit"] });
  const code = await child.exited;
  if (child.signalCode) {
    const signo = signalNumber(String(child.signalCode));
    const oom = managers.some((m, i) => m.oomKillCount() > oomBefore[i]!);
    ctx.err(`berth cgroup: ${cmd[0]} was killed by ${child.signalCode}${oom ? " (out of memory: the cgroup's OOM killer fired)" : ""}`);
    return 128 + signo;
  }
  if (code === 125) ctx.err(`berth cgroup: could not join the cgroup (see the message above)`);
  return code;
}

function signalNumber(name: string): number {
  return (osConstants.signals as Record<string, number>)[name] ?? 0;
}

async function cmdAttach(args: string[], ctx: Ctx): Promise<number> {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true });
  if (positionals.length !== 2) throw new UsageError("usage: berth cgroup attach PID NAME");
  if (!/^\d+$/.test(positionals[0]!)) throw new UsageError(`PID ${JSON.stringify(positionals[0])} is not a number`);
  const path = checkName(positionals[1]);
  const m = openExisting(ctx, path);
  m.addProcess(Number(positionals[0]));
  return 0;
}

async function cmdDelete(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { force: { type: "boolean", short: "f" } }, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError("usage: berth cgroup delete [-f] NAME");
  const path = checkName(positionals[0]);
  const m = openExisting(ctx, path);
  const pids = m.pids();
  if (pids.length && !values.force) {
    throw new CgroupError(`cgroup ${path} still has processes (${pids.slice(0, 8).join(" ")}${pids.length > 8 ? " …" : ""}); stop them, or use delete -f to kill them`);
  }
  m.destroy();
  return 0;
}

async function cmdList(args: string[], ctx: Ctx): Promise<number> {
  parseArgs({ args, options: {}, allowPositionals: false });
  const byPath = new Map<string, string[]>();
  const walk = (base: string, rel: string, label: string, depth: number) => {
    if (depth > 8) return;
    let entries;
    try { entries = readdirSync(join(base, rel), { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = `${rel}/${e.name}`;
      byPath.set(p, [...(byPath.get(p) ?? []), label]);
      walk(base, p, label, depth + 1);
    }
  };
  const seen = new Set<string>();
  for (const [c, m] of ctx.h.v1) {
    if (seen.has(m.mountPoint)) continue;
    seen.add(m.mountPoint);
    walk(m.mountPoint, "", m.controllers.filter((x) => ctx.h.v1.get(x) === m).join(",") || c, 0);
  }
  if (ctx.h.unified) walk(ctx.h.unified.mountPoint, "", "unified", 0);
  const lines = [...byPath.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([p, ls]) => `${ls.join(",")}:${p}`);
  if (lines.length) ctx.out(lines.join("\n"));
  return 0;
}

function human(bytes: number): string {
  if (bytes < 0) return "unlimited";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i ? v.toFixed(1) : v}${units[i]}`;
}

function pct(used: number, limit: number): string {
  return limit > 0 ? ` (${((used / limit) * 100).toFixed(0)}%)` : "";
}

function statTable(path: string, m: CgroupManager, s: CgroupStats, cpuPercent?: number): string {
  const rows: [string, string, string, string][] = [["RESOURCE", "USAGE", "LIMIT", "DETAILS"]];
  const paths = m.paths();
  if (paths.memory) {
    rows.push(["memory", human(s.memory.usage), `${human(s.memory.limit)}${pct(s.memory.usage, s.memory.limit)}`,
      `peak ${human(s.memory.maxUsage)}, failcnt ${s.memory.failcnt}, oom_kill ${s.memory.oomKills}, cache ${human(s.memory.cache)}`]);
  }
  if (paths.cpu || paths.cpuacct || paths.unified) {
    const quota = cpuQuota(paths.cpu);
    rows.push(["cpu", `${(s.cpu.total / 1e9).toFixed(2)}s${cpuPercent !== undefined ? `, ${cpuPercent.toFixed(0)}% now` : ""}`, quota,
      `throttled ${s.cpu.throttledPeriods}/${s.cpu.periods} periods, ${(s.cpu.throttledTime / 1e9).toFixed(2)}s`]);
  }
  if (paths.pids) rows.push(["pids", String(s.pids.current), s.pids.limit < 0 ? "unlimited" : String(s.pids.limit), ""]);
  for (const [size, hs] of Object.entries(s.hugetlb)) {
    rows.push([`hugetlb ${size}`, human(hs.usage), human(hs.limit), `failcnt ${hs.failcnt}`]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const frozen = (() => { try { return m.frozen() ? " [frozen]" : ""; } catch { return ""; } })();
  return [`cgroup ${path} (${m.layout})${frozen}: ${m.pids().length} processes`,
    ...rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd())].join("\n");
}

function cpuQuota(cpuDir: string | undefined): string {
  if (!cpuDir) return "-";
  try {
    const q = Number(readControl(join(cpuDir, "cpu.cfs_quota_us")).trim());
    const p = Number(readControl(join(cpuDir, "cpu.cfs_period_us")).trim());
    return q < 0 ? "unlimited" : `${((q / p) * 100).toFixed(0)}% of a CPU (${q}/${p}us)`;
  } catch {
    return "-";
  }
}

async function cmdStat(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { json: { type: "boolean" } }, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError("usage: berth cgroup stat NAME [--json]");
  const path = checkName(positionals[0]);
  const m = openExisting(ctx, path);
  const s = m.stats();
  if (values.json) {
    const { runcStatsEvent } = await import("../../cgroups/index.ts");
    ctx.out(JSON.stringify(runcStatsEvent(path, s)));
  } else {
    ctx.out(statTable(path, m, s));
  }
  return 0;
}

async function cmdTop(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { n: { type: "string", short: "n" }, d: { type: "string", short: "d" } }, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError("usage: berth cgroup top NAME [-n COUNT] [-d SECONDS]");
  const count = values.n === undefined ? Infinity : Number(values.n);
  const delay = values.d === undefined ? 1 : Number(values.d);
  if (!(count > 0) || !Number.isFinite(delay) || delay <= 0) throw new UsageError("-n must be a positive count and -d a positive number of seconds");
  const path = checkName(positionals[0]);
  const m = openExisting(ctx, path);
  let last: { cpu: number; at: number } | undefined;
  for (let i = 0; i < count; i++) {
    if (i > 0) await Bun.sleep(delay * 1000);
    if (!m.exists()) throw new CgroupError(`cgroup ${path} was removed`);
    const s = m.stats();
    const now = performance.now();
    const cpuPercent = last ? ((s.cpu.total - last.cpu) / 1e6 / (now - last.at)) * 100 : undefined;
    last = { cpu: s.cpu.total, at: now };
    ctx.out((process.stdout.isTTY && i > 0 ? "\x1b[H\x1b[2J" : "") + statTable(path, m, s, cpuPercent));
  }
  return 0;
}

const COMMANDS: Record<string, (args: string[], ctx: Ctx) => Promise<number>> = {
  create: cmdCreate, set: cmdSet, get: cmdGet, exec: cmdExec, attach: cmdAttach, delete: cmdDelete,
  list: cmdList, stat: cmdStat, top: cmdTop,
};

export async function cgroupCommand(argv: string[]): Promise<number> {
  const out = (s: string) => { process.stdout.write(s + "\n"); };
  const err = (s: string) => { process.stderr.write(s + "\n"); };
  let args = [...argv];
  let root = DEFAULT_ROOT;
  while (args[0] === "--root" || args[0]?.startsWith("--root=")) {
    if (args[0] === "--root") { root = args[1] ?? ""; args = args.slice(2); } else { root = args[0].slice(7); args = args.slice(1); }
    if (!root) { err("berth cgroup: --root needs a directory"); return 2; }
  }
  const name = args[0];
  if (!name || name === "--help" || name === "-h" || name === "help") {
    (name ? out : err)(USAGE.main!);
    return name ? 0 : 2;
  }
  const run = COMMANDS[name];
  if (!run) {
    err(`berth cgroup: unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(", ")} (see berth cgroup --help)`);
    return 2;
  }
  const rest = args.slice(1);
  const dash = rest.indexOf("--");
  if ((dash < 0 ? rest : rest.slice(0, dash)).some((a) => a === "--help" || a === "-h")) {
    out(USAGE[name]!);
    return 0;
  }
  try {
    const h = discoverHierarchies(root);
    return await run(rest, { root, h, out, err });
  } catch (e) {
    if (e instanceof UsageError) {
      err(`berth cgroup ${name}: ${e.message} (see berth cgroup ${name} --help)`);
      return 2;
    }
    if (e instanceof CgroupError || (e as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" || (e as Error).name === "TypeError") {
      err(`berth cgroup ${name}: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
}
