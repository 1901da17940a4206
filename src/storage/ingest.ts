// One pass over a layer blob: hash the compressed bytes, store them, decompress, hash the
// uncompressed bytes (the diff ID) and unpack the tar — all on the same chunks as they stream by.
// A big layer's blob goes to the blob worker thread, which then also decompresses it and hashes
// the result, handing the uncompressed bytes back for this thread to unpack (blob-worker.ts).
import * as zlib from "node:zlib";
import { type BlobWriter, type Inflation, ParallelBlobWriter, ParallelHasher } from "./blobs.ts";
import { isPooled } from "./chunks.ts";
import { type Digest, Hasher } from "./digest.ts";
import { TarReader } from "./tar.ts";
import { LayerWriter, type UnpackStats } from "./unpack.ts";

/**
 * Resolves at the first of `events` on `stream` (or at once if it is already destroyed). Every
 * wait on a stream names each event after which the awaited one can no longer come, so no wait
 * outlives the stream.
 */
function settled(stream: NodeJS.EventEmitter & { destroyed: boolean }, events: string[]): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise<void>((res) => {
    const done = () => {
      for (const ev of events) stream.off(ev, done);
      res();
    };
    for (const ev of events) stream.on(ev, done);
  });
}

export type Compression = "none" | "gzip" | "zstd";

export interface LayerIngestResult {
  digest: Digest;        // of the bytes as given (the blob)
  size: number;
  diffId: Digest;        // of the uncompressed tar
  compression: Compression;
  stats: UnpackStats | null;
  unpackError: Error | null;
}

export function detectCompression(head: Uint8Array): Compression | "unknown" {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  if (head.length >= 262 && head[257] === 0x75 && head[258] === 0x73 && head[259] === 0x74 && head[260] === 0x61 && head[261] === 0x72) return "none";
  // an empty layer: nothing but the end-of-archive zero blocks
  if (head.length >= 512 && head.subarray(0, 512).every((b) => b === 0)) return "none";
  return "unknown";
}

/** Whether a blob's first bytes could be a layer (tar, gzip, zstd). Needs ≥ 262 bytes for plain tar. */
export function looksLikeLayer(head: Uint8Array): boolean {
  return detectCompression(head) !== "unknown";
}

/**
 * Streams one layer. write() may return a promise (decompressor backpressure) which the caller
 * must await before writing again. With unpackDir = null only hashing/storing happens.
 */
export class LayerIngest {
  private blobHash: Hasher | ParallelHasher | null;
  private blobBytes = 0;
  private diffHash: Hasher | null = null; // here when decompressing here (else the worker hashes)
  private head: Uint8Array[] = [];
  private headLen = 0;
  private compression: Compression | null = null;
  private tar: TarReader | null = null;
  private writer: LayerWriter | null = null;
  private z: zlib.Gunzip | zlib.ZstdDecompress | null = null;
  private inflation: Inflation | null = null; // decompression on the blob worker (a big layer's)
  private zError: Error | null = null;
  private unpackError: Error | null = null;

  /**
   * writeback: see LayerWriter (set when the store will syncfs before publishing).
   * parallelHash: without a BlobWriter (the caller keeps the bytes itself: a pull's partial file),
   * hash the blob and the diff on the blob worker thread, as a ParallelBlobWriter does for a load;
   * a ParallelHasher given here is the blob's (one that also writes the caller's file: a pull's).
   */
  constructor(private unpackDir: string | null, private blob: BlobWriter | null, private writeback = false, parallelHash: boolean | ParallelHasher = false) {
    // a BlobWriter hashes for us
    this.blobHash = blob ? null : parallelHash instanceof ParallelHasher ? parallelHash : parallelHash ? new ParallelHasher() : new Hasher();
  }

  write(chunk: Uint8Array): void | Promise<void> {
    if (this.compression === null) {
      // nothing goes on before the format is known: a layer decompressed by the blob worker must
      // say so before its first bytes reach the worker
      this.headLen += chunk.length;
      this.head.push(this.headLen < 512 ? chunk.slice() : chunk); // kept past this call: a copy (read buffers are reused)
      if (this.headLen < 512) return;
      return this.start();
    }
    return this.pass(chunk);
  }

  /** The blob's bytes, in order: hashed, stored, decompressed (here, or by the worker that stores them). */
  private pass(chunk: Uint8Array): void | Promise<void> {
    const hashed = this.blobHash?.update(chunk);
    this.blobBytes += chunk.length;
    const written = this.blob?.write(chunk);
    const stored = hashed && written ? Promise.all([hashed, written]).then(() => {}) : hashed ?? written;
    const next = this.inflation ? undefined : this.feed(chunk);
    if (stored && next) return Promise.all([stored, next]).then(() => {});
    return stored ?? next;
  }

  async end(): Promise<LayerIngestResult> {
    if (this.compression === null) await this.start();
    let diffId: Digest | null = null;
    if (this.inflation) {
      // closing the worker's job ends its decompression: the last bytes and the diff ID come first
      const closing: Promise<unknown> = this.blob ? this.blob.close() : (this.blobHash as ParallelHasher).digest();
      closing.catch(() => {}); // awaited below, through close()/digest() again
      const r = await this.inflation.done;
      this.inflation = null;
      if (r.error !== null) this.unpackError ??= new Error(r.error);
      diffId = r.diffId;
    } else if (this.z) {
      const z = this.z;
      const done = settled(z, ["end", "error", "close"]);
      z.end();
      await done;
      if (this.zError && !this.unpackError) this.unpackError = this.zError;
    }
    if (this.tar && !this.unpackError) {
      try {
        this.tar.finish();
      } catch (e) {
        this.unpackError = e as Error;
      }
    }
    if (this.writer) {
      if (this.unpackError) this.writer.abort();
      else this.writer.finish();
    }
    await this.blob?.close();
    if (this.diffHash) diffId = await this.diffHash.digest();
    const digest = this.blob ? this.blob.digest() : await this.blobHash!.digest();
    const size = this.blob ? this.blob.size : this.blobBytes;
    return {
      digest,
      size,
      diffId: diffId ?? digest,
      compression: this.compression ?? "none",
      stats: this.writer && !this.unpackError ? this.writer.stats : null,
      unpackError: this.unpackError,
    };
  }

  abort(): void {
    this.inflation?.cancel();
    this.writer?.abort();
    this.z?.destroy();
    if (this.blobHash instanceof ParallelHasher) void this.blobHash.abort(); // (one writing a file: its owner awaits it)
  }

  private start(): void | Promise<void> {
    const head = Buffer.concat(this.head);
    this.head = [];
    const c = detectCompression(head);
    if (c === "unknown") {
      this.compression = "none";
      this.fail(new Error("not a layer: the data is neither a tar archive nor gzip/zstd compressed"));
    } else {
      this.compression = c;
    }
    if (this.unpackDir !== null && !this.unpackError) {
      this.writer = new LayerWriter(this.unpackDir, this.writeback);
      this.tar = new TarReader(this.writer);
    }
    const job = this.blob instanceof ParallelBlobWriter ? this.blob : this.blobHash instanceof ParallelHasher ? this.blobHash : null;
    if ((c === "gzip" || c === "zstd") && job) {
      // a big layer (its blob already goes to the worker) is decompressed and its diff ID hashed there too
      const tar = this.tar;
      this.inflation = job.inflate(c, tar ? (chunk) => this.uncompressed(chunk) : null);
    } else if (c === "gzip" || c === "zstd") {
      this.diffHash = new Hasher();
      const z = c === "gzip" ? zlib.createGunzip({ chunkSize: 1 << 20 }) : zlib.createZstdDecompress({ chunkSize: 1 << 20 });
      z.on("data", (out: Buffer) => this.uncompressed(out));
      z.on("error", (e: Error) => {
        this.zError = new Error(`layer decompression (${c}) failed: ${e.message}`);
      });
      this.z = z;
    }
    if (head.length) return this.pass(head);
  }

  private feed(chunk: Uint8Array): void | Promise<void> {
    if (this.z) {
      if (this.zError) return;
      // zlib holds on to its input until its thread has read it: a reused read buffer is copied
      // When zlib's buffer is full, wait until it drains — or until the stream can no longer
      // drain: Node emits no "drain" once end() was called (the layer's last bytes often arrive
      // in the same read as the next archive entry, whose start ends this ingest), nor after an
      // error or destroy. Waiting for "drain" alone hung `load` forever holding the store lock.
      if (!this.z.write(isPooled(chunk) ? Buffer.from(chunk) : chunk)) return settled(this.z, ["drain", "error", "finish", "close"]);
      return;
    }
    this.uncompressed(chunk);
  }

  private uncompressed(chunk: Uint8Array): void {
    this.diffHash?.update(chunk);
    if (!this.tar || this.unpackError) return;
    try {
      this.tar.push(chunk);
    } catch (e) {
      this.fail(e as Error);
    }
  }

  private fail(e: Error): void {
    this.unpackError ??= e;
    this.writer?.abort();
    this.tar = null;
  }
}
