// Test helpers: tars built byte by byte (hostile ones included) and OCI layouts written by hand to the spec.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { closeImageStore, type ImageStore, openImageStore } from "../../src/image/index.ts";
import { sha256 } from "../../src/storage/digest.ts";
import { type TarEntry, TAR_END, tarHeader, tarPadding } from "../../src/storage/tar.ts";

export interface Spec {
  name: string;
  type?: TarEntry["type"];
  data?: string | Uint8Array;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  mtime?: number;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, string>;
}

export function makeTar(specs: Spec[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const s of specs) {
    const data = typeof s.data === "string" ? new TextEncoder().encode(s.data) : (s.data ?? new Uint8Array());
    const type = s.type ?? "file";
    parts.push(tarHeader({
      name: s.name, type, size: type === "file" ? data.length : 0,
      mode: s.mode ?? (type === "dir" ? 0o755 : 0o644), uid: s.uid ?? 0, gid: s.gid ?? 0, mtime: s.mtime ?? 1700000000,
      linkname: s.linkname ?? "", devmajor: s.devmajor ?? 0, devminor: s.devminor ?? 0,
      xattrs: s.xattrs ? new Map(Object.entries(s.xattrs).map(([k, v]) => [k, new TextEncoder().encode(v)])) : null,
    }));
    if (type === "file" && data.length) {
      parts.push(data, tarPadding(data.length));
    }
  }
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `berth-${label}-`));
}

/** A fresh store in its own temp root; cleanup() closes and deletes it. */
export function tempStore(label = "store"): { store: ImageStore; root: string; cleanup: () => void } {
  const root = tempDir(label);
  const store = openImageStore(root);
  return {
    store, root,
    cleanup: () => {
      closeImageStore(root);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

function writeBlob(dir: string, data: Uint8Array): { digest: string; size: number } {
  const d = sha256(data);
  fs.mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
  fs.writeFileSync(path.join(dir, "blobs", "sha256", d.slice(7)), data);
  return { digest: d, size: data.length };
}

/** Writes an OCI image layout for the given layer tars (bottom first). */
export function writeOciLayout(dir: string, layers: Uint8Array[], opts: { gzip?: boolean; name?: string; cmd?: string[]; history?: string[] } = {}): { configDigest: string; manifestDigest: string } {
  fs.mkdirSync(dir, { recursive: true });
  const descs = layers.map((tar) => {
    const blob = opts.gzip ? gzipSync(tar) : tar;
    const b = writeBlob(dir, blob);
    return { mediaType: opts.gzip ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar", ...b, diffId: sha256(tar) };
  });
  const config = new TextEncoder().encode(JSON.stringify({
    created: "2024-01-01T00:00:00Z", architecture: process.arch === "arm64" ? "arm64" : "amd64", os: "linux",
    config: { Cmd: opts.cmd ?? ["/bin/sh"], Env: ["PATH=/usr/bin:/bin"] },
    rootfs: { type: "layers", diff_ids: descs.map((d) => d.diffId) },
    history: layers.map((_, i) => ({ created: "2024-01-01T00:00:00Z", created_by: opts.history?.[i] ?? `layer ${i}` })),
  }));
  const c = writeBlob(dir, config);
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...c },
    layers: descs.map(({ diffId: _d, ...d }) => d),
  }));
  const m = writeBlob(dir, manifest);
  fs.writeFileSync(path.join(dir, "index.json"), JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...m, ...(opts.name ? { annotations: { "io.containerd.image.name": opts.name, "org.opencontainers.image.ref.name": opts.name.split(":").pop() } } : {}) }],
  }));
  fs.writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  return { configDigest: c.digest, manifestDigest: m.digest };
}

/** A small base layer: a few dirs and files, like a tiny distro. */
export function baseLayer(): Uint8Array {
  return makeTar([
    { name: "bin/", type: "dir" },
    { name: "bin/sh", data: "#!shell\n", mode: 0o755 },
    { name: "etc/", type: "dir" },
    { name: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n" },
    { name: "etc/hostname", data: "base\n" },
    { name: "opt/", type: "dir" },
    { name: "opt/a/", type: "dir" },
    { name: "opt/a/one", data: "1" },
    { name: "opt/a/two", data: "22" },
    { name: "var/", type: "dir" },
    { name: "var/big", data: "x".repeat(10000) },
  ]);
}

/** Everything under dir as "relpath type" lines, for before/after comparisons. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(dir, rel));
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(path.join(dir, r));
      out.push(`${r} ${st.isDirectory() ? "d" : st.isSymbolicLink() ? "l" : "f"}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
  return out;
}
