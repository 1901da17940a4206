// The engine as a user meets it: `berth run --rm --network none busybox true` against
// `podman run --rm` and `docker run --rm` of the same image, interleaved in one run (medians,
// ratios); then the memory of each container's monitor (berth-monitor vs podman's conmon), and
// N containers started with `run -d` and removed with `rm -f`, counting what is left behind.
//
//   bun bench/engine-run.ts [--runs 30] [--warmup 3] [--only berth,podman] [--rss 10] [--churn 200] [--berth PATH] [--base PATH] [--json]
//
// --berth PATH times another berth command (e.g. a checkout whose bin/berth runs a bundle).
// --base PATH also times a second berth (e.g. a copy of build/ made before a change) in the same
// interleaved rounds, with its own state root: before and after a change in one run.
// Needs root. Everything lives in a temp dir (berth --root, podman --root/--runroot), removed
// afterwards. The busybox image is made by scripts/make-busybox-image.sh and given to podman with
// `berth save busybox | podman load` (same layer, same image ID). Podman 4.3's default rlimits
// (nofile 1048576) fail without CAP_SYS_RESOURCE, and crun 1.8 refuses a hybrid cgroup layout,
// so podman runs with a temp containers.conf holding `default_ulimits = []` and `--runtime runc`.
// Docker is measured only when `docker info` answers (a dockerd is running); it needs the image
// loaded the same way (`berth save busybox | docker load`). Before each timed command the bench
// waits until the previous one's background work is over (podman's conmon runs a cleanup podman
// after `podman run --rm` has returned): no subject is timed while another engine still works.
import { errorOf, execute, median, printTable, Tally, type Outcome, type Timing } from "./timing.ts";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

interface Options {
  runs: number;
  warmup: number;
  only: string[] | null;
  /** Containers whose monitor memory is read (0: skip). */
  rss: number;
  /** Containers started and removed by the leak check (0: skip). */
  churn: number;
  json: boolean;
  /** The berth command to time (default: this checkout's bin/berth). */
  berth: string;
  /** A second berth command timed beside it ("berth base"), or null. */
  base: string | null;
}

interface Subject {
  name: string;
  /** argv of the timed command. */
  argv: string[];
  /** For engines: the engine's CLI with its state flags, given the rest of the arguments. */
  cli?: (args: string[]) => string[];
  env?: Record<string, string>;
  unavailable?: string;
}

interface Row extends Timing {
  /** podman's median divided by this one's (how many times faster than podman). */
  speedupVsPodman: number | null;
}

interface MemRow {
  name: string;
  n: number;
  /** kB, median over the containers */
  vmRssKb: number;
  pssKb: number;
  privateKb: number;
}

interface ChurnResult {
  containers: number;
  started: number;
  removed: number;
  failures: string[];
  /** Counts after every container was removed; all must be 0. */
  left: Record<string, number>;
}

interface BenchResult {
  runs: number;
  rows: Row[];
  skipped: { name: string; why: string }[];
  memory: MemRow[];
  churn: ChurnResult | null;
}

const repo = resolve(import.meta.dir, "..");
const USAGE = "usage: bun bench/engine-run.ts [--runs N] [--warmup N] [--only name,name] [--rss N] [--churn N] [--berth PATH] [--base PATH] [--json]";

function parseOptions(argv: string[]): Options {
  const opts: Options = { runs: 100, warmup: 3, only: null, rss: 10, churn: 200, json: false, berth: join(repo, "bin/berth"), base: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const whole = (min: number): number => {
      const text = value();
      const n = Number(text);
      if (!Number.isInteger(n) || n < min) throw new Error(`${arg} wants a whole number >= ${min}, got "${text}"`);
      return n;
    };
    if (arg === "--runs" || arg === "-n") opts.runs = whole(1);
    else if (arg === "--warmup") opts.warmup = whole(0);
    else if (arg === "--only") opts.only = value().split(",");
    else if (arg === "--rss") opts.rss = whole(0);
    else if (arg === "--churn") opts.churn = whole(0);
    else if (arg === "--berth") opts.berth = resolve(value());
    else if (arg === "--base") opts.base = resolve(value());
    else if (arg === "--json") opts.json = true;
    else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return opts;
}

function must(o: Outcome, what: string): string {
  const err = errorOf(o);
  if (err) throw new Error(`${what}: ${err}`);
  return o.output;
}

/** The engines under test, each with its own state in `work`. */
function subjects(work: string, logFile: string, berthCommand: string, baseCommand: string | null): Subject[] {
  const berthRoot = join(work, "berth");
  const berth = (args: string[]) => [berthCommand, "--root", berthRoot, ...args];
  const list: Subject[] = [{ name: "berth", argv: berth(["run", "--rm", "--network", "none", "busybox", "true"]), cli: berth }];
  // A user namespace of its own (issue 13: within 1.2x of the plain run): same root and image,
  // no cli (the image is berth's already). Needs the berth user's subordinate ids.
  const subids = ["/etc/subuid", "/etc/subgid"].every((f) => existsSync(f) && /^berth:/m.test(readFileSync(f, "utf8")));
  list.push({
    name: "berth --userns=auto", argv: berth(["run", "--rm", "--network", "none", "--userns=auto", "busybox", "true"]),
    ...(subids ? {} : { unavailable: "no berth entry in /etc/subuid and /etc/subgid (scripts/install-system-deps.sh adds it)" }),
  });
  const base = baseCommand ? (args: string[]) => [baseCommand, "--root", join(work, "berth-base"), ...args] : null;
  if (base) list.push({ name: "berth base", argv: base(["run", "--rm", "--network", "none", "busybox", "true"]), cli: base });

  const pmDir = join(work, "podman");
  mkdirSync(pmDir, { recursive: true });
  const conf = join(pmDir, "containers.conf");
  writeFileSync(conf, "[containers]\ndefault_ulimits = []\n");
  const podman = (args: string[]) => ["podman", "--root", join(pmDir, "root"), "--runroot", join(pmDir, "run"), "--storage-driver", "overlay",
    "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file", ...args];
  const pmEnv = { CONTAINERS_CONF: conf };
  list.push({
    name: "podman", argv: podman(["run", "--rm", "--network", "none", "busybox", "true"]), cli: podman, env: pmEnv,
    unavailable: Bun.which("podman") ? undefined : "podman not installed",
  });

  const docker = (args: string[]) => ["docker", ...args];
  let dockerWhy: string | undefined;
  if (!Bun.which("docker")) dockerWhy = "docker not installed";
  else if (errorOf(execute(docker(["info"]), logFile))) dockerWhy = "no docker engine answers `docker info` on this host";
  list.push({ name: "docker", argv: docker(["run", "--rm", "--network", "none", "berth-bench/busybox", "true"]), cli: docker, unavailable: dockerWhy });

  // What any Bun-based command pays before doing anything, and berth's own start-up.
  list.push({ name: "bun -e 0 (start-up floor)", argv: [process.execPath, "-e", "0"] });
  list.push({ name: "berth --version", argv: berth(["--version"]) });
  if (base) list.push({ name: "berth base --version", argv: base(["--version"]) });
  return list;
}

/** Makes busybox:latest in berth's root and hands the same image to podman (and docker). */
function prepareImages(all: Subject[], work: string, logFile: string): void {
  const berth = all.find((s) => s.name === "berth")!;
  must(execute(["bash", join(repo, "scripts/make-busybox-image.sh")], logFile, { BERTH_ROOT: join(work, "berth"), BUN: process.execPath }), "make-busybox-image.sh");
  if (!must(execute(berth.cli!(["images", "-q", "busybox"]), logFile), "berth images")) throw new Error("make-busybox-image.sh exited 0 but berth has no busybox image");
  const tar = join(work, "busybox.tar");
  must(execute(["sh", "-c", `"$@" > ${tar}`, "sh", ...berth.cli!(["save", "busybox"])], logFile), "berth save busybox");
  for (const s of all) {
    if (s.unavailable || !s.cli || s.name === "berth") continue;
    const load = execute(s.cli(["load", "-i", tar]), logFile, s.env);
    if (errorOf(load)) { s.unavailable = `loading the image failed: ${errorOf(load)}`; continue; }
    if (s.name === "docker") must(execute(s.cli(["tag", "busybox:latest", "berth-bench/busybox"]), logFile), "docker tag");
  }
}

/** An engine that "ran" true without running it would look fast: `false` must exit 1. */
function checkExitStatus(s: Subject, logFile: string): string | undefined {
  const argv = s.argv.map((a) => (a === "true" ? "false" : a));
  const err = errorOf(execute(argv, logFile, s.env), 1);
  return err && `running busybox false: ${err} (wanted exit 1, the container's status)`;
}

/** Engines' keepers that outlive a `run --rm` command: podman's conmon goes on to run its cleanup
 *  (another podman process) after `podman run` has returned. */
const LEFTOVERS = new Set(["conmon", "podman", "berth-monitor", "containerd-shim", "runc", "crun"]);

/**
 * Waits (up to 2 s) until no engine process from the previous command is still working, so that
 * no subject is timed while another engine finishes in the background. That background time is
 * on nobody's clock (podman's post-exit cleanup is not in its median either).
 */
function settle(work: string): void {
  const deadline = Date.now() + 2000;
  // Only this run's engines (their arguments name its temp dir): on a shared machine other
  // people's monitors live on and would make every round wait the whole 2 s.
  const ours = (p: string) => {
    try { return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(work); } catch { return false; }
  };
  const busy = () => readdirSync("/proc").some((p) => /^\d+$/.test(p) && LEFTOVERS.has(commOf(Number(p))) && ours(p));
  while (busy() && Date.now() < deadline) Bun.sleepSync(2);
}

function timeRuns(active: Subject[], opts: Options, logFile: string, work: string): Row[] {
  const tallies = active.map((s) => new Tally(s.name));
  for (let round = 0; round < opts.warmup + opts.runs; round++) {
    // Interleaved, so that drift on the machine hits every subject alike.
    active.forEach((s, i) => {
      settle(work);
      const o = execute(s.argv, logFile, s.env);
      const err = errorOf(o);
      const t = tallies[i]!;
      if (err) t.fail(err);
      else if (round >= opts.warmup) t.samples.push(o);
    });
  }
  const rows: Row[] = tallies.map((t) => ({ ...t.timing(), speedupVsPodman: null }));
  const podman = rows.find((r) => r.name === "podman");
  for (const r of rows) r.speedupVsPodman = podman && podman.runs > 0 && r.runs > 0 ? podman.medianMs / r.medianMs : null;
  return rows;
}

function memOf(pid: number): { vmRss: number; pss: number; priv: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(text)?.[1] ?? NaN);
  return { vmRss: kb(status, "VmRSS"), pss: kb(rollup, "Pss"), priv: kb(rollup, "Private_Clean") + kb(rollup, "Private_Dirty") };
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

function commOf(pid: number): string {
  try { return readFileSync(`/proc/${pid}/comm`, "utf8").trim(); } catch { return "?"; }
}

/**
 * Starts n `sleep` containers per engine with `run -d` and reads the memory of each one's
 * keeper: the parent of the container's init (berth-monitor, podman's conmon).
 */
function measureMonitors(active: Subject[], n: number, logFile: string): MemRow[] {
  const rows: MemRow[] = [];
  for (const s of active) {
    if (!s.cli) continue;
    const image = s.name === "docker" ? "berth-bench/busybox" : "busybox";
    const ids: string[] = [];
    try {
      for (let i = 0; i < n; i++) ids.push(must(execute(s.cli(["run", "-d", "--network", "none", image, "sleep", "3600"]), logFile, s.env), `${s.name} run -d`).split("\n").pop()!);
      Bun.sleepSync(300); // let every monitor settle into its loop
      const mems = [];
      let keeper = "";
      for (const id of ids) {
        const pid = Number(must(execute(s.cli(["inspect", "-f", "{{.State.Pid}}", id]), logFile, s.env), `${s.name} inspect`));
        const parent = parentOf(pid);
        keeper = commOf(parent);
        mems.push(memOf(parent));
      }
      rows.push({
        name: `${s.name} (${keeper})`, n: mems.length,
        vmRssKb: median(mems.map((m) => m.vmRss)), pssKb: median(mems.map((m) => m.pss)), privateKb: median(mems.map((m) => m.priv)),
      });
    } finally {
      if (ids.length) execute(s.cli(["rm", "-f", ...ids]), logFile, s.env);
    }
  }
  return rows;
}

/** Live berth-monitor processes whose arguments mention `root`. */
function monitorsUnder(root: string): number {
  let count = 0;
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
      if (argv[0]?.endsWith("berth-monitor") && argv.some((a) => a.startsWith(root + "/"))) count++;
    } catch { /* gone meanwhile */ }
  }
  return count;
}

/** Cgroup directories named after any of ids, in every hierarchy under /sys/fs/cgroup. */
function cgroupsOf(ids: Set<string>): number {
  let count = 0;
  const walk = (dir: string, depth: number) => {
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (ids.has(e.name)) count++;
      else if (depth < 3) walk(join(dir, e.name), depth + 1);
    }
  };
  walk("/sys/fs/cgroup", 0);
  return count;
}

function entries(dir: string): number {
  try { return readdirSync(dir).length; } catch { return 0; }
}

/** n containers started with `berth run -d` (all running at once), then removed with `rm -f`. */
function churn(berth: Subject, n: number, root: string, logFile: string): ChurnResult {
  const ids: string[] = [];
  const failures: string[] = [];
  for (let i = 0; i < n; i++) {
    const o = execute(berth.cli!(["run", "-d", "--network", "none", "busybox", "sleep", "3600"]), logFile);
    const err = errorOf(o);
    if (err) failures.push(`run -d #${i}: ${err}`);
    else ids.push(o.output.split("\n").pop()!);
  }
  const running = execute(berth.cli!(["ps", "-q"]), logFile).output.split("\n").filter(Boolean).length;
  let removed = 0;
  for (const id of ids) {
    const o = execute(berth.cli!(["rm", "-f", id]), logFile);
    const err = errorOf(o);
    if (err) failures.push(`rm -f ${id.slice(0, 12)}: ${err}`);
    else removed++;
  }
  Bun.sleepSync(500); // monitors leave by themselves once their container is reaped
  const idSet = new Set(ids);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m.startsWith(root + "/"));
  const sleeps = readdirSync("/proc").filter((p) => /^\d+$/.test(p) && commOf(Number(p)) === "sleep").filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, "utf8") === "sleep\u00003600\u0000"; } catch { return false; }
  }).length;
  return {
    containers: n, started: running, removed, failures,
    left: {
      "containers in ps -a": execute(berth.cli!(["ps", "-aq"]), logFile).output.split("\n").filter(Boolean).length,
      "mounts under the root": mounts.length,
      "cgroup dirs of these containers": cgroupsOf(idSet),
      "berth-monitor processes": monitorsUnder(root),
      "container processes (sleep 3600)": sleeps,
      "container dirs": entries(join(root, "containers")),
      // (@seccomp holds compiled seccomp programs, a cache shared by all containers)
      "runtime state dirs": existsSync(join(root, "runtime")) ? readdirSync(join(root, "runtime")).filter((f) => f !== "@seccomp").length : 0,
      // the image store keeps its gc.lock in the same directory
      "container lock files": readdirSync(join(root, "locks")).filter((f) => /^[0-9a-f]{64}\.lock$/.test(f)).length,
      "sockets": entries(join(root, "sock")),
      "volumes": entries(join(root, "volumes")),
    },
  };
}

function bench(opts: Options): BenchResult {
  const work = mkdtempSync(join(tmpdir(), "berth-bench-engine-"));
  const logFile = join(work, "output.log");
  const all = subjects(work, logFile, opts.berth, opts.base).filter((s) => !opts.only || opts.only.some((o) => s.name.startsWith(o)) || s.name === "berth");
  try {
    prepareImages(all, work, logFile);
    for (const s of all) if (s.cli && !s.unavailable) s.unavailable = checkExitStatus(s, logFile);
    const skipped = all.filter((s) => s.unavailable).map((s) => ({ name: s.name, why: s.unavailable! }));
    const active = all.filter((s) => !s.unavailable);
    const rows = timeRuns(active, opts, logFile, work);
    const memory = opts.rss > 0 ? measureMonitors(active, opts.rss, logFile) : [];
    const berth = active.find((s) => s.name === "berth");
    const churnResult = berth && opts.churn > 0 ? churn(berth, opts.churn, join(work, "berth"), logFile) : null;
    return { runs: opts.runs, rows, skipped, memory, churn: churnResult };
  } finally {
    const podman = all.find((s) => s.name === "podman");
    if (podman && !podman.unavailable) {
      // podman's overlay storage stays mounted until it is reset
      execute(podman.cli!(["rm", "-af"]), logFile, podman.env);
      execute(podman.cli!(["system", "reset", "-f"]), logFile, podman.env);
    }
    const docker = all.find((s) => s.name === "docker");
    if (docker && !docker.unavailable) execute(docker.cli!(["rmi", "berth-bench/busybox"]), logFile);
    for (const [cmd, berthRoot] of [[opts.berth, join(work, "berth")], [opts.base, join(work, "berth-base")]] as const) {
      if (!cmd || !existsSync(berthRoot)) continue;
      const left = execute([cmd, "--root", berthRoot, "ps", "-aq"], logFile).output.split("\n").filter(Boolean);
      if (left.length) execute([cmd, "--root", berthRoot, "rm", "-f", ...left], logFile);
    }
    const stillMounted = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m.startsWith(work + "/"));
    if (stillMounted.length) console.error(`engine-run: warning: ${stillMounted.length} mounts left under ${work} (not removed): ${stillMounted.slice(0, 3).join(", ")}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

function print(r: BenchResult): void {
  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
  console.log(`run --rm --network none busybox true, ${r.runs} interleaved runs each; cpu = user+sys of the command and what it waited for (median)`);
  printTable(r.rows.map((x) => [x.name, fmt(x.medianMs), fmt(x.p90Ms), fmt(x.minMs), fmt(x.cpuMedianMs),
    x.speedupVsPodman === null ? "-" : `${x.speedupVsPodman.toFixed(2)}x`, `${x.runs}/${x.failures}`]),
  ["subject", "median ms", "p90 ms", "min ms", "cpu ms", "podman/this", "ok/failed"]);
  for (const x of r.rows) if (x.firstError) console.log(`${x.name}: ${x.failures} failed runs, first: ${x.firstError}`);
  for (const s of r.skipped) console.log(`${s.name}: not measured (${s.why})`);
  if (r.memory.length) {
    console.log(`\nmemory of each container's keeper process (median over ${r.memory[0]!.n} running containers, kB)`);
    printTable(r.memory.map((m) => [m.name, String(m.vmRssKb), String(m.pssKb), String(m.privateKb)]), ["engine (process)", "VmRSS", "Pss", "Private"]);
  }
  if (r.churn) {
    const c = r.churn;
    console.log(`\n${c.containers} containers: run -d (all running at once: ${c.started} in ps), then rm -f (${c.removed} removed); left behind:`);
    printTable(Object.entries(c.left).map(([k, v]) => [k, String(v)]), ["what", "count"]);
    for (const f of c.failures.slice(0, 5)) console.log(`failure: ${f}`);
    if (c.failures.length > 5) console.log(`… ${c.failures.length - 5} more failures`);
  }
}

if (import.meta.main) {
  if (process.getuid?.() !== 0) {
    console.error("engine-run: containers need root; run as root");
    process.exit(2);
  }
  const opts = parseOptions(process.argv.slice(2));
  const result = bench(opts);
  if (opts.json) console.log(JSON.stringify(result, null, 2));
  else print(result);
  const leaked = result.churn ? Object.values(result.churn.left).some((v) => v > 0) || result.churn.failures.length > 0 : false;
  process.exit(leaked ? 1 : 0);
}
