// Times `ctr run --rm --runc-binary RUNTIME IMAGE ID true` — a container through containerd and
// its runc v2 shim — with berth-runtime, runc and crun as the shim's binary, interleaved in one run.
//
//   bun bench/ctr-run.ts [--runs N] [--warmup N] [--only name,name] [--berth PATH] [--base PATH] [--json]
//
// --base PATH also times another berth-runtime (e.g. a copy of build/ made before a change, with
// berth-init beside it) in the same interleaved rounds, as "berth-runtime (base)".
//
// Needs root and containerd (scripts/install-system-deps.sh). Starts its own containerd (temp
// root, state, socket, config without the CRI plugin) in a cgroup of its own, imports a busybox image made with
// `berth save` from the host's busybox-static, and stops containerd at the end. crun 1.8 refuses a
// hybrid cgroup layout: on such a host its binary is a wrapper script that runs crun in a private
// mount namespace with /sys/fs/cgroup/unified unmounted (noted in the output).
// Besides ctr's wall time, each run's CPU on the engine's side: containerd, its shim and the
// runtime commands the shim runs share that cgroup (the container has its own), so its usage
// before and after a run (plus ctr's own) is what the run cost — a figure that a busy machine
// skews far less than wall time. A run starts once the previous run's shim has exited, so that
// its clean-up (`delete --force`) is counted for the runtime it belongs to.
import { errorOf, execute, printTable, Tally, type Timing } from "./timing.ts";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(import.meta.dir, "..");
const IMAGE = "docker.io/library/busybox:latest";
const NS = `bench-${process.pid}`;
const UNIFIED = "/sys/fs/cgroup/unified";
const USAGE = "usage: bun bench/ctr-run.ts [--runs N] [--warmup N] [--only name,name] [--berth PATH] [--base PATH] [--json]";

interface Options { runs: number; warmup: number; only: string[] | null; berth: string; base?: string; json: boolean }

function parseOptions(argv: string[]): Options {
  const o: Options = { runs: 30, warmup: 3, only: null, berth: join(repo, "bin/berth-runtime"), json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, v = () => argv[++i] ?? (console.error(USAGE), process.exit(2));
    if (a === "--runs") o.runs = Number(v());
    else if (a === "--warmup") o.warmup = Number(v());
    else if (a === "--only") o.only = v().split(",");
    else if (a === "--berth") o.berth = resolve(v());
    else if (a === "--base") o.base = resolve(v());
    else if (a === "--json") o.json = true;
    else { console.error(USAGE); process.exit(2); }
  }
  return o;
}

/** A cgroup of the bench's own that containerd (and so every shim and runtime it starts) runs
 *  in: cgroup v1's cpuacct when the host has it, else the unified hierarchy's cpu.stat. */
function cpuGroup(name: string) {
  const v1 = existsSync("/sys/fs/cgroup/cpuacct/cpuacct.usage");
  const dir = v1 ? join("/sys/fs/cgroup/cpuacct", name) : join("/sys/fs/cgroup", name);
  mkdirSync(dir);
  return {
    procs: join(dir, "cgroup.procs"),
    /** CPU time of everything that ran in the group so far (exited processes included), in ms. */
    usageMs: (): number => v1
      ? Number(readFileSync(join(dir, "cpuacct.usage"), "utf8")) / 1e6
      : Number(/usage_usec (\d+)/.exec(readFileSync(join(dir, "cpu.stat"), "utf8"))?.[1]) / 1e3,
    /** The processes in the group other than `but` (containerd). */
    others: (but: number): number => readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter((l) => l && l !== String(but)).length,
    remove: () => { try { rmdirSync(dir); } catch { /* a process is still in it */ } },
  };
}

const which = (cmd: string): string | undefined => {
  const r = Bun.spawnSync(["sh", "-c", `command -v ${cmd}`], { stdout: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : undefined;
};

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) { console.error("ctr-run: needs root"); process.exit(2); }
  if (!which("containerd") || !which("ctr")) { console.error("ctr-run: containerd is missing: bash scripts/install-system-deps.sh"); process.exit(2); }
  const work = mkdtempSync(join(tmpdir(), "berth-bench-ctr-"));
  const log = join(work, "out.log");
  const sock = join(work, "containerd.sock");
  const notes: string[] = [];
  writeFileSync(join(work, "config.toml"), `version = 2
root = "${work}/root"
state = "${work}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${sock}"
[ttrpc]
  address = "${sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
`);
  const group = cpuGroup(`berth-bench-ctr-${process.pid}`);
  // containerd is in the group before it starts anything: `sh` moves itself in, then execs it.
  const daemon = Bun.spawn(["sh", "-c", `echo $$ > ${group.procs} && exec containerd --config ${join(work, "config.toml")}`],
    { stdout: Bun.file(join(work, "containerd.log")), stderr: Bun.file(join(work, "containerd.log")) });
  const ctr = (args: string[]) => ["ctr", "--address", sock, "--namespace", NS, ...args];
  try {
    for (let i = 0; i < 200 && execute(ctr(["version"]), log).exitCode !== 0; i++) await Bun.sleep(50);
    // The image: busybox-static through berth's own store and `berth save`.
    const { engineRoot, berth, cleanupRoot } = await import("../tests/engine/helpers.ts");
    const engine = await engineRoot();
    try {
      const saved = berth(engine, ["save", "-o", join(work, "busybox.tar"), "busybox"]);
      if (saved.code !== 0) throw new Error(`berth save: ${saved.stderr}`);
    } finally {
      cleanupRoot(engine);
    }
    const imported = execute(ctr(["image", "import", join(work, "busybox.tar")]), log);
    if (imported.exitCode !== 0) throw new Error(`ctr image import: ${imported.output}`);

    const subjects: { name: string; binary?: string; why?: string }[] = [
      { name: "berth-runtime", binary: opts.berth },
      { name: "runc", binary: which("runc"), why: "runc not installed" },
      { name: "crun", binary: which("crun"), why: "crun not installed" },
      ...(opts.base ? [{ name: "berth-runtime (base)", binary: opts.base }] : []),
    ];
    const crun = subjects[2]!;
    if (crun.binary && existsSync(UNIFIED) && readFileSync("/proc/self/mountinfo", "utf8").includes(` ${UNIFIED} `)) {
      const wrapper = join(work, "crun-hybrid");
      writeFileSync(wrapper, `#!/bin/sh\nexec unshare -m sh -c 'umount ${UNIFIED} && exec ${crun.binary} "$@"' crun "$@"\n`);
      chmodSync(wrapper, 0o755);
      crun.binary = wrapper;
      notes.push("crun: through a wrapper (unshare -m; umount the unified hierarchy): crun 1.8 refuses this hybrid layout");
    }
    const active = subjects.filter((s) => s.binary && (!opts.only || opts.only.includes(s.name) || (s.name.endsWith("(base)") && opts.only.includes("berth-runtime"))));
    const runCmd = (binary: string, id: string, cmd: string) => ctr(["run", "--rm", "--runc-binary", binary, "--runc-root", join(work, "runtime-state"), IMAGE, id, cmd]);
    // Each runtime must really run the process and pass its status back: `false` must fail.
    for (const s of active) {
      const o = execute(runCmd(s.binary!, `check-${s.name.replace(/[^a-z0-9]+/g, "-")}`, "false"), log);
      if (o.exitCode !== 1) { s.why = `ctr run … false exited ${o.exitCode}: ${o.output.split("\n")[0]}`; s.binary = undefined; }
    }
    const measured = active.filter((s) => s.binary);
    const tallies = new Map(measured.map((s) => [s.name, new Tally(s.name)]));
    // Until the group holds containerd alone (at most 2 s): the last run's shim has exited.
    const settle = async () => { for (let i = 0; i < 400 && group.others(daemon.pid) > 0; i++) await Bun.sleep(5); };
    let seq = 0;
    await settle();
    let used = group.usageMs();
    for (let round = 0; round < opts.warmup + opts.runs; round++) {
      for (const s of measured) {
        const o = execute(runCmd(s.binary!, `b${seq++}`, "true"), log);
        await settle();
        const now = group.usageMs();
        const cpuMs = o.cpuMs + now - used;
        used = now;
        const err = errorOf(o);
        if (err) tallies.get(s.name)!.fail(err);
        else if (round >= opts.warmup) tallies.get(s.name)!.samples.push({ ms: o.ms, cpuMs });
      }
    }
    const rows = [...tallies.values()].map((t) => t.timing());
    const runc = rows.find((r) => r.name === "runc");
    const left = readdirSync(join(work, "runtime-state", NS), { withFileTypes: true }).map((d) => d.name);
    if (opts.json) {
      console.log(JSON.stringify({ rows, skipped: subjects.filter((s) => !s.binary).map((s) => ({ name: s.name, why: s.why })), notes, leftovers: left }, null, 2));
      return;
    }
    const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
    console.log(`ctr run --rm IMAGE ID true through containerd's runc v2 shim, ${opts.runs} interleaved runs each (wall time of ctr: containerd, the shim, the runtime's create/start/state/delete;`);
    console.log("cpu = user+sys of ctr, containerd, the shim and the runtime commands in that run, container excluded (median))");
    const ratio = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) : "-");
    printTable(rows.map((r: Timing) => [r.name, fmt(r.medianMs), fmt(r.p90Ms), fmt(r.minMs), ratio(r.medianMs, runc?.runs ? runc.medianMs : undefined),
      fmt(r.cpuMedianMs), ratio(r.cpuMedianMs, runc?.runs ? runc.cpuMedianMs : undefined), `${r.runs}/${r.failures}`]),
    ["binary", "median ms", "p90 ms", "min ms", "× runc", "cpu ms", "cpu × runc", "ok/failed"]);
    for (const r of rows) if (r.firstError) console.log(`${r.name}: ${r.failures} failed runs, first: ${r.firstError}`);
    for (const s of subjects) if (!s.binary) console.log(`${s.name}: not measured (${s.why})`);
    for (const n of notes) console.log(n);
    if (left.length) console.log(`warning: ${left.length} containers left in the runtimes' state (${left.slice(0, 3).join(", ")})`);
  } finally {
    daemon.kill("SIGTERM");
    await daemon.exited;
    group.remove();
    for (const h of readdirSync("/sys/fs/cgroup")) {
      try { rmdirSync(join("/sys/fs/cgroup", h, NS)); } catch { /* absent or not empty */ }
    }
    const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m.startsWith(work + "/"));
    for (const m of mounts.reverse()) Bun.spawnSync(["umount", "-l", m]);
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
