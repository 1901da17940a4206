// Load+unpack of a large one-layer image: berth load against `tar -x` of the same layer,
// `sha256sum` of the archive and `podman load` (when installed), interleaved in one run.
// The image: a debootstrap minbase tree with nginx-light, ~225 MB as a docker-archive.
//
//   sudo bun bench/image-load.ts [--rootfs DIR] [--runs N] [--gzip] [--json] [--tmp DIR] [--churn]
//
// DIR: a Debian tree (default: the first that exists of the cache of
// `scripts/make-debian-image.sh --nginx --keep-apt-cache` — the 225 MB tree the issue measures —,
// /var/tmp/berth-bench/rootfs, and the trimmed --nginx cache). Every run of every subject writes
// into a fresh directory: berth a fresh store, podman a fresh --root, tar a fresh target. "cpu s"
// is user+system CPU time (berth: this process with its worker thread; others: the child) —
// steadier than wall time when the machine is shared. Subjects:
//  - berth load            the default store: one syncfs before the image becomes visible (power-cut safe)
//  - berth load, no syncfs durable=false: safe against a killed process only (what podman/docker do)
//  - --gzip adds the same layer gzip-compressed in an OCI layout (decompression in the pass)
//
// What earlier runs wrote is moved aside, not deleted, until the end (about 0.5 GB per subject and
// run: mind the disk with many --runs). Deleting it between subjects, as this bench used to and
// --churn still does, measures something else: ext4 without a journal (this VM's root file
// system) skips inodes freed in the last minute one by one when it allocates (recently_deleted()
// in fs/ext4/ialloc.c, a linear scan per new inode), so unpacking 7 000 files right after
// deleting 7 000 costs ~3 s of system time in open/mkdir — tar, podman and berth alike (perf:
// find_get_block_common + recently_deleted, 45 % of tar -x). Runs of this bench less than a minute
// apart, or other programs deleting many files on the same file system, have the same effect.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { archiveImporter, closeImageStore, openImageStore } from "../src/image/index.ts";
import { sha256 } from "../src/storage/digest.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { rootfs: { type: "string" }, runs: { type: "string" }, gzip: { type: "boolean" }, json: { type: "boolean" }, tmp: { type: "string" }, churn: { type: "boolean" } } });
const candidates = [values.rootfs, "/var/cache/berth/debian-bookworm-nginx-full", "/var/tmp/berth-bench/rootfs", "/var/cache/berth/debian-bookworm-nginx"].filter((x): x is string => !!x);
const rootfs = candidates.find((d) => fs.existsSync(path.join(d, "etc/debian_version")));
if (!rootfs) {
  console.error(`no Debian tree found (tried ${candidates.join(", ")}); run scripts/make-debian-image.sh --nginx or pass --rootfs DIR`);
  process.exit(1);
}
const runs = Number(values.runs ?? 5);
// --tmp: where archives, stores and tar's target live (default /var/tmp: a disk, as /var/lib/berth is)
const work = fs.mkdtempSync(path.join(values.tmp ?? "/var/tmp", "berth-bench-"));
const log = (s: string) => console.error(s);

let childCpu = 0; // seconds of CPU used by the last sh() child

function sh(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  const u = r.resourceUsage?.cpuTime;
  childCpu = u ? (Number(u.user) + Number(u.system)) / 1e6 : 0;
}

interface Subject {
  name: string;
  before?: () => void;
  run: () => Promise<void> | void;
  times: number[];
  cpu?: number[];
}

function writeDockerArchive(layerTar: string, archive: string): { config: string; configDigest: string } {
  const diff = sha256(fs.readFileSync(layerTar));
  const config = JSON.stringify({ architecture: "amd64", os: "linux", created: "2024-01-01T00:00:00Z", config: { Cmd: ["nginx", "-g", "daemon off;"] }, rootfs: { type: "layers", diff_ids: [diff] } });
  const cd = sha256(config);
  const dir = path.join(work, "archive");
  fs.mkdirSync(path.join(dir, "layer"), { recursive: true });
  fs.copyFileSync(layerTar, path.join(dir, "layer/layer.tar"));
  fs.writeFileSync(path.join(dir, `${cd.slice(7)}.json`), config);
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify([{ Config: `${cd.slice(7)}.json`, RepoTags: ["bench/debian:nginx"], Layers: ["layer/layer.tar"] }]));
  sh(["tar", "-cf", archive, "-C", dir, "."]);
  fs.rmSync(dir, { recursive: true });
  return { config, configDigest: cd };
}

function writeGzipLayout(layerTar: string, config: string, configDigest: string, dir: string): number {
  const gz = gzipSync(fs.readFileSync(layerTar), { level: 6 });
  const gd = sha256(gz);
  fs.mkdirSync(path.join(dir, "blobs/sha256"), { recursive: true });
  fs.writeFileSync(path.join(dir, "blobs/sha256", gd.slice(7)), gz);
  fs.writeFileSync(path.join(dir, "blobs/sha256", configDigest.slice(7)), config);
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: gd, size: gz.length }] });
  const md = sha256(manifest);
  fs.writeFileSync(path.join(dir, "blobs/sha256", md.slice(7)), manifest);
  fs.writeFileSync(path.join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: md, size: manifest.length, annotations: { "io.containerd.image.name": "bench/debian:gz" } }] }));
  fs.writeFileSync(path.join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  return gz.length;
}

try {
  log(`building the bench archive from ${rootfs} …`);
  const layerTar = path.join(work, "layer.tar");
  sh(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-cf", layerTar, "-C", rootfs, "."]);
  const layerBytes = fs.statSync(layerTar).size;
  const archive = path.join(work, "debian-nginx.docker.tar");
  const { config, configDigest } = writeDockerArchive(layerTar, archive);
  const archiveBytes = fs.statSync(archive).size;
  const target = path.join(work, "x");
  const root = path.join(work, "store");
  const podRoot = path.join(work, "podman");
  // What a run wrote is moved aside, not deleted, until all runs are done: on ext4 without a
  // journal (this VM's root fs) the inode allocator skips inodes freed in the last 60 s one by
  // one (recently_deleted() in ext4's ialloc.c), so creating 7 000 files right after deleting a
  // 7 000-file tree costs ~3 s of system time in open/mkdir — for tar, podman and berth alike —
  // and the bench measured that instead of the load.
  const trash = path.join(work, "trash");
  fs.mkdirSync(trash);
  let trashed = 0;
  const aside = (p: string) => {
    if (values.churn) fs.rmSync(p, { recursive: true, force: true }); // --churn: measure that case
    else if (fs.existsSync(p)) fs.renameSync(p, path.join(trash, String(trashed++)));
  };
  const fresh = () => {
    closeImageStore(root);
    aside(root);
    aside(target);
    aside(podRoot);
  };
  const subjects: Subject[] = [
    { name: "tar -x (the layer)", before: () => { fresh(); fs.mkdirSync(target); }, run: () => sh(["tar", "-xf", layerTar, "-C", target]), times: [] },
    { name: "sha256sum (the archive)", run: () => sh(["sha256sum", archive]), times: [] },
    { name: "berth load", before: fresh, run: async () => void (await archiveImporter(archive).run(openImageStore(root))), times: [] },
    { name: "berth load, no syncfs", before: fresh, run: async () => void (await archiveImporter(archive).run(openImageStore(root, { durable: false }))), times: [] },
  ];
  let gzBytes = 0;
  if (values.gzip) {
    const oci = path.join(work, "oci");
    gzBytes = writeGzipLayout(layerTar, config, configDigest, oci);
    subjects.push({ name: `berth load (OCI dir, gzip layer)`, before: fresh, run: async () => void (await archiveImporter(oci).run(openImageStore(root))), times: [] });
  }
  if (Bun.which("podman")) {
    // a fresh podman store per run, as berth gets (and none of the system store's images disturbed)
    subjects.push({ name: "podman load", before: fresh, run: () => sh(["podman", "--root", path.join(podRoot, "root"), "--runroot", path.join(podRoot, "run"), "load", "-q", "-i", archive]), times: [] });
  }
  log(`archive ${(archiveBytes / 1e6).toFixed(0)} MB (layer ${(layerBytes / 1e6).toFixed(0)} MB${gzBytes ? `, gzip ${(gzBytes / 1e6).toFixed(0)} MB` : ""}); ${runs} interleaved runs`);
  for (let i = 0; i < runs; i++) {
    for (const s of subjects) {
      s.before?.();
      sh(["sync"]); // start each from a clean page cache state (no dirty data of the previous subject)
      childCpu = 0;
      const c0 = process.cpuUsage();
      const t = performance.now();
      await s.run();
      s.times.push((performance.now() - t) / 1000);
      const c = process.cpuUsage(c0); // this process, worker threads included
      (s.cpu ??= []).push(childCpu + (c.user + c.system) / 1e6);
    }
  }
  fresh();
  fs.rmSync(trash, { recursive: true, force: true });
  const stat = (ts: number[]) => {
    const x = [...ts].sort((a, b) => a - b);
    return { min: x[0]!, median: x[Math.floor(x.length / 2)]! };
  };
  const base = stat(subjects[0]!.times).median;
  const rows = subjects.map((s) => ({ subject: s.name, ...stat(s.times), ratioToTar: stat(s.times).median / base, cpuMedian: stat(s.cpu ?? [0]).median }));
  if (values.json) {
    console.log(JSON.stringify({ archiveBytes, layerBytes, gzBytes, runs, host: { cpus: os.cpus().length, kernel: os.release(), loadavg: os.loadavg() }, podman: Bun.which("podman") !== null, rows }, null, 2));
  } else {
    console.log(`${"subject".padEnd(36)} ${"median s".padStart(9)} ${"min s".padStart(7)} ${"× tar".padStart(6)} ${"cpu s".padStart(6)}`);
    for (const r of rows) console.log(`${r.subject.padEnd(36)} ${r.median.toFixed(2).padStart(9)} ${r.min.toFixed(2).padStart(7)} ${r.ratioToTar.toFixed(2).padStart(6)} ${r.cpuMedian.toFixed(2).padStart(6)}`);
    if (!Bun.which("podman")) console.log("podman: not installed here (the issue measured podman 4.3 load at 5.3 s on this host)");
    console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
