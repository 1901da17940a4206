// `berth cgroup …`: the seeds' cgcreate/cgset/cgget/cgexec/cgclassify/cgdelete/lscgroup as one
// tool that works the same on v1, v2 and hybrid hosts. NAME is a path below each hierarchy's
// root ("demo", "lab/a"). Every command validates everything before touching the kernel, prints
// one clear line on error and exits non-zero, and leaves nothing half-created.
import { constants as osConstants } from "node:os";
import { CgroupError, type CgroupStats, DEFAULT_ROOT, runcStatsEvent } from "../../cgroups/index.ts";
import { type CgroupHost, type GroupRef, type GroupReport, attachProcess, createGroups, deleteGroup, getValues, groupExists, groupReport, joinGroups, listGroups, openHost, setValues } from "../../cgroups/named.ts";
import { type CommandSpec, type FlagSpec, type Parsed, bool, int, list, num, runParsed, str } from "./args.ts";
import type { Io } from "./io.ts";

// The group's page, and each verb's description (its usage line and options come from its table).
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
  create: `Creates NAME in each listed controller's hierarchy. CTRL is a v1 or v2 controller name
(cpu, cpuacct, cpuset, memory, pids, blkio, io, freezer, devices, hugetlb, …), "unified" for the
v2 group itself, or "*" for every mounted controller. Where cpuacct is a hierarchy of its own,
cpu brings it along (CPU usage is counted there). Creating an existing group is not an error.`,
  set: `Writes control files of NAME (a group, or a container's name or ID), e.g. -r memory.limit_in_bytes=64M -r cpu.cfs_quota_us=20000.
Sizes take K/M/G suffixes and -1 for unlimited. On cgroup v2, the v1 names memory.limit_in_bytes,
memory.soft_limit_in_bytes, memory.memsw.limit_in_bytes, cpu.shares, cpu.cfs_quota_us,
cpu.cfs_period_us, blkio.weight, hugetlb.SIZE.limit_in_bytes and freezer.state are mapped to
their v2 files with converted values; a note on stderr says so. All values are checked first;
nothing is written if one is invalid. A container's recorded limits (inspect's HostConfig, and
what its next start applies) change with \`berth update\`, not here: a control file is one
hierarchy's view of one run, and not every file maps to a docker limit.`,
  get: `Prints "KEY: VALUE" for each KEY (v1 names are mapped on v2 as in "set"). NAME may be a container's name or ID.`,
  exec: `Runs CMD with its process already inside NAME in each listed controller (NAME must exist).
Exits with CMD's status, or 128+N when CMD is killed by signal N; says so when the kernel's
OOM killer or a limit was the cause.`,
  attach: `Moves process PID (all its threads) into NAME in every hierarchy where NAME exists.`,
  delete: `Removes NAME (and its sub-groups) from every hierarchy. Refuses while processes remain unless
-f/--force is given, which kills them first.`,
  list: `Lists every cgroup below the roots as CONTROLLERS:/PATH (like lscgroup).`,
  stat: `Shows memory, CPU, pids and hugetlb usage of NAME (a group, or a container's name or ID)
against its limits. CPU time is read where the kernel counts it (cpuacct, or cgroup v2's cpu.stat).
--json prints runc's "events --stats" shape.`,
  top: `Like stat, refreshed every SECONDS (default 1) COUNT times (default: until interrupted), with
CPU use as a percentage of one CPU.`,
};

class UsageError extends Error {}

interface Ctx {
  host: CgroupHost;
  out: (s: string) => void;
  err: (s: string) => void;
  /** A container's group, by container name or ID (NAME with --cgroup-parent, else berth/ID). */
  containerGroup?: (ref: string) => Promise<ContainerGroup | undefined>;
}

export interface ContainerGroup {
  /** The group's NAME (its path below each hierarchy's root). */
  path: string;
  name: string;
}

/** NAME as given, or, when no group has that name, the group of the container it names. */
async function groupName(name: string, ctx: Ctx): Promise<{ path: string; container?: string }> {
  if (!name.includes("/") && !groupExists(ctx.host, name) && ctx.containerGroup) {
    const c = await ctx.containerGroup(name);
    if (c) return { path: c.path, container: c.name };
  }
  return { path: name };
}

/** "-g cpu,memory:NAME" → controllers and name (the name is checked where it is used). */
function parseGroupSpec(spec: string): GroupRef {
  const colon = spec.lastIndexOf(":");
  if (colon <= 0) throw new UsageError(`-g ${JSON.stringify(spec)} must look like CTRL[,CTRL…]:NAME, e.g. cpu,memory:demo`);
  return { controllers: spec.slice(0, colon).split(",").map((s) => s.trim()).filter(Boolean), name: spec.slice(colon + 1) };
}

const GROUP = list("group", "g", "Controllers and group: CTRL[,CTRL…]:NAME", "CTRL:NAME");
const SET_VARIABLE = list("variable", "r", "Control file to write, and its value (v1 names are mapped on v2)", "KEY=VALUE");
const GET_VARIABLE = list("variable", "r", "Control file to read (v1 names are mapped on v2)", "KEY");

/** One verb: its table (help and parsing from ../flags.ts) and what it does. */
interface Verb<F extends readonly FlagSpec[]> {
  spec: CommandSpec<F>;
  run(p: Parsed<F[number]>, ctx: Ctx): Promise<number>;
}
const verb = <const F extends readonly FlagSpec[]>(spec: CommandSpec<F>, run: Verb<F>["run"]): Verb<F> => ({ spec, run });

const COMMANDS = {
  create: verb({ name: "cgroup create", usage: "cgroup create -g CTRL[,CTRL…]:NAME [-g …]", summary: USAGE.create!, flags: [GROUP] }, async (p, ctx) => {
    if (p.args.length) throw new UsageError(`unexpected argument ${p.args[0]}; NAME goes after the controllers: -g cpu,memory:NAME`);
    const groups = p.get("group");
    if (!groups.length) throw new UsageError("missing -g CTRL[,CTRL…]:NAME");
    createGroups(ctx.host, groups.map(parseGroupSpec));
    return 0;
  }),

  set: verb({ name: "cgroup set", usage: "cgroup set -r KEY=VALUE [-r KEY=VALUE …] NAME", summary: USAGE.set!, flags: [SET_VARIABLE] }, async (p, ctx) => {
    const pairs = p.get("variable");
    if (!pairs.length) throw new UsageError("missing -r KEY=VALUE");
    if (p.args.length !== 1) throw new UsageError("give exactly one NAME after the -r options");
    const values = pairs.map((kv) => {
      const eq = kv.indexOf("=");
      if (eq <= 0) throw new UsageError(`-r ${JSON.stringify(kv)} must be KEY=VALUE`);
      return { key: kv.slice(0, eq), value: kv.slice(eq + 1) };
    });
    const target = await groupName(p.args[0]!, ctx);
    setValues(ctx.host, target.path, values, (w) => ctx.err(`berth cgroup: ${w.note}: ${w.actual}=${w.value}`));
    // The engine's record is the container's config; a raw control file is not (see USAGE.set).
    if (target.container) ctx.err(`berth cgroup: note: ${target.path} is container ${target.container}'s group; this change lasts until the container restarts and inspect does not show it — use \`berth update\` to change the container's limits`);
    return 0;
  }),

  get: verb({ name: "cgroup get", usage: "cgroup get -r KEY [-r KEY …] NAME", summary: USAGE.get!, flags: [GET_VARIABLE] }, async (p, ctx) => {
    const keys = p.get("variable");
    if (!keys.length) throw new UsageError("missing -r KEY");
    if (p.args.length !== 1) throw new UsageError("give exactly one NAME after the -r options");
    const lines = getValues(ctx.host, (await groupName(p.args[0]!, ctx)).path, keys).map(({ key, value, note }) => {
      if (note) ctx.err(`berth cgroup: ${note}`);
      return value.includes("\n") ? `${key}:\n${value.split("\n").map((l) => "  " + l).join("\n")}` : `${key}: ${value}`;
    });
    ctx.out(lines.join("\n"));
    return 0;
  }),

  exec: verb({ name: "cgroup exec", usage: "cgroup exec -g CTRL[,CTRL…]:NAME [-g …] [--] CMD [ARG…]", summary: USAGE.exec!, flags: [GROUP], stopAtPositional: true }, async (p, ctx) => {
    const groups = p.get("group");
    if (!groups.length) throw new UsageError("missing -g CTRL[,CTRL…]:NAME");
    const cmd = p.args;
    if (!cmd.length) throw new UsageError("missing command: berth cgroup exec -g CTRL:NAME -- CMD [ARG…]");
    const joining = joinGroups(ctx.host, groups.map(parseGroupSpec), cmd);
    const oomBefore = joining.oomKills();
    const child = Bun.spawn(joining.argv, { stdio: ["inherit", "inherit", "inherit"] });
    const code = await child.exited;
    if (child.signalCode) {
      const oom = joining.oomKills() > oomBefore;
      ctx.err(`berth cgroup: ${cmd[0]} was killed by ${child.signalCode}${oom ? " (out of memory: the cgroup's OOM killer fired)" : ""}`);
      return 128 + signalNumber(String(child.signalCode));
    }
    if (code === 125) ctx.err(`berth cgroup: could not join the cgroup (see the message above)`);
    return code;
  }),

  attach: verb({ name: "cgroup attach", usage: "cgroup attach PID NAME", summary: USAGE.attach!, flags: [], minArgs: 2, maxArgs: 2 }, async (p, ctx) => {
    const [pid, name] = p.args as [string, string];
    if (!/^\d+$/.test(pid)) throw new UsageError(`PID ${JSON.stringify(pid)} is not a number`);
    attachProcess(ctx.host, name, Number(pid));
    return 0;
  }),

  delete: verb({ name: "cgroup delete", usage: "cgroup delete [-f] NAME", summary: USAGE.delete!, flags: [bool("force", "f", "Kill the group's processes first")], minArgs: 1, maxArgs: 1 }, async (p, ctx) => {
    deleteGroup(ctx.host, p.args[0]!, p.get("force"));
    return 0;
  }),

  list: verb({ name: "cgroup list", usage: "cgroup list", summary: USAGE.list!, flags: [], maxArgs: 0 }, async (_p, ctx) => {
    const lines = listGroups(ctx.host).map((g) => `${g.controllers.join(",")}:${g.path}`);
    if (lines.length) ctx.out(lines.join("\n"));
    return 0;
  }),

  stat: verb({ name: "cgroup stat", usage: "cgroup stat NAME [--json]", summary: USAGE.stat!, flags: [bool("json", undefined, "Print runc's \"events --stats\" JSON")], minArgs: 1, maxArgs: 1 }, async (p, ctx) => {
    const r = groupReport(ctx.host, (await groupName(p.args[0]!, ctx)).path);
    ctx.out(p.get("json") ? JSON.stringify(runcStatsEvent(r.path, r.stats)) : statTable(r));
    return 0;
  }),

  top: verb({
    name: "cgroup top", usage: "cgroup top NAME [-n COUNT] [-d SECONDS]", summary: USAGE.top!, minArgs: 1, maxArgs: 1,
    flags: [int("iterations", "n", "Refresh COUNT times (default: until interrupted)", "COUNT"), num("delay", "d", "Seconds between refreshes", { value: "SECONDS", default: 1 })],
  }, async (p, ctx) => {
    const count = p.get("iterations") ?? Infinity;
    const delay = p.get("delay");
    if (!(count > 0) || !(delay > 0)) throw new UsageError("-n must be a positive count and -d a positive number of seconds");
    let last: { cpu: number; at: number } | undefined;
    const target = (await groupName(p.args[0]!, ctx)).path;
    for (let i = 0; i < count; i++) {
      if (i > 0) await Bun.sleep(delay * 1000);
      const r = groupReport(ctx.host, target);
      const now = performance.now();
      const cpuPercent = last ? ((r.stats.cpu.total - last.cpu) / 1e6 / (now - last.at)) * 100 : undefined;
      last = { cpu: r.stats.cpu.total, at: now };
      ctx.out((process.stdout.isTTY && i > 0 ? "\x1b[H\x1b[2J" : "") + statTable(r, cpuPercent));
    }
    return 0;
  }),
};

function signalNumber(name: string): number {
  return (osConstants.signals as Record<string, number>)[name] ?? 0;
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

function statTable(r: GroupReport, cpuPercent?: number): string {
  const s: CgroupStats = r.stats;
  const rows: [string, string, string, string][] = [["RESOURCE", "USAGE", "LIMIT", "DETAILS"]];
  if (r.has.memory) {
    rows.push(["memory", human(s.memory.usage), `${human(s.memory.limit)}${pct(s.memory.usage, s.memory.limit)}`,
      `peak ${human(s.memory.maxUsage)}, failcnt ${s.memory.failcnt}, oom_kill ${s.memory.oomKills}, cache ${human(s.memory.cache)}`]);
  }
  if (r.has.cpu) {
    const q = r.cpuQuota;
    const quota = !q ? "-" : q.quota < 0 ? "unlimited" : `${((q.quota / q.period) * 100).toFixed(0)}% of a CPU (${q.quota}/${q.period}us)`;
    const usage = r.has.cpuUsage ? `${(s.cpu.total / 1e9).toFixed(2)}s${cpuPercent !== undefined ? `, ${cpuPercent.toFixed(0)}% now` : ""}` : "not counted (no cpuacct group)";
    rows.push(["cpu", usage, quota,
      `throttled ${s.cpu.throttledPeriods}/${s.cpu.periods} periods, ${(s.cpu.throttledTime / 1e9).toFixed(2)}s`]);
  }
  if (r.has.pids) rows.push(["pids", String(s.pids.current), s.pids.limit < 0 ? "unlimited" : String(s.pids.limit), ""]);
  for (const [size, hs] of Object.entries(s.hugetlb)) {
    rows.push([`hugetlb ${size}`, human(hs.usage), human(hs.limit), `failcnt ${hs.failcnt}`]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return [`cgroup ${r.path} (${r.layout})${r.frozen ? " [frozen]" : ""}: ${r.processes} processes`,
    ...rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd())].join("\n");
}

/** berth cgroup's own flags, before the verb. */
const GROUP_SPEC = {
  name: "cgroup", usage: "cgroup [--root DIR] COMMAND", summary: USAGE.main!, stopAtPositional: true,
  flags: [str("root", undefined, "Where the hierarchies are mounted", { value: "DIR", default: DEFAULT_ROOT })],
} as const;

export async function cgroupCommand(argv: string[], opts: { containerGroup?: Ctx["containerGroup"] } = {}): Promise<number> {
  const out = (s: string) => { process.stdout.write(s + "\n"); };
  const err = (s: string) => { process.stderr.write(s + "\n"); };
  const io: Io = { out: (t) => out(t.replace(/\n$/, "")), err: (t) => err(t.replace(/\n$/, "")) };
  if (!argv.length) {
    err(USAGE.main!);
    return 2;
  }
  let name = "";
  try {
    // `berth cgroup --help` prints the group's page (its verbs), not just its one flag.
    return await runParsed(GROUP_SPEC, argv, { out: () => out(USAGE.main!), err: io.err }, async (g) => {
      const [verbName, ...rest] = g.args;
      name = verbName ?? "";
      const root = g.get("root");
      if (!root) throw new UsageError("--root needs a directory");
      if (!verbName || verbName === "help") {
        (verbName ? out : err)(USAGE.main!);
        return verbName ? 0 : 2;
      }
      const cmd = (COMMANDS as Record<string, Verb<readonly FlagSpec[]>>)[verbName];
      if (!cmd) {
        err(`berth cgroup: unknown command ${JSON.stringify(verbName)}; commands: ${Object.keys(COMMANDS).join(", ")} (see berth cgroup --help)`);
        return 2;
      }
      return runParsed(cmd.spec, rest, io, (p) => cmd.run(p, { host: openHost(root), out, err, containerGroup: opts.containerGroup }));
    });
  } catch (e) {
    if (e instanceof UsageError) {
      err(`berth cgroup ${name}: ${e.message} (see berth cgroup ${name} --help)`);
      return 2;
    }
    if (e instanceof CgroupError || (e as Error).name === "TypeError") {
      err(`berth cgroup ${name}: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
}
