// Pull of a large image from a registry on loopback into an empty store: berth pull against
// `skopeo copy` to a directory, `podman pull` into a fresh --root (when installed) and berth's own
// `load` of the same image, as a docker-archive (uncompressed) and as an OCI layout of the very blobs
// the registry serves (the goals: pull within 1.5x of either load, 3x faster than podman).
//
//   sudo bun bench/pull.ts [--rootfs DIR] [--runs N] [--no-gzip] [--tmp DIR] [--base PATH] [--only a,b]
//
// DIR: a Debian tree, as bench/image-load.ts finds it (scripts/make-debian-image.sh --nginx);
// without one, --synthetic MB makes a tree of that many MB of files (default 64) so the bench runs
// anywhere. The image is imported into a berth store, saved as an OCI layout and pushed by skopeo
// to Debian's docker-registry on 127.0.0.1 (gzip layer unless --no-gzip, as registries hold them).
// Every run of every subject starts from nothing: a fresh store, directory or podman root.
// --base PATH: another berth executable (e.g. a copy of build/berth made before a change) whose
// pull and load are timed in the same interleaved rounds. --only: subjects whose names start so.
// Each row gives the median, min and max of the runs and the median CPU time of the command
// (user + system, its threads and the children it waited for); the goals' ratios follow the table.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { BERTH } from "../tests/engine/helpers.ts";
import { startRegistry } from "../tests/registry/helpers.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { rootfs: { type: "string" }, runs: { type: "string" }, base: { type: "string" }, only: { type: "string" }, "no-gzip": { type: "boolean" }, tmp: { type: "string" }, synthetic: { type: "string" } } });
const runs = Number(values.runs ?? 1);
const work = fs.mkdtempSync(path.join(values.tmp ?? "/var/tmp", "berth-bench-pull-"));
const log = (s: string) => console.error(s);

// CPU seconds (user + system) of the last command run by sh(): with other programs on the cores,
// wall times move by ×2 from one minute to the next, CPU far less.
let lastCpu = 0;

function sh(cmd: string[], env?: Record<string, string>): number {
  const t = performance.now();
  const r = Bun.spawnSync(cmd, { stdout: "ignore", stderr: "pipe", env: { ...process.env, ...env } });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  const cpu = r.resourceUsage?.cpuTime;
  lastCpu = cpu ? Number(cpu.user + cpu.system) / 1e6 : NaN;
  return (performance.now() - t) / 1000;
}

function syntheticTree(dir: string, mb: number): string {
  // many small files and a few large ones, compressible like real binaries are (roughly half)
  fs.mkdirSync(dir, { recursive: true });
  let left = mb << 20;
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, i % 50 === 0 ? 4 << 20 : 24 << 10);
    const buf = Buffer.alloc(size);
    crypto.getRandomValues(buf.subarray(0, Math.min(size / 2, 65536)));
    for (let o = 65536; o < size / 2; o += 65536) buf.copy(buf, o, 0, Math.min(65536, size / 2 - o));
    fs.mkdirSync(path.join(dir, `d${i % 97}`), { recursive: true });
    fs.writeFileSync(path.join(dir, `d${i % 97}`, `f${i}`), buf);
    left -= size;
  }
  fs.mkdirSync(path.join(dir, "etc"), { recursive: true });
  fs.writeFileSync(path.join(dir, "etc/debian_version"), "synthetic\n");
  return dir;
}

const candidates = [values.rootfs, "/var/cache/berth/debian-bookworm-nginx-full", "/var/tmp/berth-bench/rootfs", "/var/cache/berth/debian-bookworm-nginx"].filter((x): x is string => !!x);
const rootfs = candidates.find((d) => fs.existsSync(path.join(d, "etc/debian_version"))) ?? syntheticTree(path.join(work, "synthetic"), Number(values.synthetic ?? 64));

const reg = await startRegistry();
try {
  const src = path.join(work, "src");
  const name = `${reg.host}/bench/image:1`;
  log(`importing ${rootfs} …`);
  sh([BERTH, "--root", src, "import", rootfs, "bench/image:1"]);
  const archive = path.join(work, "image.tar");
  sh([BERTH, "--root", src, "save", "-o", archive, "bench/image:1"]);
  const layout = path.join(work, "layout.tar");
  sh([BERTH, "--root", src, "save", "--format", "oci", "-o", layout, "bench/image:1"]);
  fs.mkdirSync(path.join(work, "layout"));
  sh(["tar", "-C", path.join(work, "layout"), "-xf", layout]);
  log(`pushing to ${reg.host} with skopeo (${values["no-gzip"] ? "uncompressed" : "gzip"}) …`);
  sh(["skopeo", "copy", "--dest-tls-verify=false", ...(values["no-gzip"] ? [] : ["--dest-compress"]), `oci:${path.join(work, "layout")}`, `docker://${name}`]);
  // the very blobs the registry serves, as an OCI layout: berth load of the same (compressed) image
  const pulledLayout = path.join(work, "pulled-layout");
  sh(["skopeo", "copy", "-q", "--src-tls-verify=false", `docker://${name}`, `oci:${pulledLayout}:bench`]);
  let n = 0;
  const fresh = () => path.join(work, `run-${n++}`);
  let subjects: Array<{ name: string; run: () => number; times: number[]; cpus?: number[] }> = [
    { name: "berth pull", run: () => sh([BERTH, "--root", fresh(), "pull", "-q", name]), times: [] },
    { name: "berth load (the same image, docker-archive)", run: () => sh([BERTH, "--root", fresh(), "load", "-q", "-i", archive]), times: [] },
    { name: "berth load (the registry's blobs, OCI layout)", run: () => sh([BERTH, "--root", fresh(), "load", "-q", "-i", pulledLayout]), times: [] },
    { name: "skopeo copy to dir:", run: () => sh(["skopeo", "copy", "-q", "--src-tls-verify=false", `docker://${name}`, `dir:${fresh()}`]), times: [] },
  ];
  const base = values.base ? path.resolve(values.base) : null;
  if (base) {
    subjects.push(
      { name: "base: berth pull", run: () => sh([base, "--root", fresh(), "pull", "-q", name]), times: [] },
      { name: "base: berth load (docker-archive)", run: () => sh([base, "--root", fresh(), "load", "-q", "-i", archive]), times: [] },
    );
  }
  if (Bun.which("podman")) {
    subjects.push({ name: "podman pull", run: () => { const d = fresh(); return sh(["podman", "--root", path.join(d, "root"), "--runroot", path.join(d, "run"), "pull", "-q", "--tls-verify=false", name]); }, times: [] });
  } else {
    log("podman is not installed: its row is left out");
  }
  const only = values.only?.split(",") ?? null;
  if (only) subjects = subjects.filter((s) => s.name === "berth pull" || only.some((o) => s.name.startsWith(o)));
  for (let i = 0; i < runs; i++) {
    for (const s of subjects) {
      sh(["sync"]);
      s.times.push(s.run());
      (s.cpus ??= []).push(lastCpu);
      log(`  round ${i + 1}: ${s.name} ${s.times.at(-1)!.toFixed(2)} s, cpu ${lastCpu.toFixed(2)} s`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const pull = median(subjects[0]!.times);
  console.log(`image: ${rootfs}; ${runs} run(s), wall seconds: median (min–max); median CPU seconds (user + system)`);
  for (const s of subjects) {
    console.log(`${s.name.padEnd(46)} ${median(s.times).toFixed(2)} s (${Math.min(...s.times).toFixed(2)}–${Math.max(...s.times).toFixed(2)})   ${(median(s.times) / pull).toFixed(2)}x berth pull   cpu ${median(s.cpus ?? [NaN]).toFixed(2)} s`);
  }
  const row = (n: string) => subjects.find((s) => s.name === n);
  const ratio = (a: string, b: string, what: string) => {
    const x = row(a), y = row(b);
    if (x && y) console.log(`${what.padEnd(46)} ${(median(x.times) / median(y.times)).toFixed(2)}x`);
  };
  ratio("podman pull", "berth pull", "podman pull / berth pull (goal ≥ 3)");
  // "within 1.5x of berth's own load of the same image": the same blobs (gzip, as the registry
  // serves them), and the same image saved uncompressed (a load with nothing to decompress)
  ratio("berth pull", "berth load (the registry's blobs, OCI layout)", "berth pull / load of the same blobs (goal ≤ 1.5)");
  ratio("berth pull", "berth load (the same image, docker-archive)", "berth pull / load of the uncompressed archive (≤ 1.5)");
  ratio("podman pull", "base: berth pull", "podman pull / base pull");
  ratio("base: berth pull", "base: berth load (docker-archive)", "base pull / base load");
} finally {
  await reg.stop();
  for (const d of fs.readdirSync(work)) {
    if (d.startsWith("run-") || d === "src") Bun.spawnSync([BERTH, "--root", path.join(work, d), "system", "prune", "-f"], { stdout: "ignore", stderr: "ignore" });
  }
  fs.rmSync(work, { recursive: true, force: true });
}
