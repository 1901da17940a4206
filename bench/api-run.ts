// The Docker API path: `docker run --rm --network none busybox true` through `berth system
// service`'s socket, interleaved with the same command through other Docker-API sockets given
// with --socket NAME=PATH (a `podman system service`, a dockerd) and with plain `berth run --rm`
// as the floor; then `docker ps` with --ps N containers running, and the idle service's memory
// (VmRSS, its anonymous part, and Pss: the executable's pages are shared with every berth).
// cpu ms is the docker CLI's (and berth's for the floor): a service's own CPU is not counted.
//
//   bun bench/api-run.ts [--runs 30] [--warmup 3] [--ps 100] [--podman] [--socket NAME=PATH] [--json]
//
// Needs root and the docker CLI. The berth side lives in a temp dir (its own --root and socket),
// removed afterwards; the image is made by scripts/make-busybox-image.sh. --podman starts a
// `podman system service` of its own in the temp dir (its --root, --runroot and socket; a temp
// containers.conf as engine-run.ts's: `default_ulimits = []`, runc, cgroupfs, file events), loads
// berth's busybox into it, and stops and resets it afterwards. Another --socket's engine must
// already have a busybox image (e.g. `berth save busybox | docker load`). Before each timed
// command the bench waits until the previous one's podman work (conmon, its cleanup) is over.
import { errorOf, execute, printTable, Tally } from "./timing.ts";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(import.meta.dir, "..");
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : dflt; };
const runs = Number(opt("runs", "30")), warmup = Number(opt("warmup", "3")), psCount = Number(opt("ps", "100"));
const json = args.includes("--json");
const withPodman = args.includes("--podman");
const others = args.flatMap((a, i) => (a === "--socket" ? [args[i + 1]!] : [])).map((s) => s.split("=") as [string, string]);

const work = mkdtempSync(join(tmpdir(), "berth-bench-api-"));
const root = join(work, "root"), sock = join(work, "docker.sock"), log = join(work, "log");
const berth = join(repo, "bin/berth");
const env = { BERTH_NETWORK_PREFIX: "bbapi" };
let service: ReturnType<typeof Bun.spawn> | undefined, podmanService: ReturnType<typeof Bun.spawn> | undefined;
const pm = join(work, "podman"), pmSock = join(pm, "podman.sock"), pmEnv = { CONTAINERS_CONF: join(pm, "containers.conf") };
const podman = (a: string[]) => ["podman", "--root", join(pm, "root"), "--runroot", join(pm, "run"), "--storage-driver", "overlay",
  "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file", ...a];

/** Waits (up to 2 s) until no conmon or podman of this run is still working (podman's cleanup after --rm). */
function settle(): void {
  const deadline = Date.now() + 2000;
  const busy = () => readdirSync("/proc").some((p) => {
    if (!/^\d+$/.test(p) || Number(p) === podmanService?.pid) return false;
    try {
      const comm = readFileSync(`/proc/${p}/comm`, "utf8").trim();
      return (comm === "conmon" || comm === "podman" || comm === "runc") && readFileSync(`/proc/${p}/cmdline`, "utf8").includes(work);
    } catch { return false; }
  });
  while (busy() && Date.now() < deadline) Bun.sleepSync(2);
}

try {
  if (errorOf(execute(["bash", join(repo, "scripts/make-busybox-image.sh")], log, { BERTH_ROOT: root, BUN: process.execPath }))) throw new Error(`make-busybox-image.sh failed: ${readFileSync(log, "utf8")}`);
  service = Bun.spawn([berth, "--root", root, "system", "service", "--host", `unix://${sock}`], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 200 && errorOf(execute(["docker", "-H", `unix://${sock}`, "version"], log)); i++) await Bun.sleep(50);
  if (withPodman) {
    mkdirSync(pm);
    writeFileSync(pmEnv.CONTAINERS_CONF, "[containers]\ndefault_ulimits = []\n");
    const tar = join(work, "busybox.tar");
    if (errorOf(execute([berth, "--root", root, "save", "-o", tar, "busybox"], log))) throw new Error(`berth save busybox: ${readFileSync(log, "utf8")}`);
    if (errorOf(execute(podman(["load", "-i", tar]), log, pmEnv))) throw new Error(`podman load: ${readFileSync(log, "utf8")}`);
    podmanService = Bun.spawn(podman(["system", "service", "--time", "0", `unix://${pmSock}`]), { env: { ...process.env, ...pmEnv }, stdio: ["ignore", "ignore", "inherit"] });
    for (let i = 0; i < 200 && errorOf(execute(["docker", "-H", `unix://${pmSock}`, "version"], log)); i++) await Bun.sleep(50);
    others.push(["podman API", pmSock]);
  }
  const subjects = [
    { name: "berth API", argv: ["docker", "-H", `unix://${sock}`, "run", "--rm", "--network", "none", "busybox", "true"] },
    ...others.map(([name, path]) => ({ name, argv: ["docker", "-H", `unix://${path}`, "run", "--rm", "--network", "none", "busybox", "true"] })),
    { name: "berth CLI (floor)", argv: [berth, "--root", root, "run", "--rm", "--network", "none", "busybox", "true"] },
  ];
  const tallies = subjects.map((s) => new Tally(s.name));
  for (let round = 0; round < warmup + runs; round++) {
    subjects.forEach((s, i) => {
      settle();
      const o = execute(s.argv, log, env);
      const err = errorOf(o);
      if (round < warmup) return;
      if (err) tallies[i]!.fail(err);
      else tallies[i]!.samples.push({ ms: o.ms, cpuMs: o.cpuMs });
    });
  }
  // docker ps with N containers running.
  for (let i = 0; i < psCount; i++) execute(["docker", "-H", `unix://${sock}`, "run", "-d", "--network", "none", "busybox", "sleep", "1000"], log);
  const ps = new Tally(`docker ps (${psCount} running)`);
  for (let i = 0; i < runs; i++) {
    const o = execute(["docker", "-H", `unix://${sock}`, "ps"], log);
    if (errorOf(o)) ps.fail(errorOf(o)!); else ps.samples.push({ ms: o.ms, cpuMs: o.cpuMs });
  }
  await Bun.sleep(3000); // idle: past the service's collection 2 s after its last request
  const status = readFileSync(`/proc/${service.pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  const pss = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${service.pid}/smaps_rollup`, "utf8"))?.[1] ?? NaN);
  const rows = [...tallies.map((t) => t.timing()), ps.timing()];
  const memory = { vmRssKb: kb("VmRSS"), rssAnonKb: kb("RssAnon"), pssKb: pss };
  if (json) console.log(JSON.stringify({ rows, memory }, null, 2));
  else {
    // ratio: a run's median over berth API's (the ps row is another command: no ratio)
    const base = rows[0]!.medianMs;
    printTable(rows.map((r, i) => [r.name, String(r.runs), String(r.failures), r.medianMs.toFixed(1), r.p90Ms.toFixed(1), r.cpuMedianMs.toFixed(1), i < tallies.length ? `${(r.medianMs / base).toFixed(2)}x` : "-"]),
      ["command", "runs", "fail", "median ms", "p90 ms", "cpu ms", "this/berth API"]);
    console.log(`\nidle service (after the runs, ${psCount} containers listed): VmRSS ${memory.vmRssKb} kB, anonymous ${memory.rssAnonKb} kB, Pss ${memory.pssKb} kB`);
    for (const r of rows) if (r.firstError) console.log(`${r.name}: ${r.failures} failed, first: ${r.firstError}`);
  }
} finally {
  execute([berth, "--root", root, "system", "reset", "-f"], log, env);
  if (podmanService) {
    podmanService.kill("SIGTERM");
    await podmanService.exited;
  }
  if (existsSync(join(pm, "root"))) {
    // podman's overlay storage stays mounted until it is reset
    execute(podman(["rm", "-af"]), log, pmEnv);
    execute(podman(["system", "reset", "-f"]), log, pmEnv);
  }
  service?.kill("SIGTERM");
  await service?.exited;
  rmSync(work, { recursive: true, force: true });
}
