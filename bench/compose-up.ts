// `compose up -d` of a 10-service busybox project and `down`, timed: `berth compose` against
// Debian's docker-compose 1.29 driving podman's Docker-compatible API (`podman system service` on
// a temp unix socket), interleaved in one run (medians, ratios; issue 15's goal: berth >= 5x faster).
//
//   bun bench/compose-up.ts [--runs 5] [--no-peer] [--json]
//
// Needs root. Everything lives in a temp dir (berth --root, the project, podman's --root/--runroot,
// its socket, its CNI network configs), removed afterwards. Podman is configured as in
// engine-run.ts (temp containers.conf: `default_ulimits = []` since its default rlimits fail
// without CAP_SYS_RESOURCE, runc, cgroupfs, file events), plus [engine] `init_path` = Debian's tini-static
// (the project's `init: true`; catatonit is not installed) and its CNI configs in the temp dir
// (compose creates and removes the project's network: /etc/cni/net.d is not touched). The busybox
// image is berth's, given to podman with `berth save | podman load`. The peer is left out (and
// said so) when podman or docker-compose is not installed. Before each timed command the bench
// waits until the previous one's background work (podman's conmon and its cleanup) is over.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { engineRoot } from "../tests/engine/helpers.ts";
import { errorOf, execute, printTable, Tally } from "./timing.ts";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : dflt; };
const runs = Number(opt("runs", "5"));
const json = args.includes("--json");
const BERTH = resolve(import.meta.dir, "../bin/berth");
const root = await engineRoot();
const work = mkdtempSync(join(tmpdir(), "berth-bench-compose-"));
const project = join(work, "p"), log = join(work, "log");
mkdirSync(project);
const services = Array.from({ length: 10 }, (_, i) => `  s${i}:\n    image: busybox\n    command: ["sleep", "100000"]\n    init: true\n`).join("");
writeFileSync(join(project, "compose.yaml"), `services:\n${services}`);
const berthEnv = { BERTH_NETWORK_PREFIX: `bb${process.pid % 10000}` };
const berth = (a: string[]) => [BERTH, "--root", root, "compose", ...a];

// The peer: docker-compose 1.29 on a podman API socket.
const pm = join(work, "podman"), sock = join(pm, "podman.sock"), conf = join(pm, "containers.conf");
const podman = (a: string[]) => ["podman", "--root", join(pm, "root"), "--runroot", join(pm, "run"), "--storage-driver", "overlay",
  "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file", ...a];
const pmEnv = { CONTAINERS_CONF: conf };
const composeEnv = { DOCKER_HOST: `unix://${sock}`, COMPOSE_PROJECT_NAME: "p" };
const peer = (a: string[]) => ["docker-compose", "-f", join(project, "compose.yaml"), ...a];
let peerWhy: string | undefined = args.includes("--no-peer") ? "--no-peer" : !Bun.which("podman") ? "podman not installed"
  : !Bun.which("docker-compose") ? "docker-compose not installed" : undefined;
let service: ReturnType<typeof Bun.spawn> | undefined;

/** Runs argv in the project dir; output to the log file (a container must not hold our pipes). */
function run(argv: string[], env: Record<string, string>) {
  const saved = process.cwd();
  process.chdir(project);
  try { return execute(argv, log, env); } finally { process.chdir(saved); }
}

/** Waits (up to 2 s) until no conmon or podman of this run is still working (podman's cleanup). */
function settle(): void {
  const deadline = Date.now() + 2000;
  const busy = () => readdirSync("/proc").some((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      const comm = readFileSync(`/proc/${p}/comm`, "utf8").trim();
      if (comm !== "conmon" && comm !== "podman" && comm !== "runc") return false;
      if (service && Number(p) === service.pid) return false;
      return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(work);
    } catch { return false; }
  });
  while (busy() && Date.now() < deadline) Bun.sleepSync(5);
}

async function startPeer(): Promise<string | undefined> {
  mkdirSync(join(pm, "cni"), { recursive: true });
  writeFileSync(conf, `[containers]\ndefault_ulimits = []\n\n[network]\nnetwork_backend = "cni"\nnetwork_config_dir = "${join(pm, "cni")}"\n\n[engine]\nruntime = "runc"\ninit_path = "/usr/bin/tini-static"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n`);
  const tar = join(work, "busybox.tar");
  let e = errorOf(execute([BERTH, "--root", root, "save", "-o", tar, "busybox"], log));
  if (e) return `berth save busybox: ${e}`;
  e = errorOf(execute(podman(["load", "-i", tar]), log, pmEnv));
  if (e) return `podman load: ${e}`;
  service = Bun.spawn(podman(["system", "service", "--time", "0", `unix://${sock}`]), { env: { ...process.env, ...pmEnv }, stdio: ["ignore", "ignore", "ignore"] });
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch("http://d/_ping", { unix: sock })).ok) return undefined; } catch { /* not yet */ }
    await Bun.sleep(50);
  }
  return "podman system service did not answer on its socket within 10 s";
}

const subjects: { name: string; cli: (a: string[]) => string[]; env: Record<string, string> }[] = [{ name: "berth compose", cli: berth, env: berthEnv }];
try {
  const e = errorOf(run(berth(["config", "-q"]), berthEnv)); // the schema's first check is remembered
  if (e) throw new Error(`berth compose config: ${e}`);
  if (!peerWhy) peerWhy = await startPeer();
  if (!peerWhy) subjects.push({ name: "docker-compose 1.29 + podman API", cli: peer, env: composeEnv });
  const ups = subjects.map((s) => new Tally(`${s.name}: up -d`));
  const downs = subjects.map((s) => new Tally(`${s.name}: down -t 1`));
  const totals = subjects.map((s) => new Tally(`${s.name}: up -d + down`));
  // one untimed round first (podman's first container, compose's first network)
  for (let round = 0; round < 1 + runs; round++) {
    subjects.forEach((s, i) => {
      settle();
      const up = run(s.cli(["up", "-d"]), s.env);
      settle();
      const down = run(s.cli(["down", "-t", "1"]), s.env);
      if (round === 0) {
        if (errorOf(up) || errorOf(down)) throw new Error(`${s.name}: the first up/down failed: ${errorOf(up) ?? errorOf(down)}\n${up.output}\n${down.output}`);
        return;
      }
      const eu = errorOf(up), ed = errorOf(down);
      if (eu) ups[i]!.fail(eu); else ups[i]!.samples.push(up);
      if (ed) downs[i]!.fail(ed); else downs[i]!.samples.push(down);
      if (!eu && !ed) totals[i]!.samples.push({ ms: up.ms + down.ms, cpuMs: up.cpuMs + down.cpuMs });
    });
  }
  const rows = subjects.flatMap((_, i) => [ups[i]!.timing(), downs[i]!.timing(), totals[i]!.timing()]);
  // the peer's median over berth's, for the same command
  const ratio = (r: (typeof rows)[number]) => {
    const op = r.name.split(": ")[1];
    const other = rows.find((x) => x.name.split(": ")[1] === op && x.name.startsWith(r.name.startsWith("berth") ? "docker-compose" : "berth"));
    if (!other) return "-";
    return r.name.startsWith("berth") ? `${(other.medianMs / r.medianMs).toFixed(2)}x` : "1.00x";
  };
  if (json) console.log(JSON.stringify({ runs, rows, peerSkipped: peerWhy ?? null }, null, 2));
  else {
    console.log(`compose project of 10 busybox services (sleep, init: true), ${runs} interleaved rounds; cpu = user+sys of the command and what it waited for (median)`);
    printTable(rows.map((r) => [r.name, r.medianMs.toFixed(0), r.p90Ms.toFixed(0), r.minMs.toFixed(0), r.cpuMedianMs.toFixed(0), ratio(r), `${r.runs}/${r.failures}`]),
      ["subject: command", "median ms", "p90 ms", "min ms", "cpu ms", "peer/this", "ok/failed"]);
    for (const r of rows) if (r.firstError) console.log(`${r.name}: ${r.failures} failed, first: ${r.firstError}`);
    if (peerWhy) console.log(`docker-compose + podman: not measured (${peerWhy})`);
  }
} finally {
  run(berth(["down", "-t", "0"]), berthEnv);
  execute([BERTH, "--root", root, "system", "reset", "-f"], log, berthEnv);
  if (service) {
    run(peer(["down", "-t", "0"]), composeEnv);
    service.kill("SIGTERM");
    await service.exited;
  }
  if (Bun.which("podman") && existsSync(join(pm, "root"))) {
    // podman's overlay storage stays mounted until it is reset
    execute(podman(["rm", "-af"]), log, pmEnv);
    execute(podman(["system", "reset", "-f"]), log, pmEnv);
  }
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m.startsWith(work + "/") || m.startsWith(root + "/"));
  if (mounts.length) console.error(`compose-up: warning: ${mounts.length} mounts left (not removed): ${mounts.slice(0, 3).join(", ")}`);
  else {
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
