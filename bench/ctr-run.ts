// Times `ctr run --rm --runc-binary RUNTIME IMAGE ID true` — a container through containerd and
// its runc v2 shim — with berth-runtime, runc and crun as the shim's binary, interleaved in one run.
//
//   bun bench/ctr-run.ts [--runs N] [--warmup N] [--only name,name] [--berth PATH] [--json]
//
// Needs root and containerd (scripts/install-system-deps.sh). Starts its own containerd (temp
// root, state, socket, config without the CRI plugin), imports a busybox image made with
// `berth save` from the host's busybox-static, and stops containerd at the end. crun 1.8 refuses a
// hybrid cgroup layout: on such a host its binary is a wrapper script that runs crun in a private
// mount namespace with /sys/fs/cgroup/unified unmounted (noted in the output).
import { errorOf, execute, printTable, Tally, type Timing } from "./timing.ts";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(import.meta.dir, "..");
const IMAGE = "docker.io/library/busybox:latest";
const NS = `bench-${process.pid}`;
const UNIFIED = "/sys/fs/cgroup/unified";
const USAGE = "usage: bun bench/ctr-run.ts [--runs N] [--warmup N] [--only name,name] [--berth PATH] [--json]";

interface Options { runs: number; warmup: number; only: string[] | null; berth: string; json: boolean }

function parseOptions(argv: string[]): Options {
  const o: Options = { runs: 30, warmup: 3, only: null, berth: join(repo, "bin/berth-runtime"), json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, v = () => argv[++i] ?? (console.error(USAGE), process.exit(2));
    if (a === "--runs") o.runs = Number(v());
    else if (a === "--warmup") o.warmup = Number(v());
    else if (a === "--only") o.only = v().split(",");
    else if (a === "--berth") o.berth = resolve(v());
    else if (a === "--json") o.json = true;
    else { console.error(USAGE); process.exit(2); }
  }
  return o;
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
  const daemon = Bun.spawn(["containerd", "--config", join(work, "config.toml")], { stdout: Bun.file(join(work, "containerd.log")), stderr: Bun.file(join(work, "containerd.log")) });
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
    ];
    const crun = subjects[2]!;
    if (crun.binary && existsSync(UNIFIED) && readFileSync("/proc/self/mountinfo", "utf8").includes(` ${UNIFIED} `)) {
      const wrapper = join(work, "crun-hybrid");
      writeFileSync(wrapper, `#!/bin/sh\nexec unshare -m sh -c 'umount ${UNIFIED} && exec ${crun.binary} "$@"' crun "$@"\n`);
      chmodSync(wrapper, 0o755);
      crun.binary = wrapper;
      notes.push("crun: through a wrapper (unshare -m; umount the unified hierarchy): crun 1.8 refuses this hybrid layout");
    }
    const active = subjects.filter((s) => s.binary && (!opts.only || opts.only.includes(s.name)));
    const runCmd = (binary: string, id: string, cmd: string) => ctr(["run", "--rm", "--runc-binary", binary, "--runc-root", join(work, "runtime-state"), IMAGE, id, cmd]);
    // Each runtime must really run the process and pass its status back: `false` must fail.
    for (const s of active) {
      const o = execute(runCmd(s.binary!, `check-${s.name}`, "false"), log);
      if (o.exitCode !== 1) { s.why = `ctr run … false exited ${o.exitCode}: ${o.output.split("\n")[0]}`; s.binary = undefined; }
    }
    const measured = active.filter((s) => s.binary);
    const tallies = new Map(measured.map((s) => [s.name, new Tally(s.name)]));
    let seq = 0;
    for (let round = 0; round < opts.warmup + opts.runs; round++) {
      for (const s of measured) {
        const o = execute(runCmd(s.binary!, `b${seq++}`, "true"), log);
        const err = errorOf(o);
        if (err) tallies.get(s.name)!.fail(err);
        else if (round >= opts.warmup) tallies.get(s.name)!.samples.push(o);
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
    console.log(`ctr run --rm IMAGE ID true through containerd's runc v2 shim, ${opts.runs} interleaved runs each (wall time of ctr: containerd, the shim, the runtime's create/start/state/delete)`);
    printTable(rows.map((r: Timing) => [r.name, fmt(r.medianMs), fmt(r.p90Ms), fmt(r.minMs), runc && runc.runs ? (r.medianMs / runc.medianMs).toFixed(2) : "-", `${r.runs}/${r.failures}`]),
      ["binary", "median ms", "p90 ms", "min ms", "× runc", "ok/failed"]);
    for (const r of rows) if (r.firstError) console.log(`${r.name}: ${r.failures} failed runs, first: ${r.firstError}`);
    for (const s of subjects) if (!s.binary) console.log(`${s.name}: not measured (${s.why})`);
    for (const n of notes) console.log(n);
    if (left.length) console.log(`warning: ${left.length} containers left in the runtimes' state (${left.slice(0, 3).join(", ")})`);
  } finally {
    daemon.kill("SIGTERM");
    await daemon.exited;
    for (const h of readdirSync("/sys/fs/cgroup")) {
      try { rmdirSync(join("/sys/fs/cgroup", h, NS)); } catch { /* absent or not empty */ }
    }
    const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m.startsWith(work + "/"));
    for (const m of mounts.reverse()) Bun.spawnSync(["umount", "-l", m]);
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
