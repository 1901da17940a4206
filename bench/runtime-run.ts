// Times `RUNTIME --root TMP run -b BUNDLE ID` of /bin/true (create + start + wait + delete) for
// berth-runtime, runc and crun, interleaved in one run, with bare `unshare` as the floor.
//
//   bun bench/runtime-run.ts [--runs N] [--warmup N] [--only name,name] [--json]
//
// Needs root. The bundle is busybox-static's /bin/busybox with /bin/true -> busybox; the config
// asks for new pid, network, ipc, uts and mount namespaces, terminal false, no cgroup resources.
// crun 1.8 refuses a hybrid cgroup layout, so on such hosts it runs in a private mount namespace
// with /sys/fs/cgroup/unified unmounted; that wrapper is timed on its own and subtracted.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

interface Options {
  runs: number;
  warmup: number;
  only: string[] | null;
  json: boolean;
}

/** One thing to time: `argv(id, bundle)` is run to completion and must exit 0. */
interface Subject {
  name: string;
  argv: (id: string, bundle: string) => string[];
  /** A runtime: checked first to run the bundle's process and pass on its exit status. */
  isRuntime?: boolean;
  /** Why it cannot be measured here, if it cannot. */
  unavailable?: string;
}

interface Sample {
  ms: number;
  cpuMs: number;
}

interface Row {
  name: string;
  runs: number;
  failures: number;
  firstError?: string;
  medianMs: number;
  p90Ms: number;
  minMs: number;
  cpuMedianMs: number;
  ratioVsRunc: number | null;
}

const repo = resolve(import.meta.dir, "..");
const BUSYBOX = "/bin/busybox";
const UNIFIED = "/sys/fs/cgroup/unified";

function parseOptions(argv: string[]): Options {
  const opts: Options = { runs: 50, warmup: 3, only: null, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--runs" || arg === "-n") opts.runs = positiveInt(arg, value());
    else if (arg === "--warmup") opts.warmup = positiveInt(arg, value(), true);
    else if (arg === "--only") opts.only = value().split(",");
    else if (arg === "--json") opts.json = true;
    else if (arg === "--help" || arg === "-h") {
      console.log("usage: bun bench/runtime-run.ts [--runs N] [--warmup N] [--only name,name] [--json]");
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (see --help)`);
  }
  return opts;
}

function positiveInt(flag: string, text: string, zeroOk = false): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) throw new Error(`${flag} wants a whole number, got "${text}"`);
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

function subjects(roots: string): Subject[] {
  const root = (name: string): string => {
    const dir = join(roots, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const berth = join(repo, "bin/berth-runtime");
  const berthRoot = root("berth");
  const runcRoot = root("runc");
  const crunRoot = root("crun");
  const hybrid = isHybridCgroup();
  // The wrapper crun needs on a hybrid host; `exec` keeps sh out of the timed process tree.
  const crunWrap = (cmd: string): string[] => ["unshare", "-m", "sh", "-c", `umount ${UNIFIED} && exec ${cmd}`];
  const list: Subject[] = [
    {
      name: "berth-runtime",
      argv: (id, bundle) => [berth, "--root", berthRoot, "run", "-b", bundle, id],
      isRuntime: true,
      unavailable: existsSync(berth) ? undefined : `${berth} is missing`,
    },
    {
      name: "runc",
      argv: (id, bundle) => ["runc", "--root", runcRoot, "run", "-b", bundle, id],
      isRuntime: true,
      unavailable: hasCommand("runc") ? undefined : "runc not installed",
    },
    {
      name: "crun",
      argv: (id, bundle) => {
        const cmd = ["crun", "--root", crunRoot, "run", "-b", bundle, id];
        return hybrid ? crunWrap(cmd.join(" ")) : cmd;
      },
      isRuntime: true,
      unavailable: hasCommand("crun") ? undefined : "crun not installed",
    },
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
function checkExitStatus(subject: Subject, bundle: string, id: string): string | undefined {
  const proc = Bun.spawnSync(subject.argv(id, bundle), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode === 1) return undefined;
  const text = (proc.stderr.toString() + proc.stdout.toString()).trim().split("\n")[0] ?? "";
  return `running /bin/false exited ${proc.exitCode ?? proc.signalCode}, not 1${text ? `: ${text}` : ""}`;
}

function runOnce(subject: Subject, bundle: string, id: string): Sample | { error: string } {
  const start = performance.now();
  const proc = Bun.spawnSync(subject.argv(id, bundle), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - start;
  if (proc.exitCode !== 0) {
    const text = (proc.stderr.toString() + proc.stdout.toString()).trim().split("\n")[0] ?? "";
    return { error: `exit ${proc.exitCode ?? proc.signalCode}: ${text}` };
  }
  // rusage of the child and every descendant it waited for (the container's init included).
  const cpu = proc.resourceUsage.cpuTime;
  return { ms, cpuMs: Number(cpu.user + cpu.system) / 1000 };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function summarise(name: string, samples: Sample[], failures: number, firstError: string | undefined): Row {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const cpu = samples.map((s) => s.cpuMs).sort((a, b) => a - b);
  return {
    name,
    runs: samples.length,
    failures,
    firstError,
    medianMs: quantile(ms, 0.5),
    p90Ms: quantile(ms, 0.9),
    minMs: ms[0] ?? NaN,
    cpuMedianMs: quantile(cpu, 0.5),
    ratioVsRunc: null,
  };
}

interface BenchResult {
  rows: Row[];
  skipped: { name: string; why: string }[];
  leftovers: string[];
  runs: number;
}

function bench(opts: Options): BenchResult {
  const work = mkdtempSync(join(tmpdir(), "berth-bench-run-"));
  try {
    const bundle = makeBundle(join(work, "bundle"), "true");
    const falseBundle = makeBundle(join(work, "bundle-false"), "false");
    const all = subjects(join(work, "roots")).filter((s) => !opts.only || opts.only.some((o) => s.name.startsWith(o)));
    // A runtime that "runs" /bin/true without running it would look fast: make sure each one
    // really runs the container's process and reports its exit status.
    for (const s of all) if (s.isRuntime && !s.unavailable) s.unavailable = checkExitStatus(s, falseBundle, `bench-${process.pid}-check`);
    const skipped = all.filter((s) => s.unavailable).map((s) => ({ name: s.name, why: s.unavailable! }));
    const active = all.filter((s) => !s.unavailable);
    const samples = new Map<string, Sample[]>(active.map((s) => [s.name, []]));
    const failures = new Map<string, { count: number; first?: string }>(active.map((s) => [s.name, { count: 0 }]));
    let seq = 0;
    for (let round = 0; round < opts.warmup + opts.runs; round++) {
      // Interleaved so that drift on the machine hits every subject alike.
      for (const subject of active) {
        const result = runOnce(subject, bundle, `bench-${process.pid}-${seq++}`);
        if ("error" in result) {
          const f = failures.get(subject.name)!;
          f.count++;
          f.first ??= result.error;
        } else if (round >= opts.warmup) samples.get(subject.name)!.push(result);
      }
    }
    const rows = active.map((s) => summarise(s.name, samples.get(s.name)!, failures.get(s.name)!.count, failures.get(s.name)!.first));
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
    const runc = rows.find((r) => r.name === "runc");
    for (const row of rows) row.ratioVsRunc = runc && runc.runs > 0 && row.runs > 0 ? row.medianMs / runc.medianMs : null;
    // `run` must delete what it created: anything left in a state root is a bug worth seeing.
    const rootsDir = join(work, "roots");
    const leftovers = readdirSync(rootsDir)
      .map((name) => ({ name, left: readdirSync(join(rootsDir, name)) }))
      .filter((r) => r.left.length > 0)
      .map((r) => `${r.name}: ${r.left.length} entries left in its --root (${r.left.slice(0, 3).join(", ")})`);
    return { rows, skipped, leftovers, runs: opts.runs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function printTable(result: BenchResult): void {
  const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : "-");
  const header = ["subject", "median ms", "p90 ms", "min ms", "cpu ms", "× runc", "ok/failed"];
  const lines = result.rows.map((r) => [
    r.name,
    fmt(r.medianMs),
    fmt(r.p90Ms),
    fmt(r.minMs),
    fmt(r.cpuMedianMs),
    r.ratioVsRunc === null ? "-" : r.ratioVsRunc.toFixed(2),
    `${r.runs}/${r.failures}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const show = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`run of /bin/true (create+start+wait+delete), ${result.runs} interleaved runs each; cpu = user+sys of the process tree (median)`);
  console.log(show(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) console.log(show(l));
  for (const r of result.rows) if (r.firstError) console.log(`${r.name}: ${r.failures} failed runs, first: ${r.firstError}`);
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
  else printTable(result);
}
