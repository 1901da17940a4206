// A cached rebuild of a 10-step Dockerfile: `berth build` against `podman build` (buildah; when
// installed), interleaved in one run, after one cold build each that fills the cache. The image
// is busybox (the host's busybox-static, imported into a temp berth root and, for podman, into a
// temp --root from the same rootfs tar). Podman is configured as in engine-run.ts: a temp
// containers.conf with `default_ulimits = []` (its default rlimits fail without CAP_SYS_RESOURCE)
// and runc (crun 1.8 refuses a hybrid cgroup layout), cgroupfs, file events.
//
//   sudo bun bench/build-cache.ts [--runs N] [--json]
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { errorOf, execute, printTable, Tally } from "./timing.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "20" }, json: { type: "boolean", default: false } } });
const runs = Number(values.runs);
const REPO = path.resolve(import.meta.dir, "..");
const BERTH = path.join(REPO, "bin/berth");

const work = fs.mkdtempSync(path.join(os.tmpdir(), "berth-bench-build-"));
const which = (cmd: string) => Bun.spawnSync(["sh", "-c", `command -v ${cmd}`]).exitCode === 0;
let podman: string[] | undefined, podmanEnv: Record<string, string> | undefined;

try {
  // busybox as a rootfs tar, for both engines
  const rootfs = path.join(work, "rootfs");
  for (const d of ["bin", "etc", "tmp"]) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync("/bin/busybox", path.join(rootfs, "bin/busybox"));
  fs.chmodSync(path.join(rootfs, "bin/busybox"), 0o755);
  for (const a of ["sh", "echo", "cat", "mkdir", "tr", "true"]) fs.symlinkSync("busybox", path.join(rootfs, "bin", a));
  fs.writeFileSync(path.join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  const tar = path.join(work, "busybox.tar");
  Bun.spawnSync(["tar", "-cf", tar, "-C", rootfs, "."]);

  const ctx = path.join(work, "ctx");
  fs.mkdirSync(ctx);
  for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(ctx, `f${i}.txt`), `file ${i}\n`.repeat(1000));
  fs.writeFileSync(path.join(ctx, "Dockerfile"), `FROM bench-busybox
ENV APP=bench
WORKDIR /app
COPY f0.txt ./
RUN tr a-z A-Z < f0.txt > up0.txt
COPY f1.txt f2.txt ./
RUN cat f1.txt f2.txt > all.txt
LABEL bench=yes
EXPOSE 8080
USER root
CMD ["cat", "/app/up0.txt"]
`);

  const berthRoot = path.join(work, "berth-root");
  const subjects: { name: string; argv: string[]; env?: Record<string, string> }[] = [];
  if (execute([BERTH, "--root", berthRoot, "import", tar, "bench-busybox"], path.join(work, "log")).exitCode !== 0) throw new Error("berth import failed");
  subjects.push({ name: "berth build (cached)", argv: [BERTH, "--root", berthRoot, "build", "-q", "-t", "bench", ctx] });
  if (which("podman")) {
    const conf = path.join(work, "containers.conf");
    fs.writeFileSync(conf, "[containers]\ndefault_ulimits = []\n");
    podmanEnv = { CONTAINERS_CONF: conf };
    podman = ["podman", "--root", path.join(work, "podman-root"), "--runroot", path.join(work, "podman-runroot"), "--storage-driver", "overlay",
      "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"];
    const imported = execute([...podman, "import", tar, "bench-busybox"], path.join(work, "log"), podmanEnv);
    if (imported.exitCode === 0) {
      subjects.push({ name: "podman build (cached)", argv: [...podman, "build", "-q", "--network", "none", "-t", "bench", ctx], env: podmanEnv });
    } else console.error(`podman import failed, podman is left out: ${errorOf(imported)}`);
  }
  // the cold builds that fill each cache
  for (const s of subjects) {
    const o = execute(s.argv, path.join(work, "log"), s.env);
    if (o.exitCode !== 0) throw new Error(`${s.name}: the first build failed: ${errorOf(o)}`);
  }
  const tallies = subjects.map((s) => new Tally(s.name));
  for (let r = 0; r < runs; r++) {
    subjects.forEach((s, i) => {
      const o = execute(s.argv, path.join(work, "log"), s.env);
      const err = errorOf(o);
      if (err) tallies[i]!.fail(err);
      else tallies[i]!.samples.push({ ms: o.ms, cpuMs: o.cpuMs });
    });
  }
  const timings = tallies.map((t) => t.timing());
  if (values.json) console.log(JSON.stringify(timings, null, 2));
  else {
    const base = timings[0]!.medianMs;
    printTable(timings.map((t) => [t.name, t.medianMs.toFixed(1), t.p90Ms.toFixed(1), t.minMs.toFixed(1), t.cpuMedianMs.toFixed(1), (t.medianMs / base).toFixed(2), String(t.failures)]),
      ["subject", "median ms", "p90 ms", "min ms", "cpu ms", "× berth", "failed"]);
    if (!which("podman")) console.log("\n(podman is not installed: only berth was timed)");
  }
} finally {
  // podman's overlay storage stays mounted until it is reset
  if (podman) execute([...podman, "system", "reset", "-f"], path.join(work, "log"), podmanEnv);
  for (const m of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) => m.startsWith(work)).reverse()) {
    Bun.spawnSync(["umount", "-l", m]);
  }
  fs.rmSync(work, { recursive: true, force: true });
}
