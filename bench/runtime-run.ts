// Times `RUNTIME --root TMP run -b BUNDLE ID` of /bin/true (create + start + wait + delete) for
// berth-runtime, runc and crun, interleaved in one run, with bare `unshare` as the floor.
//
//   bun bench/runtime-run.ts [--runs N] [--warmup N] [--only name,name] [--phases] [--json]
//
// Needs root. The bundle is busybox-static's /bin/busybox with /bin/true -> busybox; the config
// asks for new pid, network, ipc, uts and mount namespaces, terminal false, no cgroup resources.
// crun 1.8 refuses a hybrid cgroup layout, so on such hosts it runs in a private mount namespace
// with /sys/fs/cgroup/unified unmounted; that wrapper is timed on its own and subtracted.
// --phases also times `create`, `start` and `delete` on their own, to show where time goes.
// --berth PATH times another berth-runtime (e.g. one from `scripts/conformance.sh snapshot COMMIT`).
import { errorOf, execute, printTable, Tally, type Outcome, type Timing } from "./timing.ts";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

interface Options {
  runs: number;
  warmup: number;
  only: string[] | null;
  phases: boolean;
  json: boolean;
  /** The berth-runtime to time (default: this checkout's bin/berth-runtime). */
  berth: string;
}

/** One thing to time: `argv(id)` is run to completion and must exit 0. */
interface Subject {
  name: string;
  argv: (id: string) => string[];
  /** For runtimes: the runtime's CLI with its --root, given the rest of the arguments. */
  cli?: (args: string[]) => string[];
  /** Why it cannot be measured here, if it cannot. */
  unavailable?: string;
}

interface Row extends Timing {
  ratioVsRunc: number | null;
}

interface BenchResult {
  rows: Row[];
  /** With --phases: "create RUNTIME", "start RUNTIME", "delete RUNTIME" rows. */
  phases: Row[];
  skipped: { name: string; why: string }[];
  leftovers: string[];
  runs: number;
}

const repo = resolve(import.meta.dir, "..");
const BUSYBOX = "/bin/busybox";
const UNIFIED = "/sys/fs/cgroup/unified";
const USAGE = "usage: bun bench/runtime-run.ts [--runs N] [--warmup N] [--only name,name] [--phases] [--berth PATH] [--json]";

function parseOptions(argv: string[]): Options {
  const opts: Options = { runs: 50, warmup: 3, only: null, phases: false, json: false, berth: join(repo, "bin/berth-runtime") };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--runs" || arg === "-n") opts.runs = wholeNumber(arg, value(), 1);
    else if (arg === "--warmup") opts.warmup = wholeNumber(arg, value(), 0);
    else if (arg === "--only") opts.only = value().split(",");
    else if (arg === "--phases") opts.phases = true;
    else if (arg === "--berth") opts.berth = resolve(value());
    else if (arg === "--json") opts.json = true;
    else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return opts;
}

function wholeNumber(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} wants a whole number >= ${min}, got "${text}"`);
  return n;
}

/** A runtime-spec bundle running busybox `program`, with the namespaces `runc spec` asks for. */
function makeBundle(dir: string, program: "true" | "false"): string {
  const rootfs = join(dir, "rootfs");
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  for (const d of ["proc", "sys", "dev", "tmp", "etc"]) mkdirSync(join(rootfs, d));
  copyFileSync(BUSYBOX, join(rootfs, "bin/busybox"));
  symlinkSync("busybox", join(rootfs, `bin/${program}`));
  symlinkSync("busybox", join(rootfs, "bin/sh"));
  const caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
  const config = {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [`/bin/${program}`],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: { bounding: caps, effective: caps, permitted: caps, ambient: caps },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "bench",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    ],
    linux: {
      namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }],
      maskedPaths: ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
      readonlyPaths: ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 2));
  return dir;
}

function hasCommand(name: string): boolean {
  return Bun.which(name) !== null;
}

/** True when /sys/fs/cgroup/unified is a mount point, i.e. the host uses the hybrid layout. */
function isHybridCgroup(): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === UNIFIED);
}

function subjects(bundle: string, roots: string, berth: string): Subject[] {
  const root = (name: string): string => {
    const dir = join(roots, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const hybrid = isHybridCgroup();
  // The wrapper crun needs on a hybrid host; `exec` keeps sh out of the timed process tree.
  const crunWrap = (cmd: string): string[] => ["unshare", "-m", "sh", "-c", `umount ${UNIFIED} && exec ${cmd}`];
  const runtime = (name: string, command: string, unavailable: string | undefined, wrap?: (argv: string[]) => string[]): Subject => {
    const stateRoot = root(name);
    const cli = (args: string[]): string[] => {
      const argv = [command, "--root", stateRoot, ...args];
      return wrap ? wrap(argv) : argv;
    };
    return { name, cli, argv: (id) => cli(["run", "-b", bundle, id]), unavailable };
  };
  const list: Subject[] = [
    runtime("berth-runtime", berth, existsSync(berth) ? undefined : `${berth} is missing`),
    runtime("runc", "runc", hasCommand("runc") ? undefined : "runc not installed"),
    runtime("crun", "crun", hasCommand("crun") ? undefined : "crun not installed", hybrid ? (argv) => crunWrap(argv.join(" ")) : undefined),
    {
      // What any Bun-based CLI pays before doing anything: the floor for berth-runtime's design.
      name: "bun -e 0 (startup)",
      argv: () => [process.execPath, "-e", "0"],
    },
    {
      name: "unshare -fpiumn (floor)",
      argv: () => ["unshare", "-fpiumn", "--mount-proc", "true"],
    },
  ];
  if (hybrid) list.push({ name: "crun wrapper alone", argv: () => crunWrap("true") });
  return list;
}

/** Runs a runtime once on the `/bin/false` bundle: it must exit 1, as the container did. */
function checkExitStatus(subject: Subject, falseBundle: string, id: string, logFile: string): string | undefined {
  const o = execute(subject.cli!(["run", "-b", falseBundle, id]), logFile);
  const err = errorOf(o, 1);
  return err && `running /bin/false: ${err} (wanted exit 1, the container's status)`;
}

/** Polls `state` (untimed) until the container has stopped, for at most 5 s. */
function waitStopped(subject: Subject, id: string, logFile: string): boolean {
  const deadline = performance.now() + 5000;
  while (performance.now() < deadline) {
    const o = execute(subject.cli!(["state", id]), logFile);
    if (o.exitCode !== 0) return false;
    const state = JSON.parse(readFileSync(logFile, "utf8")) as { status?: string };
    if (state.status === "stopped") return true;
    Bun.sleepSync(2);
  }
  return false;
}

/** create, start, (wait, untimed), delete — each timed on its own. */
function runPhases(subject: Subject, bundle: string, id: string, logFile: string): { samples: Record<string, Outcome> } | { error: string } {
  const create = execute(subject.cli!(["create", "--bundle", bundle, id]), logFile);
  const createErr = errorOf(create);
  if (createErr) return { error: `create: ${createErr}` };
  const start = execute(subject.cli!(["start", id]), logFile);
  const startErr = errorOf(start);
  const stopped = !startErr && waitStopped(subject, id, logFile);
  const del = execute(subject.cli!(["delete", ...(stopped ? [] : ["--force"]), id]), logFile);
  if (startErr) return { error: `start: ${startErr}` };
  if (!stopped) return { error: "the container did not stop within 5 s" };
  const deleteErr = errorOf(del);
  if (deleteErr) return { error: `delete: ${deleteErr}` };
  return { samples: { create, start, delete: del } };
}

function setRatios(rows: Row[], runcName: (row: Row) => string): void {
  for (const row of rows) {
    const runc = rows.find((r) => r.name === runcName(row));
    row.ratioVsRunc = runc && runc.runs > 0 && row.runs > 0 ? row.medianMs / runc.medianMs : null;
  }
}

function bench(opts: Options): BenchResult {
  const work = mkdtempSync(join(tmpdir(), "berth-bench-run-"));
  const logFile = join(work, "output.log");
  try {
    const bundle = makeBundle(join(work, "bundle"), "true");
    const falseBundle = makeBundle(join(work, "bundle-false"), "false");
    const rootsDir = join(work, "roots");
    const all = subjects(bundle, rootsDir, opts.berth).filter((s) => !opts.only || opts.only.some((o) => s.name.startsWith(o)));
    // A runtime that "ran" /bin/true without running it would look fast: make sure each one
    // really runs the container's process and reports its exit status.
    for (const s of all) {
      if (s.cli && !s.unavailable) s.unavailable = checkExitStatus(s, falseBundle, `bench-${process.pid}-check`, logFile);
    }
    const skipped = all.filter((s) => s.unavailable).map((s) => ({ name: s.name, why: s.unavailable! }));
    const active = all.filter((s) => !s.unavailable);
    const tallies = new Map(active.map((s) => [s.name, new Tally(s.name)]));
    const phaseTallies = new Map<string, Tally>();
    const phaseTally = (name: string): Tally => {
      let t = phaseTallies.get(name);
      if (!t) phaseTallies.set(name, (t = new Tally(name)));
      return t;
    };
    let seq = 0;
    for (let round = 0; round < opts.warmup + opts.runs; round++) {
      const measured = round >= opts.warmup;
      // Interleaved so that drift on the machine hits every subject alike.
      for (const subject of active) {
        const o = execute(subject.argv(`bench-${process.pid}-${seq++}`), logFile);
        const err = errorOf(o);
        if (err) tallies.get(subject.name)!.fail(err);
        else if (measured) tallies.get(subject.name)!.samples.push(o);
      }
      if (!opts.phases) continue;
      for (const subject of active) {
        if (!subject.cli) continue;
        const result = runPhases(subject, bundle, `bench-${process.pid}-${seq++}`, logFile);
        if ("error" in result) phaseTally(`create+start+delete ${subject.name}`).fail(result.error);
        else if (measured) for (const [phase, sample] of Object.entries(result.samples)) phaseTally(`${phase} ${subject.name}`).samples.push(sample);
      }
    }
    const rows: Row[] = [...tallies.values()].map((t) => ({ ...t.timing(), ratioVsRunc: null }));
    const wrapper = rows.find((r) => r.name === "crun wrapper alone");
    const crun = rows.find((r) => r.name === "crun");
    if (wrapper && crun && crun.runs > 0) {
      rows.push({
        ...crun,
        name: "crun minus wrapper",
        medianMs: crun.medianMs - wrapper.medianMs,
        p90Ms: crun.p90Ms - wrapper.medianMs,
        minMs: crun.minMs - wrapper.minMs,
        cpuMedianMs: crun.cpuMedianMs - wrapper.cpuMedianMs,
      });
    }
    setRatios(rows, () => "runc");
    // Grouped by command (create, start, delete), runtimes in the order they ran.
    const order = ["create", "start", "delete", "create+start+delete"];
    const phaseOf = (row: Row): string => row.name.split(" ")[0]!;
    const phases: Row[] = [...phaseTallies.values()].map((t) => ({ ...t.timing(), ratioVsRunc: null })).sort((a, b) => order.indexOf(phaseOf(a)) - order.indexOf(phaseOf(b)));
    setRatios(phases, (row) => `${phaseOf(row)} runc`);
    // `run` and `delete` must remove what they created: anything left in a state root is a bug.
    const leftovers = readdirSync(rootsDir)
      .map((name) => ({ name, left: readdirSync(join(rootsDir, name)) }))
      .filter((r) => r.left.length > 0)
      .map((r) => `${r.name}: ${r.left.length} entries left in its --root (${r.left.slice(0, 3).join(", ")})`);
    return { rows, phases, skipped, leftovers, runs: opts.runs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function printRows(title: string, rows: Row[]): void {
  const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : "-");
  const header = ["subject", "median ms", "p90 ms", "min ms", "cpu ms", "× runc", "ok/failed"];
  const lines = rows.map((r) => [
    r.name,
    fmt(r.medianMs),
    fmt(r.p90Ms),
    fmt(r.minMs),
    fmt(r.cpuMedianMs),
    r.ratioVsRunc === null ? "-" : r.ratioVsRunc.toFixed(2),
    `${r.runs}/${r.failures}`,
  ]);
  console.log(title);
  printTable(lines, header);
  for (const r of rows) if (r.firstError) console.log(`${r.name}: ${r.failures} failed runs, first: ${r.firstError}`);
}

function printResult(result: BenchResult): void {
  printRows(
    `run of /bin/true (create+start+wait+delete), ${result.runs} interleaved runs each; cpu = user+sys of the process tree (median)`,
    result.rows,
  );
  if (result.phases.length > 0) {
    console.log("");
    printRows("each command on its own (the wait for the container to stop is not timed)", result.phases);
  }
  for (const s of result.skipped) console.log(`${s.name}: not measured (${s.why})`);
  for (const l of result.leftovers) console.log(`warning: ${l}`);
}

if (import.meta.main) {
  if (process.getuid?.() !== 0) {
    console.error("runtime-run: containers need root; run as root");
    process.exit(2);
  }
  if (!existsSync(BUSYBOX)) {
    console.error(`runtime-run: ${BUSYBOX} is missing; apt-get install busybox-static`);
    process.exit(2);
  }
  const opts = parseOptions(process.argv.slice(2));
  const result = bench(opts);
  if (opts.json) console.log(JSON.stringify(result, null, 2));
  else printResult(result);
}
