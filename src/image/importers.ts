// Getting images into the store. One interface, two implementations:
//  - ArchiveImporter: `docker save` archives (legacy layout and the OCI-based one docker 25+
//    writes) and OCI image layouts, as a tar file, stdin, or a directory; detected by content.
//  - RootfsImporter: a root filesystem (`docker export` tar, plain or compressed, or a directory
//    such as a debootstrap tree) becomes a one-layer image, with optional --change instructions.
import { chainIds, type Digest, DigestMismatchError, hexOf, sha256 } from "../storage/digest.ts";
import { LayerIngest } from "../storage/ingest.ts";
import { packDirectory } from "../storage/pack.ts";
import { type PreparedSnapshot, snapshotInfo } from "../storage/snapshots.ts";
import type { UnpackStats } from "../storage/unpack.ts";
import { ArchiveCollector, type CollectedFile, collectDir, collectTar, type Progress } from "./archive.ts";
import { type ArchiveInput, type InputOptions, openInput } from "./input.ts";
import { applyChanges } from "./changes.ts";
import {
  type Descriptor, hostPlatform, type ImageDocument, type Index, isIndexType, isManifestType, layerMediaType, type Manifest, MT,
  parseImageDocument, parseIndex, parseJSON, parseManifest,
} from "./oci.ts";
import { normalizeTaggedName, parseReference, taggedName } from "./reference.ts";
import type { ImageRecord, ImageStore } from "./store.ts";

export type ImportFormat = "docker-archive" | "oci-layout" | "rootfs";

export interface ImportOptions extends InputOptions {
  /** names to give the image(s); for archives these add to the names the archive carries */
  names?: string[];
  /** Dockerfile-style config changes (rootfs imports) */
  changes?: string[];
  /** history comment (rootfs imports) */
  message?: string;
  progress?: Progress;
}

export interface ImportResult {
  format: ImportFormat;
  images: ImageRecord[];
  /**
   * What `load` reports, as docker: per image (in the order of `images`), the names this archive
   * (and ImportOptions.names) gave it — not names the image already had in the store.
   */
  loaded: Array<{ image: ImageRecord; names: string[] }>;
}

export interface ImageImporter {
  readonly source: string;
  run(store: ImageStore, opts?: ImportOptions): Promise<ImportResult>;
}

/** `berth load`: an archive file ("-" = stdin) or an OCI layout directory. */
export function archiveImporter(source: string): ImageImporter {
  return new ArchiveImporter(source);
}

/** `berth import`: a rootfs tar file ("-" = stdin) or a directory. */
export function rootfsImporter(source: string): ImageImporter {
  return new RootfsImporter(source);
}

export class ImageFormatError extends Error {}

interface PendingImage {
  manifest: Uint8Array;
  config: Uint8Array;
  document: ImageDocument;
  layers: Array<{ desc: Descriptor; file: CollectedFile | null }>;
  names: string[];
}

class ArchiveImporter implements ImageImporter {
  constructor(readonly source: string) {}

  async run(store: ImageStore, opts: ImportOptions = {}): Promise<ImportResult> {
    const input = await openInput(this.source, opts); // a stream's first bytes are awaited before the lock
    try {
      return await store.writeLock(async () => {
        const col = new ArchiveCollector(store);
        try {
          if (input.kind === "dir") await collectDir(input.path, col, opts.progress);
          else await collectTar(input.chunks, col, opts.progress);
          const { format, pending } = interpretArchive(col, this.source);
          if (opts.names?.length) for (const p of pending) p.names.push(...opts.names.map(normalizeTaggedName));
          const images = await publish(store, pending);
          return { format, images, loaded: images.map((image, i) => ({ image, names: [...new Set(pending[i]!.names)] })) };
        } finally {
          await col.discard();
        }
      });
    } finally {
      input.close();
    }
  }
}

function lookup(col: ArchiveCollector, p: string, seen = 0): CollectedFile | null {
  const norm = p.split("/").filter((c) => c && c !== ".").join("/");
  const f = col.files.get(norm);
  if (f) return f;
  const l = col.links.get(norm);
  return l !== undefined && seen < 16 ? lookup(col, l, seen + 1) : null;
}

/** Every file under blobs/<alg>/<hex> must hash to its name. */
function verifyBlobNames(col: ArchiveCollector): void {
  for (const f of col.files.values()) {
    const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(f.path);
    if (!m) continue;
    const want = `sha256:${m[1]}` as Digest;
    if (f.digest !== want) throw new DigestMismatchError(`archive entry ${f.path}`, want, f.digest);
  }
}

function interpretArchive(col: ArchiveCollector, source: string): { format: ImportFormat; pending: PendingImage[] } {
  verifyBlobNames(col);
  const byDigest = (d: Digest) => col.files.get(`blobs/sha256/${hexOf(d)}`) ?? null;
  const dockerManifest = col.files.get("manifest.json");
  const ociIndex = col.files.get("index.json");
  if (dockerManifest) return { format: "docker-archive", pending: interpretDocker(col, dockerManifest, byDigest) };
  if (ociIndex && col.files.has("oci-layout")) return { format: "oci-layout", pending: interpretOci(ociIndex, byDigest) };
  throw new ImageFormatError(
    `${source} is neither a docker-archive (no manifest.json) nor an OCI image layout (no index.json + oci-layout); ` +
      `if it is a root filesystem (e.g. from \`docker export\`), use \`berth import ${source} NAME\``,
  );
}

function interpretDocker(col: ArchiveCollector, mf: CollectedFile, byDigest: (d: Digest) => CollectedFile | null): PendingImage[] {
  const items = parseJSON(mf.bytes ?? new Uint8Array(), "docker-archive manifest.json");
  if (!Array.isArray(items)) throw new ImageFormatError("docker-archive manifest.json is not a list");
  // docker 25+ also ships the real OCI manifests; reuse them so the manifest digest survives
  const manifestsByConfig = new Map<string, Uint8Array>();
  for (const f of col.files.values()) {
    if (!f.bytes || !f.path.startsWith("blobs/") || f.bytes[0] !== 0x7b) continue;
    try {
      const m = parseManifest(f.bytes);
      manifestsByConfig.set(m.config.digest, f.bytes);
    } catch {
      // not a manifest
    }
  }
  return items.map((entry: unknown, i: number) => {
    const what = `manifest.json entry ${i}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) throw new ImageFormatError(`${what} is not an object`);
    const item = entry as Record<string, unknown>;
    if (typeof item.Config !== "string" || !Array.isArray(item.Layers)) throw new ImageFormatError(`${what}: needs Config and Layers`);
    const cf = lookup(col, item.Config);
    if (!cf?.bytes) throw new ImageFormatError(`${what}: config ${item.Config} is missing from the archive`);
    const configDigest = sha256(cf.bytes);
    const named = /([a-f0-9]{64})(\.json)?$/.exec(item.Config);
    if (named && `sha256:${named[1]}` !== configDigest) throw new DigestMismatchError(`config ${item.Config}`, `sha256:${named[1]}` as Digest, configDigest);
    const document = parseImageDocument(cf.bytes, `config ${item.Config}`);
    const files = (item.Layers as unknown[]).map((l) => {
      if (typeof l !== "string") throw new ImageFormatError(`${what}: layer paths must be strings`);
      const f = lookup(col, l);
      if (!f) throw new ImageFormatError(`${what}: layer ${l} is missing from the archive`);
      if (!f.layer) throw new ImageFormatError(`${what}: ${l} is not a layer tar`);
      return f;
    });
    if (files.length !== document.rootfs.diff_ids.length) throw new ImageFormatError(`${what}: ${files.length} layers but the config lists ${document.rootfs.diff_ids.length}`);
    // docker's loader goes by manifest.json alone: an OCI manifest is reused only if it names
    // exactly the layer files manifest.json lists (not when, say, a layer was recompressed)
    let manifestBytes = manifestsByConfig.get(configDigest);
    if (manifestBytes) {
      const m = parseManifest(manifestBytes);
      if (m.layers.length !== files.length || m.layers.some((l, j) => l.digest !== files[j]!.digest)) manifestBytes = undefined;
    }
    if (!manifestBytes) {
      // legacy layout has no manifest: write the docker schema2 one it implies (deterministic,
      // so loading the same archive twice gives the same digest)
      const m: Manifest = {
        schemaVersion: 2,
        mediaType: MT.dockerManifest,
        config: { mediaType: MT.dockerConfig, size: cf.bytes.length, digest: configDigest },
        layers: files.map((f) => ({ mediaType: layerMediaType(f.layer!.result.compression, true), size: f.size, digest: f.digest })),
      };
      manifestBytes = new TextEncoder().encode(JSON.stringify(m));
    }
    const manifest = parseManifest(manifestBytes);
    const names = archiveNames(item.RepoTags, `${what}: RepoTags`);
    return {
      manifest: manifestBytes, config: cf.bytes, document, names,
      layers: manifest.layers.map((desc, j) => ({ desc, file: files[j] ?? byDigest(desc.digest) })),
    };
  });
}

function interpretOci(idx: CollectedFile, byDigest: (d: Digest) => CollectedFile | null): PendingImage[] {
  const index = parseIndex(idx.bytes ?? new Uint8Array(), "index.json");
  const out: PendingImage[] = [];
  const seen = new Map<string, PendingImage>();
  const docOf = (d: Descriptor): Uint8Array => {
    const f = byDigest(d.digest);
    if (!f?.bytes) throw new ImageFormatError(`blob ${d.digest} (${d.mediaType}) is missing from the layout`);
    if (f.size !== d.size) throw new ImageFormatError(`blob ${d.digest} is ${f.size} bytes but its descriptor says ${d.size}`);
    return f.bytes;
  };
  const visit = (desc: Descriptor, names: string[], depth: number) => {
    if (depth > 4) throw new ImageFormatError("image index nesting is too deep");
    if (isIndexType(desc.mediaType)) {
      const sub: Index = parseIndex(docOf(desc), `index ${desc.digest}`);
      const pick = pickPlatform(sub.manifests);
      if (!pick) throw new ImageFormatError(`index ${desc.digest} has no manifest for ${hostPlatform().os}/${hostPlatform().architecture}`);
      visit(pick, names, depth + 1);
      return;
    }
    if (!isManifestType(desc.mediaType)) return; // artifacts, attestations: not images
    const manifestBytes = docOf(desc);
    const manifest = parseManifest(manifestBytes, `manifest ${desc.digest}`);
    const known = seen.get(desc.digest);
    if (known) {
      known.names.push(...names);
      return;
    }
    const config = docOf(manifest.config);
    const document = parseImageDocument(config, `config ${manifest.config.digest}`);
    if (document.rootfs.diff_ids.length !== manifest.layers.length) throw new ImageFormatError(`manifest ${desc.digest}: ${manifest.layers.length} layers but the config lists ${document.rootfs.diff_ids.length}`);
    const p: PendingImage = {
      manifest: manifestBytes, config, document, names: [...names],
      layers: manifest.layers.map((l) => ({ desc: l, file: byDigest(l.digest) })),
    };
    seen.set(desc.digest, p);
    out.push(p);
  };
  const top = index.manifests.filter((m) => !m.platform || platformMatches(m));
  for (const m of top.length ? top : index.manifests) visit(m, namesFromAnnotations(m), 0);
  if (!out.length) throw new ImageFormatError("index.json lists no image manifest");
  return out;
}

function platformMatches(d: Descriptor): boolean {
  const h = hostPlatform();
  return !d.platform || (d.platform.os === h.os && d.platform.architecture === h.architecture);
}

function pickPlatform(ms: Descriptor[]): Descriptor | null {
  return ms.find((m) => m.platform && platformMatches(m)) ?? ms.find((m) => !m.platform && isManifestType(m.mediaType)) ?? (ms.length === 1 ? ms[0]! : null);
}

/** The names a docker-archive entry gives (RepoTags: absent, null, or a list of references). */
function archiveNames(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ImageFormatError(`${what} is not a list`);
  return v.map((t, i) => {
    if (typeof t !== "string") throw new ImageFormatError(`${what}[${i}] is not a string`);
    return normalizeTaggedName(t);
  });
}

/** io.containerd.image.name carries the full name; org.opencontainers.image.ref.name may be a full ref or a bare tag. */
function namesFromAnnotations(d: Descriptor): string[] {
  const a: Record<string, unknown> = typeof d.annotations === "object" && d.annotations !== null ? d.annotations : {};
  const full = a["io.containerd.image.name"];
  if (typeof full === "string" && full) return [normalizeTaggedName(full)];
  const ref = a["org.opencontainers.image.ref.name"];
  if (typeof ref === "string" && (ref.includes("/") || ref.includes(":"))) {
    try {
      const t = taggedName(parseReference(ref));
      return t ? [t] : [];
    } catch {
      return [];
    }
  }
  return [];
}

/** Verifies layers against manifest and config, makes snapshots visible, records the images. */
async function publish(store: ImageStore, pending: PendingImage[]): Promise<ImageRecord[]> {
  // check everything before making anything visible
  for (const p of pending) {
    p.layers.forEach(({ desc, file }, i) => {
      const diffId = p.document.rootfs.diff_ids[i]!;
      if (!file) {
        if (!store.blobs.has(desc.digest)) throw new ImageFormatError(`layer ${desc.digest} is neither in the archive nor in the store`);
        return;
      }
      if (file.digest !== desc.digest) throw new DigestMismatchError(`layer ${file.path}`, desc.digest, file.digest);
      if (file.size !== desc.size) throw new ImageFormatError(`layer ${desc.digest} is ${file.size} bytes but the manifest says ${desc.size}`);
      if (!file.layer) throw new ImageFormatError(`${file.path} is not a layer`);
      if (file.layer.result.unpackError) throw file.layer.result.unpackError;
      if (file.layer.result.diffId !== diffId) throw new DigestMismatchError(`uncompressed layer ${file.path} (diff ID)`, diffId, file.layer.result.diffId);
    });
  }
  store.flush(); // unpacked files and blobs reach the disk before any rename makes them visible
  const images: ImageRecord[] = [];
  for (const p of pending) {
    const chains = chainIds(p.document.rootfs.diff_ids);
    for (const [i, { desc, file }] of p.layers.entries()) {
      const chain = chains[i]!;
      if (store.snapshots.has(chain)) continue;
      const diffId = p.document.rootfs.diff_ids[i]!;
      const parent = i ? chains[i - 1]! : null;
      const prepared = file?.layer?.snapshot ?? null;
      if (prepared) {
        store.snapshots.publish(prepared, snapshotInfo(chain, diffId, parent, file!.layer!.result.stats));
        file!.layer!.snapshot = null;
      } else {
        // the same layer at a second chain position, or a layer only the store had: unpack from the blob
        await unpackStoredLayer(store, desc.digest, diffId, chain, parent);
      }
    }
    images.push(store.register({ manifest: p.manifest, config: p.config, names: p.names }));
  }
  return images;
}

/** Unpacks a stored layer blob into a new snapshot (used when a layer sits at a new chain position). */
export async function unpackStoredLayer(store: ImageStore, digest: Digest, diffId: Digest, chain: Digest, parent: Digest | null): Promise<void> {
  if (store.snapshots.has(chain)) return;
  const prepared = store.snapshots.prepare();
  try {
    const ingest = new LayerIngest(prepared.diff, null, store.durable);
    for await (const chunk of store.blobs.stream(digest)) {
      const w = ingest.write(chunk);
      if (w) await w;
    }
    const r = await ingest.end();
    if (r.unpackError) throw r.unpackError;
    if (r.diffId !== diffId) throw new DigestMismatchError(`layer ${digest} (diff ID)`, diffId, r.diffId);
    store.flush();
    store.snapshots.publish(prepared, snapshotInfo(chain, diffId, parent, r.stats));
  } catch (e) {
    store.snapshots.discard(prepared);
    throw e;
  }
}

class RootfsImporter implements ImageImporter {
  constructor(readonly source: string) {}

  async run(store: ImageStore, opts: ImportOptions = {}): Promise<ImportResult> {
    const input = await openInput(this.source, opts); // a stream's first bytes are awaited before the lock
    try {
      return await store.writeLock(() => this.locked(store, input, opts));
    } finally {
      input.close();
    }
  }

  private async locked(store: ImageStore, input: ArchiveInput, opts: ImportOptions): Promise<ImportResult> {
    const isDir = input.kind === "dir";
    const chunks = input.kind === "dir" ? packDirectory(input.path) : input.chunks;
    const layer = await ingestLayer(store, chunks, opts.progress);
    const now = new Date().toISOString();
    const document: ImageDocument = {
      created: now,
      architecture: hostPlatform().architecture,
      os: "linux",
      config: applyChanges({}, opts.changes ?? []),
      rootfs: { type: "layers", diff_ids: [layer.diffId] },
      history: [{ created: now, created_by: `berth import ${isDir ? "(directory)" : this.source === "-" ? "-" : "(tar)"}`, comment: opts.message ?? `Imported from ${this.source}` }],
    };
    const names = (opts.names ?? []).map(normalizeTaggedName);
    const image = commitSingleLayerImage(store, document, [layer], names, null);
    return { format: "rootfs" as const, images: [image], loaded: [{ image, names }] };
  }
}

export interface IngestedLayer {
  digest: Digest;
  diffId: Digest;
  size: number;
  mediaType: string;
  snapshot: PreparedSnapshot;
  stats: UnpackStats | null;
}

/** Streams one layer (tar, gzip or zstd) into a blob and a prepared (not yet visible) snapshot. */
export async function ingestLayer(store: ImageStore, chunks: AsyncIterable<Uint8Array>, progress?: Progress, ociTypes = true): Promise<IngestedLayer> {
  const prepared = store.snapshots.prepare();
  const blob = store.blobs.writer(true);
  const ingest = new LayerIngest(prepared.diff, blob, store.durable);
  try {
    let bytes = 0;
    for await (const chunk of chunks) {
      const w = ingest.write(chunk);
      if (w) await w;
      bytes += chunk.length;
      progress?.({ bytes, layers: 1 });
    }
    const r = await ingest.end();
    if (r.unpackError) throw r.unpackError;
    const digest = blob.commit();
    return { digest, diffId: r.diffId, size: r.size, mediaType: layerMediaType(r.compression, !ociTypes), snapshot: prepared, stats: r.stats };
  } catch (e) {
    ingest.abort();
    await blob.abort();
    store.snapshots.discard(prepared);
    throw e;
  }
}

/**
 * Writes config + manifest for a document whose last `fresh` layers were just ingested
 * (earlier layers come from `base`), publishes their snapshots and records the image.
 */
export function commitSingleLayerImage(store: ImageStore, document: ImageDocument, fresh: IngestedLayer[], names: string[], base: ImageRecord | null): ImageRecord {
  const config = new TextEncoder().encode(JSON.stringify(document));
  const docker = base !== null && base.manifest.mediaType === MT.dockerManifest;
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: docker ? MT.dockerManifest : MT.ociManifest,
    config: { mediaType: docker ? MT.dockerConfig : MT.ociConfig, digest: sha256(config), size: config.length },
    layers: [
      ...(base?.manifest.layers ?? []),
      ...fresh.map((l) => ({ mediaType: docker ? layerMediaType(mediaCompression(l.mediaType), true) : l.mediaType, digest: l.digest, size: l.size })),
    ],
  };
  const chains = chainIds(document.rootfs.diff_ids);
  const offset = chains.length - fresh.length;
  try {
    store.flush();
    fresh.forEach((l, i) => {
      const chain = chains[offset + i]!;
      if (store.snapshots.has(chain)) store.snapshots.discard(l.snapshot);
      else store.snapshots.publish(l.snapshot, snapshotInfo(chain, l.diffId, offset + i ? chains[offset + i - 1]! : null, l.stats));
    });
    return store.register({ manifest: new TextEncoder().encode(JSON.stringify(manifest)), config, names });
  } catch (e) {
    // Snapshots not yet published are ours to remove (a published one is no longer in tmp/: a no-op).
    for (const l of fresh) store.snapshots.discard(l.snapshot);
    throw e;
  }
}

function mediaCompression(mt: string): "none" | "gzip" | "zstd" {
  return mt.endsWith("gzip") ? "gzip" : mt.endsWith("zstd") ? "zstd" : "none";
}
