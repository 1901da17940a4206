// The image store: blobs + snapshots (src/storage) plus image/tag metadata in SQLite.
// An image exists once its row is committed; everything it needs (blobs, snapshots) is made
// visible before that, so a crash leaves at most unreferenced data that `prune` removes.
import { Database } from "bun:sqlite";
import * as fs from "node:fs";
import * as path from "node:path";
import { BlobStore } from "../storage/blobs.ts";
import { syncfs } from "../storage/ffi.ts";
import { chainIds, type Digest, isDigest } from "../storage/digest.ts";
import { treeSize } from "../storage/fsutil.ts";
import { FileLock, withLock } from "../storage/lock.ts";
import { SnapshotStore } from "../storage/snapshots.ts";
import { ensureHeadroom, replenishReserve } from "../storage/space.ts";
import { removeDeadTemporaries, removeOtherTemporaries, tempEntries, type TempEntry } from "../storage/temp.ts";
import { type ImageConfig, type ImageDocument, type Manifest, parseImageDocument, parseManifest } from "./oci.ts";
import { builtOn } from "./lineage.ts";
import { familiarName, parseReference, repository, taggedName } from "./reference.ts";

export const DEFAULT_ROOT = "/var/lib/berth";

export interface LayerRecord {
  digest: Digest;     // the blob (possibly compressed)
  diffId: Digest;     // the uncompressed tar
  chainId: Digest;    // snapshot key
  mediaType: string;
  size: number;       // blob bytes
}

export interface ImageRecord {
  id: Digest;                  // config digest (docker's image ID)
  digest: Digest;              // manifest digest
  names: string[];             // canonical tagged names, e.g. docker.io/library/busybox:latest
  repoDigests: string[];       // canonical repo@digest
  config: ImageConfig;         // Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels…
  document: ImageDocument;     // the whole OCI image config
  manifest: Manifest;
  manifestMediaType: string;
  layers: LayerRecord[];       // bottom first
  chainIds: Digest[];          // bottom first
  created: string | null;
  size: number;                // sum of blob sizes of the layers
  loadedAt: number;            // ms since epoch
}

export interface RegisterInput {
  manifest: Uint8Array;
  config: Uint8Array;
  names: string[];             // canonical tagged names
  /** repository@digest the image is known by besides its manifest's (a pulled index's digest) */
  repoDigests?: string[];
}

export interface RemoveResult {
  untagged: string[];
  deleted: Digest[];
}

export interface StoreOptions {
  durable?: boolean;
  /** Containers that use images, when another store keeps them (the engine's containers.db):
   *  consulted besides the holds table by rmi and prune. */
  holders?: HolderSource;
}

/** Who uses which image, answered by whoever keeps the containers. */
export interface HolderSource {
  holdersOf(imageId: Digest): string[];
  heldImages(): Set<string>;
}

export class ImageStore {
  readonly blobs: BlobStore;
  readonly snapshots: SnapshotStore;
  readonly tmpDir: string;
  readonly lockDir: string;
  readonly db: Database;
  private cache = new Map<string, { manifest: Manifest; document: ImageDocument }>();
  /** Bytes of dead writers' temporaries removed outside a prune (to make room at open): the next
   *  prune reports them with what it frees. */
  private unreported = 0;

  /**
   * durable: one syncfs(2) before new snapshots and images become visible, so they survive a
   * power cut, not just a killed process (default true).
   */
  readonly durable: boolean;

  constructor(readonly root: string, private opts: StoreOptions = {}) {
    this.durable = opts.durable ?? true;
    fs.mkdirSync(root, { recursive: true, mode: 0o711 });
    this.tmpDir = path.join(root, "tmp");
    this.lockDir = path.join(root, "locks");
    fs.mkdirSync(this.lockDir, { recursive: true });
    this.blobs = new BlobStore(root, this.tmpDir);
    this.snapshots = new SnapshotStore(root, this.tmpDir);
    this.unreported += ensureHeadroom(root); // a full disk must not keep SQLite from opening (see storage/space.ts)
    this.db = new Database(path.join(root, "images.db"), { create: true });
    // busy_timeout first: switching to WAL itself needs the lock another berth may hold.
    // (a small wal_autocheckpoint for the same reason as the engine's store: see src/engine/store.ts)
    this.db.exec("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 32;");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS images (
        id TEXT PRIMARY KEY, manifest TEXT NOT NULL, manifest_type TEXT NOT NULL, loaded_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS names (
        name TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, tagged_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS holds (
        holder TEXT PRIMARY KEY, image_id TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS repo_digests (
        repository TEXT NOT NULL, digest TEXT NOT NULL, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        PRIMARY KEY (repository, digest));
    `);
  }

  close(): void {
    this.db.close();
  }

  gcLockPath(): string {
    return path.join(this.lockDir, "gc.lock");
  }

  /**
   * Loads, imports and commits take this shared; prune/rmi take it exclusive, so GC never sees half
   * a load. A writer first removes what dead writers left in tmp/. If fn fails, what it wrote goes
   * too: its temporaries are its own to discard (they do), and the blobs or snapshots it made
   * visible before failing — unreferenced once no image names them — are collected right away
   * when no other writer is at work (else by the next prune). A full disk gets a message that
   * says what to do.
   */
  async writeLock<T>(fn: () => Promise<T> | T): Promise<T> {
    try {
      return await withLock(this.gcLockPath(), "shared", () => {
        this.unreported += this.cleanTemp();
        return fn();
      });
    } catch (e) {
      this.collectIfIdle();
      throw noSpaceError(e, this.root);
    }
  }

  /** rmi and prune: the exclusive lock, and the disk's reserve put back once space was freed. */
  private async freeing<T>(fn: () => T): Promise<T> {
    try {
      return await withLock(this.gcLockPath(), "exclusive", fn);
    } finally {
      replenishReserve(this.root);
    }
  }

  /** GC (no image removed) if nobody holds the lock: after a failed write. Best effort. */
  private collectIfIdle(): void {
    let lock: FileLock | null = null;
    try {
      lock = FileLock.tryAcquire(this.gcLockPath(), "exclusive");
      if (lock) this.collectGarbageLocked();
    } catch {
      // the next prune collects it
    } finally {
      lock?.release();
    }
  }

  // ---- lookup ----

  list(): ImageRecord[] {
    const rows = this.db.query("SELECT id FROM images ORDER BY loaded_at DESC").all() as Array<{ id: string }>;
    return rows.map((r) => this.get(r.id as Digest)).filter((r): r is ImageRecord => r !== null);
  }

  get(id: Digest): ImageRecord | null {
    const row = this.db.query("SELECT id, manifest, manifest_type, loaded_at FROM images WHERE id = ?").get(id) as
      | { id: Digest; manifest: Digest; manifest_type: string; loaded_at: number }
      | null;
    if (!row) return null;
    let docs = this.cache.get(row.id + row.manifest);
    if (!docs) {
      docs = {
        manifest: parseManifest(this.blobs.read(row.manifest), `manifest ${row.manifest}`),
        document: parseImageDocument(this.blobs.read(row.id), `image config ${row.id}`),
      };
      this.cache.set(row.id + row.manifest, docs);
    }
    const { manifest, document } = docs;
    const names = (this.db.query("SELECT name FROM names WHERE image_id = ? ORDER BY tagged_at, name").all(id) as Array<{ name: string }>).map((r) => r.name);
    const chains = chainIds(document.rootfs.diff_ids);
    const layers = manifest.layers.map((l, i) => ({
      digest: l.digest, diffId: document.rootfs.diff_ids[i]!, chainId: chains[i]!, mediaType: l.mediaType, size: l.size,
    }));
    const repos = [...new Set(names.map((n) => n.slice(0, n.lastIndexOf(":"))))];
    return {
      id: row.id,
      digest: row.manifest,
      names,
      repoDigests: [...new Set([
        ...repos.map((r) => `${r}@${row.manifest}`),
        // digests a pull recorded: a multi-platform index's, which names this image in that repository
        ...(this.db.query("SELECT repository, digest FROM repo_digests WHERE image_id = ?").all(id) as Array<{ repository: string; digest: string }>).map((r) => `${r.repository}@${r.digest}`),
      ])],
      config: document.config ?? {},
      document,
      manifest,
      manifestMediaType: row.manifest_type,
      layers,
      chainIds: chains,
      created: document.created ?? null,
      size: layers.reduce((a, l) => a + l.size, 0),
      loadedAt: row.loaded_at,
    };
  }

  /**
   * Resolves a user reference: a full image ID, a name[:tag], name@digest, a manifest digest,
   * or a unique ID prefix (≥ 4 hex digits), in that order. Returns null when nothing matches;
   * throws on an ambiguous prefix or a malformed reference.
   */
  resolve(ref: string): ImageRecord | null {
    if (isDigest(ref)) {
      const byId = this.get(ref);
      if (byId) return byId;
      const byManifest = this.db.query("SELECT id FROM images WHERE manifest = ?").get(ref) as { id: Digest } | null;
      return byManifest ? this.get(byManifest.id) : null;
    }
    const hexPrefix = /^[a-f0-9]{4,64}$/.test(ref) ? ref : null;
    let parsed;
    try {
      parsed = parseReference(ref);
    } catch (e) {
      if (hexPrefix === null) throw e;
      parsed = null;
    }
    if (parsed) {
      if (parsed.digest) {
        const recorded = this.db.query("SELECT image_id FROM repo_digests WHERE repository = ? AND digest = ?").get(repository(parsed), parsed.digest) as { image_id: Digest } | null;
        if (recorded) return this.get(recorded.image_id);
        const rows = this.db.query("SELECT id FROM images WHERE manifest = ?").all(parsed.digest) as Array<{ id: Digest }>;
        // prefer the image that carries this repository name, as docker does
        const repo = repository(parsed);
        for (const r of rows) {
          const n = this.db.query("SELECT 1 FROM names WHERE image_id = ? AND name LIKE ?").get(r.id, `${repo}:%`);
          if (n) return this.get(r.id);
        }
        return rows[0] ? this.get(rows[0].id) : null;
      }
      const row = this.db.query("SELECT image_id FROM names WHERE name = ?").get(taggedName(parsed)!) as { image_id: Digest } | null;
      if (row) return this.get(row.image_id);
    }
    if (hexPrefix) {
      const rows = this.db.query("SELECT id FROM images WHERE id LIKE ?").all(`sha256:${hexPrefix}%`) as Array<{ id: Digest }>;
      if (rows.length > 1) throw new Error(`image ID prefix ${hexPrefix} is ambiguous (${rows.length} images); give more digits`);
      if (rows.length === 1) return this.get(rows[0]!.id);
    }
    return null;
  }

  /** Like resolve() but throws a helpful error instead of returning null. */
  require(ref: string): ImageRecord {
    const img = this.resolve(ref);
    if (!img) throw new Error(`no such image: ${ref} (see \`berth images\`; images come from \`berth load\`, \`berth import\` or a build)`);
    return img;
  }

  /** Overlay lowerdirs for an image, top layer first. */
  snapshotDirs(image: ImageRecord): string[] {
    const dirs: string[] = [];
    for (let i = image.chainIds.length - 1; i >= 0; i--) {
      const c = image.chainIds[i]!;
      if (!this.snapshots.has(c)) throw new Error(`snapshot ${c} of image ${image.id} is missing from ${this.snapshots.dir}; remove and load the image again`);
      dirs.push(this.snapshots.diffDir(c));
    }
    return dirs;
  }

  // ---- changes ----

  /**
   * Records an image whose blobs and snapshots are already in place. Names move from any image
   * that had them (that image stays, possibly untagged: a "dangling" image, as docker does).
   */
  register(input: RegisterInput): ImageRecord {
    const configDigest = this.blobs.put(input.config);
    const manifest = parseManifest(input.manifest);
    if (manifest.config.digest !== configDigest) {
      throw new Error(`manifest names config ${manifest.config.digest} but the config given hashes to ${configDigest}`);
    }
    const document = parseImageDocument(input.config);
    if (document.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new Error(`image config lists ${document.rootfs.diff_ids.length} layers but the manifest ${manifest.layers.length}`);
    }
    for (const l of manifest.layers) if (!this.blobs.has(l.digest)) throw new Error(`layer blob ${l.digest} is not in the store`);
    for (const c of chainIds(document.rootfs.diff_ids)) if (!this.snapshots.has(c)) throw new Error(`snapshot ${c} is not in the store`);
    const manifestDigest = this.blobs.put(input.manifest);
    const now = Date.now();
    this.db.transaction(() => {
      this.db.query("INSERT INTO images (id, manifest, manifest_type, loaded_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET manifest = excluded.manifest, manifest_type = excluded.manifest_type")
        .run(configDigest, manifestDigest, manifest.mediaType ?? "application/vnd.oci.image.manifest.v1+json", now);
      for (const n of input.names) {
        this.db.query("INSERT INTO names (name, image_id, tagged_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, tagged_at = excluded.tagged_at")
          .run(n, configDigest, now);
      }
      for (const rd of input.repoDigests ?? []) {
        const at = rd.lastIndexOf("@");
        this.db.query("INSERT INTO repo_digests (repository, digest, image_id) VALUES (?, ?, ?) ON CONFLICT(repository, digest) DO UPDATE SET image_id = excluded.image_id")
          .run(rd.slice(0, at), rd.slice(at + 1), configDigest);
      }
    })();
    return this.get(configDigest)!;
  }

  tag(ref: string, name: string): ImageRecord {
    const img = this.require(ref);
    const r = parseReference(name);
    if (r.digest) throw new Error(`cannot tag with a digest (${name}); give NAME[:TAG]`);
    this.db.query("INSERT INTO names (name, image_id, tagged_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, tagged_at = excluded.tagged_at")
      .run(taggedName(r)!, img.id, Date.now());
    return this.get(img.id)!;
  }

  /**
   * Containers hold their image so rmi/prune leave it alone. A hold is written as durably as the
   * container record it belongs to (the engine's store: WAL, synchronous=NORMAL), not with this
   * store's full sync per commit: two fsyncs per `run --rm` cost more than the rest of its
   * bookkeeping, and a power cut that loses the hold loses that container's record as well.
   */
  hold(holder: string, imageId: Digest): void {
    this.relaxed(() => this.db.query("INSERT OR REPLACE INTO holds (holder, image_id) VALUES (?, ?)").run(holder, imageId));
  }
  release(holder: string): void {
    this.relaxed(() => this.db.query("DELETE FROM holds WHERE holder = ?").run(holder));
  }
  private relaxed(write: () => void): void {
    this.db.exec("PRAGMA synchronous = NORMAL");
    try {
      write();
    } finally {
      this.db.exec("PRAGMA synchronous = FULL");
    }
  }
  useHolders(source: HolderSource): void {
    this.opts = { ...this.opts, holders: source };
  }

  holders(imageId: Digest): string[] {
    const recorded = (this.db.query("SELECT holder FROM holds WHERE image_id = ?").all(imageId) as Array<{ holder: string }>).map((r) => r.holder);
    return [...recorded, ...(this.opts.holders?.holdersOf(imageId) ?? [])];
  }

  /**
   * docker rmi: a name that is one of several only untags; otherwise the image goes, then its
   * blobs and snapshots if nothing else uses them. A held image needs force, which only untags
   * it: the record stays, dangling, until its containers are gone and it is pruned.
   */
  async remove(ref: string, opts: { force?: boolean; prune?: boolean } = {}): Promise<RemoveResult> {
    return this.freeing(() => {
      const img = this.require(ref);
      const res: RemoveResult = { untagged: [], deleted: [] };
      let byName: string | null = null;
      try {
        const p = parseReference(ref);
        const t = taggedName(p);
        if (t && img.names.includes(t)) byName = t;
      } catch {
        byName = null;
      }
      if (byName && img.names.length > 1) {
        this.db.query("DELETE FROM names WHERE name = ?").run(byName);
        res.untagged.push(familiarName(byName));
        return res;
      }
      const holders = this.holders(img.id);
      if (holders.length) {
        if (!opts.force) {
          throw new Error(`image ${familiarName(img.names[0] ?? img.id)} is in use by container ${holders[0]}; remove the container first or use --force`);
        }
        // as docker: forcing only untags; the image stays (dangling) while a container runs on it
        this.db.query("DELETE FROM names WHERE image_id = ?").run(img.id);
        res.untagged.push(...img.names.map(familiarName));
        return res;
      }
      if (!byName && img.names.length > 1 && !opts.force) {
        throw new Error(`image ${img.id.slice(7, 19)} is referenced by several names (${img.names.map(familiarName).join(", ")}); remove them by name or use --force`);
      }
      this.db.transaction(() => {
        this.db.query("DELETE FROM names WHERE image_id = ?").run(img.id);
        this.db.query("DELETE FROM images WHERE id = ?").run(img.id);
      })();
      res.untagged.push(...img.names.map(familiarName));
      res.deleted.push(img.id);
      res.deleted.push(...this.removeUnusedParents(img));
      if (opts.prune !== false) this.collectGarbageLocked();
      return res;
    });
  }

  /**
   * After rmi: the untagged images the removed one was built on (a build's intermediate images)
   * go too, nearest first, as long as no container holds them and no other image is built on
   * them — docker's rmi does the same. Returns their IDs. Caller holds the exclusive lock.
   */
  private removeUnusedParents(removed: ImageRecord): Digest[] {
    const deleted: Digest[] = [];
    const rest = this.list();
    let child = removed.document;
    for (;;) {
      const parents = rest.filter((p) => builtOn(child, p.document)).sort((a, b) => (b.document.history?.length ?? 0) - (a.document.history?.length ?? 0));
      const parent = parents[0];
      if (!parent || parent.names.length || this.holders(parent.id).length) break;
      if (rest.some((o) => o.id !== parent.id && !deleted.includes(o.id) && builtOn(o.document, parent.document))) break;
      this.db.transaction(() => {
        this.db.query("DELETE FROM images WHERE id = ?").run(parent.id);
      })();
      deleted.push(parent.id);
      child = parent.document;
      rest.splice(rest.indexOf(parent), 1);
    }
    return deleted;
  }

  /** Removes dangling images (all unused ones with all=true), then unreferenced blobs and
   *  snapshots and what dead loads left in tmp/; reclaimedBytes counts all of it. */
  async prune(opts: { all?: boolean } = {}): Promise<{ deleted: Digest[]; reclaimedBytes: number }> {
    return this.freeing(() => {
      const deleted: Digest[] = [];
      const held = new Set((this.db.query("SELECT image_id FROM holds").all() as Array<{ image_id: string }>).map((r) => r.image_id));
      for (const id of this.opts.holders?.heldImages() ?? []) held.add(id);
      for (const row of this.db.query("SELECT id FROM images").all() as Array<{ id: Digest }>) {
        if (held.has(row.id)) continue;
        const named = this.db.query("SELECT 1 FROM names WHERE image_id = ?").get(row.id);
        if (named && !opts.all) continue;
        this.db.transaction(() => {
          this.db.query("DELETE FROM names WHERE image_id = ?").run(row.id);
          this.db.query("DELETE FROM images WHERE id = ?").run(row.id);
        })();
        deleted.push(row.id);
      }
      const reclaimedBytes = this.collectGarbageLocked() + this.removePartialDownloads() + this.unreported;
      this.unreported = 0;
      return { deleted, reclaimedBytes };
    });
  }

  /** Where pulls keep a layer's bytes until they are whole (kept when a pull is interrupted, so the
   *  next one resumes: see registry/download.ts). */
  get downloadsDir(): string {
    return path.join(this.root, "downloads");
  }

  /** prune: the partial downloads of interrupted pulls (no pull runs: the caller holds the lock
   *  exclusive). Not after a failed write: a pull that failed keeps its bytes for the next one. */
  private removePartialDownloads(): number {
    let freed = 0;
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.downloadsDir);
    } catch {
      return 0;
    }
    for (const n of names) {
      const p = path.join(this.downloadsDir, n);
      try {
        freed += fs.statSync(p).size;
        fs.rmSync(p, { force: true });
      } catch {
        // gone meanwhile
      }
    }
    return freed;
  }

  /** Frees blobs and snapshots no image references, and leftovers of dead loads; returns the bytes
   *  freed. Caller holds the exclusive lock. */
  private collectGarbageLocked(): number {
    const blobs = new Set<string>();
    const snaps = new Set<string>();
    for (const row of this.db.query("SELECT id, manifest FROM images").all() as Array<{ id: Digest; manifest: Digest }>) {
      blobs.add(row.id);
      blobs.add(row.manifest);
      const img = this.get(row.id);
      if (!img) continue;
      for (const l of img.layers) blobs.add(l.digest);
      for (const c of img.chainIds) snaps.add(c);
    }
    let freed = 0;
    for (const d of this.blobs.list()) {
      if (blobs.has(d)) continue;
      try {
        freed += this.blobs.size(d);
      } catch {
        // gone already
      }
      this.blobs.delete(d);
    }
    for (const c of this.snapshots.list()) {
      if (snaps.has(c)) continue;
      // What the disk gets back: the files as unpacked (info.json's size counts only file contents).
      freed += treeSize(this.snapshots.path(c));
      this.snapshots.remove(c);
    }
    return freed + this.cleanTemp(true);
  }

  /** Removes the temp entries of processes that died mid-write (every other process's entry when
   *  `all`, which needs the exclusive lock); returns the bytes freed. */
  cleanTemp(all = false): number {
    return all ? removeOtherTemporaries(this.tmpDir) : removeDeadTemporaries(this.tmpDir);
  }

  /** What tmp/ holds now (for system df): writes in progress (live) and leftovers of dead ones. */
  tempUsage(): TempEntry[] {
    return tempEntries(this.tmpDir);
  }

  /**
   * Starts putting what is written so far on disk, without waiting for it, when durable: the
   * flush() that publishes then waits for less. A pull calls it when a big layer's last byte has
   * arrived, while the rest is still decompressed and unpacked (syncfs(2) blocks the thread that
   * calls it, so it runs in a `sync -f` child; without one, flush() does all of it). On the bench
   * host this took the final wait from 0.21–0.31 s to ~0.05 s on a journalled ext4.
   */
  flushSoon(): void {
    // one at a time: a load of many big layers starts one, then another once that one is done
    if (!this.durable || (this.flushing && this.flushing.exitCode === null)) return;
    try {
      const child = Bun.spawn(["sync", "-f", this.root], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      child.unref();
      this.flushing = child;
    } catch {
      // no coreutils `sync` here: flush() alone
    }
  }

  private flushing: { exitCode: number | null } | null = null;

  /** Puts everything written so far on disk (one syncfs for the whole store) when durable. */
  flush(): void {
    if (!this.durable) return;
    const fd = fs.openSync(this.root, "r");
    try {
      syncfs(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Whether a prune/rmi currently holds the store exclusively (for diagnostics). */
  busy(): boolean {
    const l = FileLock.tryAcquire(this.gcLockPath(), "shared");
    if (l) l.release();
    return l === null;
  }
}

/** ENOSPC (files) or SQLITE_FULL (the database), said so that the user knows what to do. */
function noSpaceError(e: unknown, root: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (!(err instanceof Error) || !(err.code === "ENOSPC" || err.code === "SQLITE_FULL" || /ENOSPC|no space left on device|database or disk is full/i.test(err.message))) return e;
  return new Error(`no space left on device under ${root} (${err.message}); free space (berth system prune, berth image prune -a, berth rm) and try again`);
}

const stores = new Map<string, ImageStore>();

/** Opens (creating if needed) the store at root; one instance per root per process. */
export function openImageStore(root: string = DEFAULT_ROOT, opts: StoreOptions = {}): ImageStore {
  const key = path.resolve(root);
  let s = stores.get(key);
  if (!s) {
    s = new ImageStore(key, opts);
    stores.set(key, s);
  } else if (opts.holders) {
    s.useHolders(opts.holders);
  }
  return s;
}

/** Forgets a cached store (tests that delete their root). */
export function closeImageStore(root: string): void {
  const key = path.resolve(root);
  stores.get(key)?.close();
  stores.delete(key);
}
