// Content-addressed blobs under <root>/blobs/sha256/<hex>. Writes hash as they go and land with a
// rename, so a blob is visible only when complete and verified; reads are verified too.
import { COMPILED } from "../sys/build-dir.ts";
import * as fs from "node:fs";
import * as path from "node:path";
import { type Digest, DigestMismatchError, Hasher, hexOf, isDigest, sha256 } from "./digest.ts";
import { tempPath } from "./fsutil.ts";
import type { BlobWorkerReply, BlobWorkerRequest } from "./blob-worker.ts";
import { ChunkPool, isPooled, releaseChunk, retainChunk } from "./chunks.ts";

const READ_CHUNK = 1 << 20;

/** Hashing and writing on this thread: small blobs, and callers that need everything synchronous. */
export class BlobWriter {
  protected fd: number;
  private hasher = new Hasher();
  protected closed = false;
  readonly tmp: string;

  /** whether fd was opened O_DIRECT (asked for, and the file system allows it) */
  protected readonly direct: boolean;

  constructor(protected store: BlobStore, direct = false) {
    this.tmp = tempPath(store.tmpDir, "blob");
    const fd = direct ? openDirect(this.tmp) : -1;
    this.direct = fd >= 0;
    this.fd = fd >= 0 ? fd : fs.openSync(this.tmp, "wx", 0o644);
  }

  get size(): number {
    return this.hasher.bytes;
  }

  write(chunk: Uint8Array): void | Promise<void> {
    this.hasher.update(chunk);
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off);
  }

  /** Waits until every byte is hashed and written (a no-op here; see ParallelBlobWriter). */
  async close(): Promise<void> {}

  /** Digest of what was written (after close()). */
  digest(): Digest {
    return this.hasher.digest();
  }

  /**
   * Makes the blob visible under its digest. `expected`, when given, must match; otherwise the
   * temp file is discarded and DigestMismatchError thrown. Durability: callers batch one syncfs
   * before anything refers to the blob, so no fsync here unless asked.
   */
  commit(expected?: Digest, what = "blob", durable = false): Digest {
    const d = this.digest();
    if (durable) fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.closed = true;
    if (expected !== undefined && expected !== d) {
      fs.rmSync(this.tmp, { force: true });
      throw new DigestMismatchError(what, expected, d);
    }
    const dest = this.store.path(d);
    if (fs.existsSync(dest)) fs.rmSync(this.tmp, { force: true });
    else fs.renameSync(this.tmp, dest);
    return d;
  }

  /** Removes the temp file (once a worker writing it has let go: await it). */
  abort(): void | Promise<void> {
    if (!this.closed) {
      fs.closeSync(this.fd);
      this.closed = true;
    }
    fs.rmSync(this.tmp, { force: true });
  }
}

const { O_WRONLY, O_CREAT, O_EXCL, O_DIRECT } = fs.constants;

/** A new file opened with O_DIRECT, or -1 when the file system does not allow it. */
function openDirect(p: string): number {
  if (!O_DIRECT) return -1;
  try {
    return fs.openSync(p, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT, 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
    fs.rmSync(p, { force: true }); // the kernel may have created it before refusing O_DIRECT
    return -1;
  }
}

// ---- the worker side of big blobs ----

// The worker, and how many waits on it are under way (it is ref'd while any is). A worker that
// dies (an uncaught error, or stopBlobWorker()) fails every job still waiting on it — a write,
// close or digest never waits on a thread that will never answer — and the next job gets a new one.
let current: { w: Worker; waits: number } | null = null;
let nextId = 1;
const waiting = new Map<number, (r: BlobWorkerReply) => void>();
const inflating = new Map<number, (r: BlobWorkerReply) => void>(); // a job's decompressed bytes (see inflateOnWorker)

function blobWorker(): { w: Worker; waits: number } {
  if (!current) {
    // From source the worker is the .ts beside this file; in the built bundle (build/js) it is
    // bundled beside the CLI as blob-worker.js (scripts/build.mjs).
    // Compiled (build/berth): embedded by scripts/build.mjs under its path below src/.
    const here = new URL("./blob-worker.ts", import.meta.url);
    const w = new Worker(COMPILED ? "/$bunfs/root/storage/blob-worker.js" : fs.existsSync(here) ? here.href : new URL("./blob-worker.js", import.meta.url).href);
    const h = { w, waits: 0 };
    w.onmessage = (ev: MessageEvent<BlobWorkerReply>) => {
      const r = ev.data;
      (r.op === "inflated" || r.op === "inflate-done" ? inflating : waiting).get(r.id)?.(r);
    };
    w.addEventListener("error", (ev: ErrorEvent) => workerGone(h, `the blob worker thread failed: ${ev.message}`));
    w.addEventListener("messageerror", () => workerGone(h, "the blob worker thread sent a message that could not be read"));
    w.addEventListener("close", () => workerGone(h, "the blob worker thread exited"));
    w.unref(); // an idle worker must not keep the process alive
    current = h;
  }
  return current;
}

function post(msg: BlobWorkerRequest): void {
  blobWorker().w.postMessage(msg);
}

function workerGone(h: { w: Worker }, why: string): void {
  if (current !== h) return;
  current = null;
  h.w.terminate();
  const jobs = [...waiting, ...inflating];
  waiting.clear();
  inflating.clear();
  for (const [id, reply] of jobs) reply({ op: "failed", id, error: why });
}

/** Stops the blob worker thread; jobs still waiting on it fail. (Tests; a process about to exit.) */
export function stopBlobWorker(): void {
  if (current) workerGone(current, "the blob worker thread was stopped");
}

// The worker is unref'd (an idle one must not keep the process alive), but while this thread
// awaits it, it is ref'd: Bun spins at full speed in its event loop when the only thing that can
// settle an awaited promise is an unref'd worker — measured: 0.56 s of CPU over a 1.5 s wait,
// taken from the worker itself on a 2-core host.
function waitOnWorker<T>(p: Promise<T>): Promise<T> {
  const h = blobWorker();
  if (h.waits++ === 0) h.w.ref();
  return p.finally(() => {
    if (--h.waits === 0) h.w.unref();
  });
}

export type Codec = "gzip" | "zstd";

/** A layer's decompression on the worker thread: done settles after its last bytes went to the sink. */
export interface Inflation {
  /** the diff ID (of every byte decompressed), or why decompression failed (the worker's error, or "cancelled") */
  done: Promise<{ diffId: Digest; size: number; error: string | null }>;
  /** stops taking bytes (the job is being aborted): done settles at once */
  cancel(): void;
}

/**
 * Has the worker decompress job `id`'s bytes as they are written (asked before the first write)
 * and hash the result; the decompressed bytes come back in order to `sink` (null: only the diff
 * ID is wanted). A chunk given to sink is the worker's again when sink returns: copy what you keep.
 * sink must not throw.
 */
function inflateOnWorker(id: number, codec: Codec, sink: ((chunk: Uint8Array) => void) | null): Inflation {
  let settle!: (r: { diffId: Digest; size: number; error: string | null }) => void;
  const done = new Promise<{ diffId: Digest; size: number; error: string | null }>((res) => (settle = res));
  inflating.set(id, (r) => {
    if (r.op === "inflated") {
      try {
        sink?.(r.chunk);
      } finally {
        post({ op: "took", id, slot: r.slot } satisfies BlobWorkerRequest);
      }
    } else if (r.op === "inflate-done") {
      inflating.delete(id);
      settle({ diffId: r.diffId as Digest, size: r.size, error: r.error });
    } else if (r.op === "failed") {
      settle({ diffId: "" as Digest, size: 0, error: r.error });
    }
  });
  post({ op: "inflate", id, codec, post: sink !== null } satisfies BlobWorkerRequest);
  return {
    done: waitOnWorker(done),
    cancel: () => {
      if (inflating.delete(id)) settle({ diffId: "" as Digest, size: 0, error: "cancelled" });
    },
  };
}

const ACK_EVERY = 4;             // chunks between flow-control acks
const MAX_IN_FLIGHT = 16 << 20;  // bytes the worker may lag behind

/**
 * Hashes and writes on a worker thread. Chunks that are views of a SharedArrayBuffer go over
 * without a copy (src/image/input.ts reads files into such buffers, from a pool: they are retained
 * until the worker acks them); others are copied once.
 */
export class ParallelBlobWriter extends BlobWriter {
  private id = nextId++;
  private sent = 0;
  private acked = 0;
  private chunks = 0;
  private ackBytes = new Map<number, number>();
  private drainWait: (() => void) | null = null;
  private result: { digest: Digest; size: number } | null = null;
  private closing: Promise<void> | null = null;
  private failure: Error | null = null;
  private held: Array<[number, Uint8Array]> = []; // pooled read buffers the worker has yet to ack

  /** Gives back the pooled buffers of chunks up to number n, which the worker is done with. */
  private releaseUpTo(n: number): void {
    let i = 0;
    for (; i < this.held.length && this.held[i]![0] <= n; i++) releaseChunk(this.held[i]![1]);
    this.held.splice(0, i);
  }

  /**
   * The file is opened O_DIRECT (see blob-worker.ts): a big layer blob skips the page cache, and
   * its disk write overlaps the unpack instead of waiting for the syncfs.
   */
  constructor(store: BlobStore) {
    super(store, true);
    waiting.set(this.id, (r) => this.reply(r));
    post({ op: "open", id: this.id, fd: this.fd, ...(this.direct ? { direct: this.tmp } : {}) } satisfies BlobWorkerRequest);
  }

  override get size(): number {
    return this.result?.size ?? this.sent;
  }

  /** Decompresses the blob on the worker as it is written (see inflateOnWorker); before the first write. */
  inflate(codec: Codec, sink: ((chunk: Uint8Array) => void) | null): Inflation {
    return inflateOnWorker(this.id, codec, sink);
  }

  override write(chunk: Uint8Array): void | Promise<void> {
    if (this.gone) throw this.failure!;
    if (chunk.length === 0) return;
    const view = chunk.buffer instanceof SharedArrayBuffer ? chunk : chunk.slice();
    this.sent += chunk.length;
    const msg: BlobWorkerRequest = { op: "data", id: this.id, chunk: view };
    if (retainChunk(view)) this.held.push([this.chunks + 1, view]);
    // an ack every few chunks, and always for the chunk that makes us wait (else a few huge chunks would wait forever)
    if (++this.chunks % ACK_EVERY === 0 || this.sent - this.acked > MAX_IN_FLIGHT) {
      msg.ack = this.chunks;
      this.ackBytes.set(this.chunks, this.sent);
    }
    post(msg);
    if (this.sent - this.acked > MAX_IN_FLIGHT) return waitOnWorker(new Promise<void>((res) => (this.drainWait = res)));
  }

  override close(): Promise<void> {
    if (this.gone) return Promise.resolve(); // digest() throws the failure
    this.closing ??= waitOnWorker(new Promise<void>((res) => {
      this.onClosed = res;
      post({ op: "close", id: this.id } satisfies BlobWorkerRequest);
    }));
    return this.closing;
  }

  override digest(): Digest {
    if (this.failure) throw this.failure;
    if (!this.result) throw new Error("ParallelBlobWriter: digest() before close() finished");
    return this.result.digest;
  }

  private aborting: Promise<void> | undefined;

  override abort(): void | Promise<void> {
    if (this.closed) return this.aborting;
    this.closed = true;
    const fd = this.fd, tmp = this.tmp;
    if (this.gone) {
      // The dead worker's last asynchronous write may still land on fd: it stays open (until the
      // process exits) so its number cannot be reused for another file meanwhile; only the name goes.
      this.releaseUpTo(Infinity);
      fs.rmSync(tmp, { force: true });
      return;
    }
    if (this.result) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      waiting.delete(this.id);
      return;
    }
    // the worker may still be writing to fd: close it only once the worker has let go
    this.aborting = waitOnWorker(new Promise<void>((res) => {
      waiting.set(this.id, (r) => {
        if (r.op !== "aborted" && r.op !== "failed") return;
        waiting.delete(this.id);
        this.releaseUpTo(Infinity);
        if (r.op === "aborted") fs.closeSync(fd); // (a dead worker's last write may still land: see above)
        fs.rmSync(tmp, { force: true });
        res();
      });
    }));
    post({ op: "abort", id: this.id } satisfies BlobWorkerRequest);
    return this.aborting;
  }

  private onClosed: (() => void) | null = null;
  private gone = false; // the worker died with this job unfinished

  private reply(r: BlobWorkerReply): void {
    if (r.op === "failed") {
      this.gone = true;
      this.failure = new Error(`writing blob ${this.tmp}: ${r.error}`);
      this.drainWait?.();
      this.drainWait = null;
      this.onClosed?.();
      return;
    }
    if (r.op === "ack") {
      this.acked = this.ackBytes.get(r.ack) ?? this.acked;
      this.ackBytes.delete(r.ack);
      this.releaseUpTo(r.ack);
      if (this.drainWait && this.sent - this.acked <= MAX_IN_FLIGHT / 2) {
        const w = this.drainWait;
        this.drainWait = null;
        w();
      }
    } else if (r.op === "closed") {
      waiting.delete(this.id);
      this.releaseUpTo(Infinity);
      if (r.error) this.failure = new Error(`writing blob ${this.tmp}: ${r.error}`);
      this.result = { digest: r.digest as Digest, size: r.size };
      this.drainWait?.();
      this.drainWait = null;
      this.onClosed?.();
    }
  }
}

/**
 * sha256 on the blob worker thread, for a second stream of bytes (the uncompressed layer) while
 * this thread unpacks it. Non-shared chunks (and reused read buffers) are copied into shared memory once.
 */
// Copies of chunks for a ParallelHasher go into buffers from this pool, given back once the
// worker has hashed them: a gzip layer's diff ID hashes every inflated byte (232 MB for the bench
// image), and a fresh SharedArrayBuffer per 1 MB chunk cost the pull its allocation, zeroing and
// page faults each time (what chunks.ts measured for reads). Larger chunks get a buffer of their own.
const hashCopies = new ChunkPool(1 << 20);

/** The file a ParallelHasher also writes: fd open for writing (with O_DIRECT when direct), offset block-aligned then. */
export interface AppendFile {
  fd: number;
  path: string;
  direct: boolean;
  offset: number;
}

/** Opens a file to append to from offset on through a ParallelHasher: O_DIRECT when the file system takes it. */
export function openAppend(p: string, offset: number): AppendFile {
  if (O_DIRECT && offset % DIRECT_ALIGN === 0) {
    try {
      return { fd: fs.openSync(p, O_WRONLY | O_CREAT | O_DIRECT, 0o600), path: p, direct: true, offset };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
    }
  }
  return { fd: fs.openSync(p, O_WRONLY | O_CREAT, 0o600), path: p, direct: false, offset };
}

/** The alignment the blob worker keeps O_DIRECT writes to (blob-worker.ts ALIGN). */
export const DIRECT_ALIGN = 4096;

export class ParallelHasher {
  private id = nextId++;
  private held: Array<[number, Uint8Array]> = []; // pooled copies the worker has yet to ack
  private bytes = 0;
  private chunks = 0;
  private acked = 0;
  private ackBytes = new Map<number, number>();
  private drainWait: (() => void) | null = null;
  private done: Promise<Digest>;
  private resolveDone!: (d: Digest) => void;
  private failure: Error | null = null;

  private file: AppendFile | null;
  private aborting: Promise<void> | null = null;

  /**
   * file: also write the bytes into this file, from file.offset on — the first file.offset bytes
   * given are what it holds already and are only hashed (a resumed download: see blob-worker.ts).
   * The caller closes file.fd once digest() or abort() has settled: the worker writes until then.
   */
  constructor(file?: AppendFile) {
    this.file = file ?? null;
    let reject!: (e: Error) => void;
    this.done = new Promise<Digest>((res, rej) => {
      this.resolveDone = res;
      reject = rej;
    });
    this.done.catch(() => {}); // a hasher given up on (abort) may fail with nobody awaiting it
    waiting.set(this.id, (r) => {
      if (r.op === "failed") {
        this.failure = new Error(`hashing a layer: ${r.error}`);
        this.drainWait?.();
        this.drainWait = null;
        reject(this.failure);
      } else if (r.op === "ack") {
        this.acked = this.ackBytes.get(r.ack) ?? this.acked;
        this.ackBytes.delete(r.ack);
        this.releaseUpTo(r.ack);
        if (this.drainWait && this.bytes - this.acked <= MAX_IN_FLIGHT / 2) {
          const w = this.drainWait;
          this.drainWait = null;
          w();
        }
      } else if (r.op === "closed") {
        waiting.delete(this.id);
        this.releaseUpTo(Infinity);
        this.drainWait?.();
        this.drainWait = null;
        if (r.error) reject(new Error(`${this.file ? `writing ${this.file.path}` : "hashing a layer"}: ${r.error}`));
        else this.resolveDone(r.digest as Digest);
      }
    });
    const f = this.file;
    post({ op: "open", id: this.id, fd: f ? f.fd : -1, ...(f?.direct ? { direct: f.path } : {}), ...(f ? { append: { offset: f.offset } } : {}) } satisfies BlobWorkerRequest);
  }

  // Small chunks (a download's come in 16–600 KB) are copied into one pooled 1 MB buffer and go
  // over when it is full: a tenth of the messages, and of the worker's zlib writes (each one a
  // hand-off to the thread pool and back).
  private fill: Uint8Array | null = null;
  private fillLen = 0;

  update(chunk: Uint8Array): void | Promise<void> {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    if (chunk.buffer instanceof SharedArrayBuffer && !isPooled(chunk)) {
      this.flushFill();
      this.send(chunk); // shared and not reused by its owner: goes as it is
    } else if (chunk.length > hashCopies.size) {
      this.flushFill();
      const own = new Uint8Array(new SharedArrayBuffer(chunk.length));
      own.set(chunk);
      this.send(own);
    } else {
      for (let off = 0; off < chunk.length;) {
        this.fill ??= hashCopies.take();
        const n = Math.min(this.fill.length - this.fillLen, chunk.length - off);
        this.fill.set(chunk.subarray(off, off + n), this.fillLen);
        this.fillLen += n;
        off += n;
        if (this.fillLen === this.fill.length) this.flushFill();
      }
    }
    if (this.bytes - this.acked > MAX_IN_FLIGHT) return waitOnWorker(new Promise<void>((res) => (this.drainWait = res)));
  }

  /** Sends the pooled buffer being filled (held until the worker acks it). */
  private flushFill(): void {
    const f = this.fill;
    if (!f) return;
    this.fill = null;
    const view = f.subarray(0, this.fillLen);
    this.fillLen = 0;
    this.held.push([this.chunks + 1, view]);
    this.send(view);
  }

  private send(view: Uint8Array): void {
    this.bytes += view.length;
    const msg: BlobWorkerRequest = { op: "data", id: this.id, chunk: view };
    if (++this.chunks % ACK_EVERY === 0 || this.bytes - this.acked > MAX_IN_FLIGHT) {
      msg.ack = this.chunks;
      this.ackBytes.set(this.chunks, this.bytes);
    }
    post(msg);
  }

  private closed = false;

  /** Decompresses the bytes on the worker as they are hashed (see inflateOnWorker); before the first update. */
  inflate(codec: Codec, sink: ((chunk: Uint8Array) => void) | null): Inflation {
    return inflateOnWorker(this.id, codec, sink);
  }

  /** Ends the job (once, however often asked) and gives the digest of every byte. */
  digest(): Promise<Digest> {
    if (this.failure || this.closed) return this.done;
    this.closed = true;
    this.flushFill();
    post({ op: "close", id: this.id } satisfies BlobWorkerRequest);
    return waitOnWorker(this.done);
  }

  /**
   * Gives up. Without a file no reply is awaited: the copies still queued to the worker are left
   * to the GC, not reused. With one, the promise settles once the worker has let go of its fd.
   */
  abort(): void | Promise<void> {
    if (this.fill) {
      releaseChunk(this.fill); // never sent: (a file gets what was sent; the next attempt asks for the rest)
      this.fill = null;
    }
    if (!this.file) {
      waiting.delete(this.id);
      if (!this.failure) post({ op: "abort", id: this.id } satisfies BlobWorkerRequest);
      this.held = [];
      return;
    }
    if (this.failure) {
      waiting.delete(this.id);
      return;
    }
    this.aborting ??= waitOnWorker(new Promise<void>((res) => {
      waiting.set(this.id, (r) => {
        if (r.op !== "aborted" && r.op !== "failed" && r.op !== "closed") return;
        waiting.delete(this.id);
        this.releaseUpTo(Infinity);
        res();
      });
      post({ op: "abort", id: this.id } satisfies BlobWorkerRequest);
    }));
    return this.aborting;
  }

  /** Gives back the pooled copies of chunks up to number n, which the worker has hashed. */
  private releaseUpTo(n: number): void {
    let i = 0;
    for (; i < this.held.length && this.held[i]![0] <= n; i++) releaseChunk(this.held[i]![1]);
    this.held.splice(0, i);
  }
}

export class BlobStore {
  readonly dir: string;

  constructor(readonly root: string, readonly tmpDir: string) {
    this.dir = path.join(root, "blobs", "sha256");
    fs.mkdirSync(this.dir, { recursive: true });
    fs.mkdirSync(tmpDir, { recursive: true });
  }

  path(d: Digest): string {
    return path.join(this.dir, hexOf(d));
  }

  has(d: Digest): boolean {
    return fs.existsSync(this.path(d));
  }

  size(d: Digest): number {
    return fs.statSync(this.path(d)).size;
  }

  /** parallel: hash and write on a worker thread (worth it for big layers on a multi-core host). */
  writer(parallel = false): BlobWriter {
    return parallel ? new ParallelBlobWriter(this) : new BlobWriter(this);
  }

  put(data: Uint8Array | string, expected?: Digest): Digest {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    const d = sha256(bytes);
    if (expected !== undefined && expected !== d) throw new DigestMismatchError("blob", expected, d);
    if (this.has(d)) return d;
    const w = this.writer();
    try {
      w.write(bytes);
      return w.commit(d);
    } catch (e) {
      w.abort();
      throw e;
    }
  }

  /**
   * Makes a file that was hashed as it was written (a finished download) the blob `d`, by a
   * rename: the caller has verified its digest. The file must be on the store's file system.
   */
  adopt(file: string, d: Digest): Digest {
    if (this.has(d)) fs.rmSync(file, { force: true });
    else fs.renameSync(file, this.path(d));
    return d;
  }

  /** The whole blob, verified against its name. */
  read(d: Digest): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = fs.readFileSync(this.path(d));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`blob ${d} is not in the store (${this.path(d)}); load the image again`);
      throw e;
    }
    const actual = sha256(bytes);
    if (actual !== d) throw new DigestMismatchError(`blob ${this.path(d)}`, d, actual);
    return bytes;
  }

  readJSON<T = unknown>(d: Digest): T {
    return JSON.parse(new TextDecoder().decode(this.read(d))) as T;
  }

  /**
   * Streams a blob in chunks, hashing as it goes; the last step throws DigestMismatchError
   * if the content does not match the name, so consumers must treat output as provisional
   * until the iteration completes.
   */
  async *stream(d: Digest, chunkSize = READ_CHUNK): AsyncGenerator<Uint8Array> {
    const fd = fs.openSync(this.path(d), "r");
    const h = new Hasher();
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(chunkSize);
        const n = fs.readSync(fd, buf, 0, chunkSize, null);
        if (n === 0) break;
        const chunk = buf.subarray(0, n);
        h.update(chunk);
        yield chunk;
      }
    } finally {
      fs.closeSync(fd);
    }
    const actual = h.digest();
    if (actual !== d) throw new DigestMismatchError(`blob ${this.path(d)}`, d, actual);
  }

  list(): Digest[] {
    return fs.readdirSync(this.dir).map((h) => `sha256:${h}`).filter(isDigest) as Digest[];
  }

  delete(d: Digest): void {
    fs.rmSync(this.path(d), { force: true });
  }
}
