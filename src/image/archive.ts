// Reads an image archive (a tar file, stdin, or an unpacked directory) in ONE pass: every file
// is looked at once; layer-looking blobs are stored and unpacked speculatively while they stream
// by, small JSON documents are kept in memory, and only afterwards do we interpret the layout.
import * as fs from "node:fs";
import * as path from "node:path";
import { type BlobWriter, ParallelBlobWriter } from "../storage/blobs.ts";
import { type Digest, Hasher } from "../storage/digest.ts";
import { LayerIngest, type LayerIngestResult, looksLikeLayer } from "../storage/ingest.ts";
import type { PreparedSnapshot } from "../storage/snapshots.ts";
import { type TarEntry, TarReader, type TarVisitor } from "../storage/tar.ts";
import { readFileChunks } from "./input.ts";
import type { ImageStore } from "./store.ts";

const SNIFF = 512;
const KEEP_IN_MEMORY = 32 << 20;   // non-layer files up to this size are kept for parsing…
const MEMORY_BUDGET = 256 << 20;   // …up to this much in all (a hostile archive cannot exhaust memory)
const PARALLEL_FROM = 8 << 20; // layers from this size hash+store on the blob worker thread

export interface CollectedFile {
  path: string;
  size: number;
  digest: Digest;
  bytes: Uint8Array | null;                   // small non-layer content
  layer: { result: LayerIngestResult; snapshot: PreparedSnapshot | null } | null;
  stored: boolean;                            // the blob is in the store
}

export interface Progress {
  (event: { bytes: number; file?: string; layers: number }): void;
}

function normalizePath(p: string): string {
  return p.split("/").filter((c) => c !== "" && c !== ".").join("/");
}

/** Receives the entries of the archive and streams each file to its destination. */
export class ArchiveCollector implements TarVisitor {
  readonly files = new Map<string, CollectedFile>();
  readonly links = new Map<string, string>(); // path -> path it stands for (symlinks, hardlinks)
  private pending: Promise<void>[] = [];
  private cur: {
    path: string; size: number; sniff: Uint8Array[]; sniffLen: number;
    ingest: LayerIngest | null; snapshot: PreparedSnapshot | null; blob: BlobWriter | null; mem: Uint8Array[] | null; hash: Hasher | null;
  } | null = null;
  private wait: Promise<void> | null = null;
  /** Every blob writer and snapshot directory made, until discard(): what a failed load must remove. */
  private made: Array<{ blob: BlobWriter | null; snapshot: PreparedSnapshot | null }> = [];
  bytes = 0;
  layers = 0;
  private inMemory = 0;
  error: Error | null = null;

  constructor(private store: ImageStore, private unpack = true) {}

  entry(e: TarEntry): void {
    const p = normalizePath(e.name);
    if (e.type === "symlink") {
      this.links.set(p, normalizePath(path.posix.join(path.posix.dirname(p), e.linkname)));
      return;
    }
    if (e.type === "hardlink") {
      this.links.set(p, normalizePath(e.linkname));
      return;
    }
    if (e.type !== "file") return;
    this.cur = { path: p, size: e.size, sniff: [], sniffLen: 0, ingest: null, snapshot: null, blob: null, mem: null, hash: null };
  }

  data(chunk: Uint8Array): void {
    const c = this.cur;
    if (!c) return;
    this.bytes += chunk.length;
    if (c.ingest === null && c.mem === null && c.blob === null) {
      c.sniffLen += chunk.length;
      if (c.sniffLen < SNIFF && c.sniffLen < c.size) {
        c.sniff.push(chunk.slice()); // kept past this call: a copy (read buffers are reused)
        return;
      }
      c.sniff.push(chunk);
      this.decide();
      return;
    }
    this.route(chunk);
  }

  endEntry(): void {
    const c = this.cur;
    if (!c) return;
    if (c.ingest === null && c.mem === null && c.blob === null) this.decide();
    this.cur = null;
    if (c.ingest) {
      const ingest = c.ingest, blob = c.blob!;
      // a big layer's last bytes are in; its unpack may still be catching up (a compressed one's
      // decompression on the blob worker): the disk can start on what is written (as a pull does)
      if (blob instanceof ParallelBlobWriter) this.store.flushSoon();
      this.pending.push((async () => {
        try {
          const result = await ingest.end();
          const digest = blob.commit();
          this.keep({ path: c.path, size: result.size, digest, bytes: null, layer: { result, snapshot: c.snapshot }, stored: true });
        } catch (err) {
          await blob.abort();
          if (c.snapshot) this.store.snapshots.discard(c.snapshot);
          this.error ??= err as Error;
        }
      })());
    } else if (c.mem) {
      const bytes = Buffer.concat(c.mem);
      this.keep({ path: c.path, size: bytes.length, digest: c.hash!.digest(), bytes, layer: null, stored: false });
    } else if (c.blob) {
      try {
        const digest = c.blob.commit();
        this.keep({ path: c.path, size: c.blob.size, digest, bytes: null, layer: null, stored: true });
      } catch (err) {
        c.blob.abort();
        throw err;
      }
    }
  }

  /** Records a file; a later entry of the same name replaces it (as tar -x), its snapshot dropped. */
  private keep(f: CollectedFile): void {
    const old = this.files.get(f.path);
    if (old?.layer?.snapshot) this.store.snapshots.discard(old.layer.snapshot);
    this.files.set(f.path, f);
  }

  /** Awaited by the reader after each chunk: decompression backpressure. */
  async drain(): Promise<void> {
    const w = this.wait;
    this.wait = null;
    if (w) await w;
  }

  async finish(): Promise<void> {
    await Promise.all(this.pending);
    if (this.error) throw this.error;
  }

  /**
   * Removes every temporary this collector made that did not become part of the store: the entry
   * in flight if the archive broke off mid-way, the blob and snapshot of an entry whose layer
   * failed (a full disk, a corrupt layer), and every snapshot not published. Called when the load
   * ends, failed or not (what was published or committed is gone from tmp/ already: a no-op).
   */
  async discard(): Promise<void> {
    const c = this.cur;
    this.cur = null;
    c?.ingest?.abort(); // no more writes into its snapshot or blob
    await Promise.allSettled(this.pending);
    for (const { blob, snapshot } of this.made) {
      await blob?.abort();
      if (snapshot) this.store.snapshots.discard(snapshot);
    }
    this.made = [];
  }

  private decide(): void {
    const c = this.cur!;
    const head = c.sniff.length === 1 ? c.sniff[0]! : Buffer.concat(c.sniff);
    c.sniff = [];
    if (looksLikeLayer(head)) {
      c.blob = this.store.blobs.writer(c.size >= PARALLEL_FROM);
      c.snapshot = this.unpack ? this.store.snapshots.prepare() : null;
      c.ingest = new LayerIngest(c.snapshot?.diff ?? null, c.blob, this.store.durable);
      this.made.push({ blob: c.blob, snapshot: c.snapshot });
      this.layers++;
    } else if (c.size <= KEEP_IN_MEMORY && this.inMemory + c.size <= MEMORY_BUDGET) {
      this.inMemory += c.size;
      c.mem = [];
      c.hash = new Hasher();
    } else {
      c.blob = this.store.blobs.writer();
      this.made.push({ blob: c.blob, snapshot: null });
    }
    if (head.length) this.route(head);
  }

  private route(chunk: Uint8Array): void {
    const c = this.cur!;
    if (c.ingest) {
      const w = c.ingest.write(chunk);
      if (w) this.wait = this.wait ? this.wait.then(() => w) : w;
    } else if (c.mem) {
      c.mem.push(chunk.slice()); // a copy: read buffers are reused
      c.hash!.update(chunk);
    } else {
      c.blob!.write(chunk);
    }
  }
}

/** Feeds a tar archive (its bytes, from openInput()) through a collector. */
export async function collectTar(chunks: AsyncIterable<Uint8Array>, col: ArchiveCollector, progress?: Progress): Promise<void> {
  const reader = new TarReader(col);
  for await (const chunk of chunks) {
    reader.push(chunk);
    await col.drain();
    progress?.({ bytes: col.bytes, layers: col.layers });
    if (reader.done) break;
  }
  reader.finish();
  await col.finish();
}

/** Feeds an unpacked archive directory (an OCI image layout on disk) through a collector. */
export async function collectDir(dir: string, col: ArchiveCollector, progress?: Progress): Promise<void> {
  const walk = async (rel: string): Promise<void> => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = path.join(dir, r);
      const st = fs.lstatSync(abs);
      if (st.isDirectory()) {
        await walk(r);
        continue;
      }
      if (!st.isFile()) continue;
      const e: TarEntry = { name: r, type: "file", mode: 0o644, uid: 0, gid: 0, size: st.size, mtime: 0, linkname: "", devmajor: 0, devminor: 0, xattrs: null };
      col.entry(e);
      for await (const chunk of readFileChunks(abs)) {
        col.data(chunk);
        await col.drain();
        progress?.({ bytes: col.bytes, layers: col.layers, file: r });
      }
      col.endEntry();
    }
  };
  await walk("");
  await col.finish();
}
