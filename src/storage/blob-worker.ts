// Worker thread for big blobs: hashes and writes the bytes while the main thread unpacks the
// same bytes, so a layer costs max(hash+store, unpack) rather than their sum. Chunks arrive as
// views of SharedArrayBuffers (no copy); the main thread owns the fd and closes it after our reply.
//
// A "direct" job's fd was opened with O_DIRECT: the blob bypasses the page cache. A layer blob is
// rarely read again (only by `save` or to unpack it at a new chain position), so caching it only
// costs: on the bench host, copying 232 MB into fresh page-cache pages took 0.3–0.8 s of system
// time plus its share of the syncfs, against 0.2 s for direct writes that are on disk once they
// return. O_DIRECT wants aligned buffers and lengths, so the bytes are copied into aligned 4 MB
// stages; a full stage is written on the thread pool (up to MAX_ASYNC at once) while this thread
// hashes and stages the next; the last, partial block is written zero-padded and the file then
// truncated to its real size. Replies to close/abort wait until no write is under way. If the
// file system refuses a direct write (EINVAL), the job reopens the file without O_DIRECT and
// carries on with ordinary writes. Chunks are acked once hashed and staged: the main thread then
// reuses their buffers (src/storage/chunks.ts).
//
// An "append" job (a pull's partial download, src/image/registry/download.ts) writes into an
// existing file from `offset` on: the first `offset` bytes it is given are what the file already
// holds (an earlier attempt's, replayed for the hash) and are only hashed. Its stages are written
// in order, one at a time (1 MB each, on the thread pool: a direct write blocking this thread
// would hold up its decompression), so that the file is always a prefix of the blob — what a
// resumed download trusts — and an abort writes what is staged (the next attempt asks only for
// the rest); a killed process loses what was staged. Beyond QUEUE_MAX stages waiting for the
// disk, acks are held back, so the main thread stops sending until the disk catches up.
//
// An "inflate" job (a gzip or zstd layer, set before its first bytes) also decompresses what it is
// given, hashes the result (the layer's diff ID) and posts it back in 1 MB slots of shared memory
// for the main thread to unpack: decompression runs beside the unpack instead of taking turns
// with it. zlib on the main thread starts each next piece only from a callback there, which waits
// while the thread creates the last piece's files: a 225 MB layer took 1.19 s to gunzip beside a
// busy main thread against 0.58 s alone. Flow control goes both ways: a chunk's ack waits until
// zlib has consumed it (the main thread stops sending at 16 MB unacked), and the slots are credit
// (zlib is paused when all are out, until the main thread gives one back with "took").
import { ptr } from "bun:ffi";
import * as fs from "node:fs";
import * as zlib from "node:zlib";
import { CryptoHasher } from "bun";

declare const self: Worker;

export type BlobWorkerRequest =
  // direct: the file's path (for the fallback); append: see above (offset is block-aligned when direct)
  | { op: "open"; id: number; fd: number; direct?: string; append?: { offset: number } }
  | { op: "data"; id: number; chunk: Uint8Array; ack?: number }
  | { op: "close"; id: number }
  | { op: "abort"; id: number }
  // before the job's first data: decompress it too (post false: only the diff ID is wanted, not the bytes)
  | { op: "inflate"; id: number; codec: "gzip" | "zstd"; post: boolean }
  // the main thread is done with this slot of decompressed bytes
  | { op: "took"; id: number; slot: number };

export type BlobWorkerReply =
  | { op: "ack"; id: number; ack: number }
  | { op: "closed"; id: number; digest: string; size: number; error: string | null }
  | { op: "aborted"; id: number }
  | { op: "failed"; id: number; error: string } // made on the main thread when the worker is gone (blobs.ts)
  // decompressed bytes: chunk is a view of slot `slot`, the worker's until "took"
  | { op: "inflated"; id: number; slot: number; chunk: Uint8Array }
  // posted before "closed" (and after the last "inflated"): the diff ID, or why decompression failed
  | { op: "inflate-done"; id: number; diffId: string; size: number; error: string | null };

const ALIGN = 4096;
const STAGE = 4 << 20;
const APPEND_STAGE = 1 << 20; // an append job's: a killed pull loses at most this much of what it got
const MAX_ASYNC = 3; // stages being written by the thread pool while this thread hashes the next
const QUEUE_MAX = 16; // an append job's stages waiting to be written before its acks are held back (the sender waits)

interface Direct {
  path: string;
  stage: number;           // bytes per stage
  cur: Uint8Array | null;  // the stage being filled
  fill: number;
  free: Uint8Array[];      // stages not being written
  written: number;         // file offset of the next stage
  inflight: number;        // asynchronous writes not yet finished
  idle: (() => void) | null; // called once inflight drops to 0 (close/abort wait for it)
  own: number;             // our own fd without O_DIRECT, once the file system refused a direct write
  queue: Array<[Uint8Array, number]>; // an append job's full stages waiting for the one being written
}

interface Append {
  skip: number;            // bytes still to hash only (the file has them)
  pos: number;             // where the next write goes, without O_DIRECT
}

const SLOT = 1 << 20;
const SLOTS = 12; // per inflate job: how far decompression may run ahead of the unpack

interface Inflate {
  z: zlib.Gunzip | zlib.ZstdDecompress;
  diff: CryptoHasher;
  size: number;
  post: boolean;           // whether the main thread wants the bytes (else only the diff ID)
  slots: Uint8Array[];     // views of SharedArrayBuffers, made as needed up to SLOTS
  free: number[];
  cur: number;             // the slot being filled, -1 when none
  fill: number;
  pending: Buffer[];       // output not yet hashed and placed (see drain)
  overflow: Uint8Array | null; // output that found no free slot (zlib is paused meanwhile)
  acks: number[];          // acks asked for, sent once zlib has consumed their chunk
  error: string | null;
  zEnded: boolean;         // zlib emitted "end"
  ended: boolean;          // all of it is hashed and placed, or decompression failed
  onEnd: (() => void) | null;
}

interface Job {
  id: number;
  fd: number;
  hash: CryptoHasher;
  size: number;
  error: string | null;
  direct: Direct | null;
  append: Append | null;
  inflate: Inflate | null;
  afterClose: (() => void) | null; // an abort that came while the job was closing: answered after "closed"
  heldAck: number | null;  // an ack kept back while the append queue is long (the main thread waits for it)
}
const jobs = new Map<number, Job>();
const inflates = new Map<number, Inflate>(); // from "inflate" until "inflate-done" (slots come back after "close")
const closing = new Map<number, Job>();     // from "close" until "closed"

function alignedBuffer(n: number): Uint8Array {
  const b = new Uint8Array(n + ALIGN);
  const off = (ALIGN - (Number(ptr(b)) % ALIGN)) % ALIGN;
  return b.subarray(off, off + n);
}

function writeAll(fd: number, b: Uint8Array, pos: number | null): void {
  let off = 0;
  while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off, pos === null ? null : pos + off);
}

/** Writes synchronously at pos, switching to an fd without O_DIRECT if the file system refuses. */
function writeStage(j: Job, d: Direct, bytes: Uint8Array, pos: number): void {
  if (d.own < 0) {
    try {
      writeAll(j.fd, bytes, pos);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
      d.own = fs.openSync(d.path, "r+"); // this file system takes no direct writes of this shape
    }
  }
  writeAll(d.own, bytes, pos);
}

/**
 * Writes a full stage on the thread pool: up to MAX_ASYNC at once, else here; an append job's one
 * at a time in order (queued), so that its file stays a prefix of the blob.
 */
function flushStage(j: Job, d: Direct): void {
  const buf = d.cur!;
  const pos = d.written;
  d.written += d.stage;
  d.fill = 0;
  if (j.append && d.own < 0) {
    d.cur = null;
    d.queue.push([buf, pos]);
    if (d.inflight === 0) writeNext(j, d);
    return;
  }
  if (d.own >= 0 || d.inflight >= MAX_ASYNC) {
    writeStage(j, d, buf, pos); // and keep filling the same stage
    return;
  }
  d.cur = null;
  d.inflight++;
  writeAsync(j, d, buf, pos, (err) => {
    if (err && j.error === null) j.error = err.message;
    d.inflight--;
    d.free.push(buf);
    if (d.inflight === 0) d.idle?.();
  });
}

/** An append job's next queued stage; the queue is dropped after an error (nothing is written past it). */
function writeNext(j: Job, d: Direct): void {
  if (j.heldAck !== null && (d.queue.length <= QUEUE_MAX / 2 || j.error !== null)) {
    const n = j.heldAck;
    j.heldAck = null;
    ack(j.id, n);
  }
  const next = d.queue.shift();
  if (!next || j.error !== null) {
    for (const [buf] of d.queue.splice(0)) d.free.push(buf);
    if (d.inflight === 0) d.idle?.();
    return;
  }
  const [buf, pos] = next;
  d.inflight++;
  writeAsync(j, d, buf, pos, (err) => {
    if (err && j.error === null) j.error = err.message;
    d.inflight--;
    d.free.push(buf);
    writeNext(j, d);
  });
}

function writeAsync(j: Job, d: Direct, buf: Uint8Array, pos: number, done: (err: Error | null) => void): void {
  const step = (off: number) => {
    fs.write(j.fd, buf, off, d.stage - off, pos + off, (err, n) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code !== "EINVAL") return done(err);
        try {
          writeStage(j, d, buf.subarray(off), pos + off); // falls back to an fd without O_DIRECT
          return done(null);
        } catch (e) {
          return done(e as Error);
        }
      }
      if (off + n < d.stage) step(off + n);
      else done(null);
    });
  };
  step(0);
}

function stage(j: Job, chunk: Uint8Array): void {
  const d = j.direct!;
  let off = 0;
  while (off < chunk.length) {
    if (!d.cur) {
      d.cur = d.free.pop() ?? alignedBuffer(d.stage);
    }
    const n = Math.min(d.stage - d.fill, chunk.length - off);
    d.cur.set(chunk.subarray(off, off + n), d.fill);
    d.fill += n;
    off += n;
    if (d.fill === d.stage) flushStage(j, d);
  }
}

/** The last, partial stage: zero-padded to a whole block, written, then the file cut to size. */
function finishDirect(j: Job): void {
  const d = j.direct!;
  if (d.fill === 0) return;
  const len = Math.ceil(d.fill / ALIGN) * ALIGN;
  d.cur!.fill(0, d.fill, len);
  writeStage(j, d, d.cur!.subarray(0, len), d.written);
  fs.ftruncateSync(d.own >= 0 ? d.own : j.fd, j.size);
}

/** Runs then() once no asynchronous write of the job is under way (the main thread closes the fd after our reply). */
function whenIdle(j: Job, then: () => void): void {
  const d = j.direct;
  const finish = () => {
    d && (d.idle = null);
    then();
    if (d && d.own >= 0) fs.closeSync(d.own);
  };
  if (d && d.inflight > 0) d.idle = finish;
  else finish();
}

/** Tells the main thread chunk n (and those before) are done with, unless the job's disk queue is long: then later. */
function ack(id: number, n: number): void {
  const j = jobs.get(id);
  if (j?.direct && j.direct.queue.length > QUEUE_MAX && j.error === null) {
    j.heldAck = n;
    return;
  }
  self.postMessage({ op: "ack", id, ack: n } satisfies BlobWorkerReply);
}

function startInflate(id: number, j: Job, codec: "gzip" | "zstd", post: boolean): void {
  const z = codec === "gzip" ? zlib.createGunzip({ chunkSize: SLOT }) : zlib.createZstdDecompress({ chunkSize: SLOT });
  const inf: Inflate = { z, diff: new CryptoHasher("sha256"), size: 0, post, slots: [], free: [], cur: -1, fill: 0, pending: [], overflow: null, acks: [], error: null, zEnded: false, ended: false, onEnd: null };
  j.inflate = inf;
  // zlib starts its next piece only after this handler returns: the output is hashed and copied
  // out on the next turn of the loop, while zlib already works on the thread pool.
  z.on("data", (out: Buffer) => {
    inf.pending.push(out);
    if (inf.pending.length === 1) setImmediate(() => drain(id, inf));
  });
  z.on("end", () => {
    inf.zEnded = true;
    setImmediate(() => drain(id, inf)); // (what came before "end" is drained first: settles after it)
  });
  z.on("error", (e: Error) => {
    inf.error ??= `layer decompression (${codec}) failed: ${e.message}`;
    settle(id, inf);
  });
}

/** Hashes what zlib gave since the last turn and hands it on. */
function drain(id: number, inf: Inflate): void {
  const outs = inf.pending;
  inf.pending = [];
  for (const out of outs) {
    inf.diff.update(out);
    inf.size += out.length;
    if (!inf.post) continue;
    // (a stream may still hand over what it had buffered after pause(): it queues up behind)
    if (inf.overflow) inf.overflow = Buffer.concat([inf.overflow, out]);
    else if (!place(id, inf, out)) inf.z.pause();
  }
  settleAtEnd(id, inf);
}

/** Settles once zlib has ended and every byte it gave is placed in a slot (a paused stream may still end). */
function settleAtEnd(id: number, inf: Inflate): void {
  if (inf.zEnded && inf.pending.length === 0 && inf.overflow === null) settle(id, inf);
}

/** Gives zlib a chunk; the ack asked for with it goes out once zlib has consumed it (it holds the bytes until then). */
function inflateChunk(id: number, inf: Inflate, chunk: Uint8Array, ackNo: number | undefined): void {
  if (inf.ended) {
    if (ackNo !== undefined) ack(id, ackNo);
    return;
  }
  if (ackNo !== undefined) inf.acks.push(ackNo);
  inf.z.write(chunk, () => {
    const i = ackNo === undefined ? -1 : inf.acks.indexOf(ackNo);
    if (i < 0) return; // sent already (settle)
    inf.acks.splice(0, i + 1);
    ack(id, ackNo!);
  });
}

/** Decompression is over (all of it, or by an error): waiting acks go out, close may go on. */
function settle(id: number, inf: Inflate): void {
  if (inf.ended) return;
  inf.ended = true;
  const last = inf.acks.pop();
  inf.acks = [];
  if (last !== undefined) ack(id, last);
  inf.onEnd?.();
}

/** Copies out into slots, posting each full one; false when the rest had to wait for a free slot. */
function place(id: number, inf: Inflate, out: Uint8Array): boolean {
  let off = 0;
  while (off < out.length) {
    if (inf.cur < 0) {
      const free = inf.free.pop() ?? (inf.slots.length < SLOTS ? inf.slots.push(new Uint8Array(new SharedArrayBuffer(SLOT))) - 1 : undefined);
      if (free === undefined) {
        inf.overflow = out.slice(off);
        return false;
      }
      inf.cur = free;
      inf.fill = 0;
    }
    const n = Math.min(SLOT - inf.fill, out.length - off);
    inf.slots[inf.cur]!.set(out.subarray(off, off + n), inf.fill);
    inf.fill += n;
    off += n;
    if (inf.fill === SLOT) postSlot(id, inf);
  }
  return true;
}

function postSlot(id: number, inf: Inflate): void {
  if (!inf.post || inf.cur < 0 || inf.fill === 0) return;
  self.postMessage({ op: "inflated", id, slot: inf.cur, chunk: inf.slots[inf.cur]!.subarray(0, inf.fill) } satisfies BlobWorkerReply);
  inf.cur = -1;
  inf.fill = 0;
}

/** A slot came back: what waited for it goes in, and zlib goes on once nothing waits. */
function took(id: number, inf: Inflate, slot: number): void {
  inf.free.push(slot);
  const waiting = inf.overflow;
  if (waiting) {
    inf.overflow = null;
    if (!place(id, inf, waiting)) return;
  }
  settleAtEnd(id, inf);
  if (!inf.ended && inf.z.isPaused()) inf.z.resume();
}

/** Ends decompression and runs then() once its last bytes and its result are posted. */
function finishInflate(id: number, inf: Inflate, then: () => void): void {
  const done = () => {
    inf.onEnd = null;
    if (inf.error === null) postSlot(id, inf);
    self.postMessage({ op: "inflate-done", id, diffId: `sha256:${inf.diff.digest("hex")}`, size: inf.size, error: inf.error } satisfies BlobWorkerReply);
    then();
  };
  if (inf.ended) return done();
  inf.onEnd = done;
  inf.z.end();
}

self.onmessage = (ev: MessageEvent<BlobWorkerRequest>) => {
  const m = ev.data;
  switch (m.op) {
    case "open": {
      const at = m.append?.offset ?? 0;
      jobs.set(m.id, {
        id: m.id, fd: m.fd, hash: new CryptoHasher("sha256"), size: 0, error: null,
        direct: m.direct !== undefined && m.fd >= 0 ? { path: m.direct, stage: m.append ? APPEND_STAGE : STAGE, cur: null, fill: 0, free: [], written: at, inflight: 0, idle: null, own: -1, queue: [] } : null,
        append: m.append ? { skip: at, pos: at } : null,
        inflate: null,
        afterClose: null,
        heldAck: null,
      });
      return;
    }
    case "inflate": {
      const j = jobs.get(m.id);
      if (j && !j.inflate) {
        startInflate(m.id, j, m.codec, m.post);
        inflates.set(m.id, j.inflate!);
      }
      return;
    }
    case "took": {
      const inf = inflates.get(m.id);
      if (inf) took(m.id, inf, m.slot);
      return;
    }
    case "data": {
      const j = jobs.get(m.id);
      if (j && j.error === null) {
        try {
          j.hash.update(m.chunk);
          let bytes = m.chunk;
          const a = j.append;
          if (a && a.skip > 0) {
            const n = Math.min(a.skip, bytes.length);
            a.skip -= n;
            bytes = bytes.subarray(n);
          }
          // fd -1: a hash-only job (the diff ID of a compressed layer)
          if (j.direct) stage(j, bytes);
          else if (a && j.fd >= 0) {
            writeAll(j.fd, bytes, a.pos);
            a.pos += bytes.length;
          } else if (j.fd >= 0) writeAll(j.fd, bytes, null);
          j.size += m.chunk.length;
        } catch (e) {
          j.error = (e as Error).message;
        }
      }
      // an inflate job's ack waits until zlib is done with the chunk (the sender reuses it after the ack)
      if (j?.inflate) inflateChunk(m.id, j.inflate, m.chunk, m.ack);
      else if (m.ack !== undefined) ack(m.id, m.ack);
      return;
    }
    case "close": {
      const j = jobs.get(m.id);
      jobs.delete(m.id);
      if (!j) {
        // every close gets its answer, so the main thread never waits for one that cannot come
        self.postMessage({ op: "closed", id: m.id, digest: "", size: 0, error: "the blob worker has no such job" } satisfies BlobWorkerReply);
        return;
      }
      const digest = `sha256:${j.hash.digest("hex")}`;
      closing.set(m.id, j);
      const close = () => whenIdle(j, () => {
        if (j.direct && j.error === null) {
          try {
            finishDirect(j);
          } catch (e) {
            j.error = (e as Error).message;
          }
        }
        self.postMessage({ op: "closed", id: m.id, digest, size: j.size, error: j.error } satisfies BlobWorkerReply);
        closing.delete(m.id);
        j.afterClose?.();
      });
      const inf = j.inflate;
      if (inf) {
        finishInflate(m.id, inf, () => {
          inflates.delete(m.id);
          close();
        });
      } else close();
      return;
    }
    case "abort": {
      const j = jobs.get(m.id);
      jobs.delete(m.id);
      const reply = () => self.postMessage({ op: "aborted", id: m.id } satisfies BlobWorkerReply);
      const closingJob = closing.get(m.id);
      if (closingJob) {
        // it is finishing (its writes, its decompression): the fd is let go only after that
        closingJob.afterClose = reply;
        const inf = closingJob.inflate;
        if (inf && !inf.ended) {
          // nobody takes its bytes any more (no slot will come back): let zlib run to its end
          inf.post = false;
          inf.overflow = null;
          inf.cur = -1;
          settleAtEnd(m.id, inf);
          if (!inf.ended && inf.z.isPaused()) inf.z.resume();
        }
        return;
      }
      const inf = inflates.get(m.id);
      if (inf) {
        // (zlib may still be reading a chunk on the thread pool: its output goes nowhere)
        inflates.delete(m.id);
        inf.ended = true;
        inf.onEnd = null;
        inf.z.destroy();
      }
      if (!j) reply();
      else {
        whenIdle(j, () => {
          // an append job keeps what it got, for the next attempt to resume from
          if (j.append && j.direct && j.error === null && j.append.skip === 0) {
            try {
              finishDirect(j);
            } catch {
              // the next attempt starts from what did reach the file
            }
          }
          reply();
        });
      }
      return;
    }
  }
};
