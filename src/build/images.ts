// What a build step makes of an image: a new image with one more layer (or none: a step that
// changed nothing), a read-only view of an image's files (COPY --from, COPY's destination), and
// the build cache: a table in the image store mapping a step's cache key to the image it made.
import * as fs from "node:fs";
import * as path from "node:path";
import type { ImageRecord, ImageStore } from "../image/store.ts";
import type { ImageConfig, ImageDocument } from "../image/oci.ts";
import { hostPlatform } from "../image/oci.ts";
import { commitSingleLayerImage, ingestLayer, type IngestedLayer } from "../image/importers.ts";
import { tempPath } from "../storage/fsutil.ts";
import { mount, umount, MNT_DETACH } from "../sys/libc.ts";
import { ContextError, type Ignored } from "./context.ts";

const MS_RDONLY = 1;

export interface HistoryEntry {
  created_by: string;
  /** MAINTAINER: the image's author from this step on. */
  author?: string;
  empty_layer?: boolean;
  comment?: string;
}

/**
 * The image after a step: parent's layers plus the layer in `chunks` (a tar stream; null: no
 * layer), the config given, and one history entry. Under the store's write lock, so a prune
 * never sees half of it.
 */
export async function commitStep(store: ImageStore, parent: ImageRecord | null, config: ImageConfig, entry: HistoryEntry, chunks: AsyncIterable<Uint8Array> | null): Promise<ImageRecord> {
  return store.writeLock(async () => {
    const fresh: IngestedLayer[] = chunks ? [await ingestLayer(store, chunks, undefined, parent?.manifest.mediaType !== "application/vnd.docker.distribution.manifest.v2+json")] : [];
    const now = new Date().toISOString();
    const prev: ImageDocument = parent?.document ?? { ...hostPlatform(), config: {}, rootfs: { type: "layers", diff_ids: [] }, history: [] };
    const document: ImageDocument = {
      ...prev,
      created: now,
      ...(entry.author ? { author: entry.author } : {}),
      config,
      rootfs: { type: "layers", diff_ids: [...prev.rootfs.diff_ids, ...fresh.map((l) => l.diffId)] },
      history: [...(prev.history ?? []), { created: now, created_by: entry.created_by, ...(entry.author ? { author: entry.author } : {}), ...(fresh.length ? {} : { empty_layer: true }), ...(entry.comment ? { comment: entry.comment } : {}) }],
    };
    return commitSingleLayerImage(store, document, fresh, [], parent);
  });
}

/** A temporary directory in the store's tmp/ (removed by the next writer if this process dies). */
export function tempDir(store: ImageStore, label: string): string {
  fs.mkdirSync(store.tmpDir, { recursive: true });
  const p = tempPath(store.tmpDir, label);
  fs.mkdirSync(p, { mode: 0o700 });
  return p;
}

/** Runs fn with the image's merged files at a read-only path (an empty directory for scratch). */
export async function withImageView<T>(store: ImageStore, image: ImageRecord | null, fn: (root: string) => Promise<T> | T): Promise<T> {
  const lowers = image ? store.snapshotDirs(image) : [];
  if (lowers.length === 1) return fn(lowers[0]!);
  const dir = tempDir(store, "build-view");
  try {
    if (lowers.length === 0) return await fn(dir);
    mount("overlay", dir, "overlay", MS_RDONLY, `lowerdir=${lowers.join(":")}`);
    try {
      return await fn(dir);
    } finally {
      try { umount(dir); } catch { umount(dir, MNT_DETACH); }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The build cache: step key → the image that step made. An image removed (rmi, prune) takes its rows along. */
export class BuildCache {
  constructor(private store: ImageStore) {
    store.db.exec(`CREATE TABLE IF NOT EXISTS build_cache (
      key TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, created_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS build_cache_image ON build_cache(image_id);`);
  }

  get(key: string): ImageRecord | null {
    const row = this.store.db.query("SELECT image_id FROM build_cache WHERE key = ?").get(key) as { image_id: string } | null;
    if (!row) return null;
    const img = this.store.get(row.image_id as `sha256:${string}`);
    if (!img) return null;
    for (const c of img.chainIds) if (!this.store.snapshots.has(c)) return null;
    return img;
  }

  put(key: string, image: ImageRecord): void {
    this.store.db.query("INSERT INTO build_cache (key, image_id, created_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET image_id = excluded.image_id, created_at = excluded.created_at")
      .run(key, image.id, Date.now());
  }
}

/** Gives the staging tree's directories that exist in the image the image's owner, mode and times,
 *  so a layer that adds files under /app does not change /app itself. */
export function matchParents(staging: string, view: string, rel: string): void {
  const parts = rel.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join("/");
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(view, sub));
    } catch {
      return;
    }
    if (!st.isDirectory()) return;
    const target = path.join(staging, sub);
    if (!fs.existsSync(target)) return;
    fs.chmodSync(target, st.mode & 0o7777);
    fs.lchownSync(target, st.uid, st.gid);
    fs.utimesSync(target, st.atime, st.mtime);
  }
}

/**
 * An absolute path inside an image, its symlinks followed as the container would (an absolute
 * target is taken from the image's root, `..` stops at it); components that do not exist are
 * kept as they are. Never leaves the image's files for the host's.
 */
export function resolveInImage(view: string, p: string): string {
  const parts = p.split("/").filter((x) => x && x !== ".");
  const done: string[] = [];
  let hops = 0;
  while (parts.length) {
    const name = parts.shift()!;
    if (name === "..") { done.pop(); continue; }
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(view, ...done, name));
    } catch {
      done.push(name);
      continue;
    }
    if (!st.isSymbolicLink()) { done.push(name); continue; }
    if (++hops > 40) throw new Error(`too many levels of symbolic links in the image at ${p}`);
    const target = fs.readlinkSync(path.join(view, ...done, name));
    if (target.startsWith("/")) done.length = 0;
    parts.unshift(...target.split("/").filter((x) => x && x !== "."));
  }
  return "/" + done.join("/");
}

/** Whether an image path (resolved by resolveInImage) is a directory there. */
export function isDirIn(view: string, real: string): boolean {
  try {
    return fs.lstatSync(path.join(view, real)).isDirectory();
  } catch {
    return false;
  }
}

/** Whether a relative link at rel (below a source depth levels into the context) leads out of the context. */
function linkEscapes(rel: string, target: string, depth: number): boolean {
  if (depth < 0 || target.startsWith("/")) return false; // an absolute link points into the image, not the host
  let level = depth + rel.split("/").length - 1;
  for (const part of target.split("/")) {
    if (part === "..") level--;
    else if (part && part !== ".") level++;
    if (level < 0) return true;
  }
  return false;
}

/** Copies a file, link or directory tree into the staging area: owner set, mode kept (or --chmod), times kept. */
export function copyTree(from: string, to: string, owner: { uid: number; gid: number }, chmod: number | null, skip: Ignored, contextRel: string, what = "COPY"): void {
  // how deep the source lies in the context ("" for a stage's files: links there are the image's own)
  const contextDepth = contextRel === "" ? -1 : contextRel.split("/").filter((p) => p && p !== ".").length;
  const one = (src: string, dst: string, rel: string) => {
    const st = fs.lstatSync(src);
    if (st.isSymbolicLink()) {
      const target = fs.readlinkSync(src);
      if (linkEscapes(rel, target, contextDepth)) {
        throw new ContextError(`${what} failed: forbidden path outside the build context: ${path.posix.join(contextRel, rel)} is a symlink to ${target}`);
      }
      fs.rmSync(dst, { force: true });
      fs.symlinkSync(target, dst);
      fs.lchownSync(dst, owner.uid, owner.gid);
      return;
    }
    if (st.isDirectory()) {
      if (!fs.existsSync(dst)) fs.mkdirSync(dst);
      for (const n of fs.readdirSync(src).sort()) {
        const r = rel ? `${rel}/${n}` : n;
        const child = path.join(src, n);
        if (skip(r, fs.lstatSync(child).isDirectory())) continue;
        one(child, path.join(dst, n), r);
      }
    } else if (st.isFile()) {
      fs.copyFileSync(src, dst);
    } else return; // devices, fifos and sockets are not copied
    fs.chmodSync(dst, chmod ?? st.mode & 0o7777);
    fs.lchownSync(dst, owner.uid, owner.gid);
    fs.utimesSync(dst, st.atime, st.mtime);
  };
  one(from, to, "");
}
