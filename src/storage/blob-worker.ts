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
// in order, one at a time (1 MB each), so that the file is always a prefix of the blob — what a
// resumed download trusts — and an abort writes what is staged (the next attempt asks only for
// the rest); a killed process loses what was staged.
import { ptr } from "bun:ffi";
import * as fs from "node:fs";
import { CryptoHasher } from "bun";

declare const self: Worker;

export type BlobWorkerRequest =
  // direct: the file's path (for the fallback); append: see above (offset is block-aligned when direct)
  | { op: "open"; id: number; fd: number; direct?: string; append?: { offset: number } }
  | { op: "data"; id: number; chunk: Uint8Array; ack?: number }
  | { op: "close"; id: number }
  | { op: "abort"; id: number };

export type BlobWorkerReply =
  | { op: "ack"; id: number; ack: number }
  | { op: "closed"; id: number; digest: string; size: number; error: string | null }
  | { op: "aborted"; id: number }
  | { op: "failed"; id: number; error: string }; // made on the main thread when the worker is gone (blobs.ts)

const ALIGN = 4096;
const STAGE = 4 << 20;
const APPEND_STAGE = 1 << 20; // an append job's: a killed pull loses at most this much of what it got
const MAX_ASYNC = 3; // stages being written by the thread pool while this thread hashes the next

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
}

interface Append {
  skip: number;            // bytes still to hash only (the file has them)
  pos: number;             // where the next write goes, without O_DIRECT
}

interface Job {
  fd: number;
  hash: CryptoHasher;
  size: number;
  error: string | null;
  direct: Direct | null;
  append: Append | null;
}
const jobs = new Map<number, Job>();

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

/** Writes a full stage: on the thread pool while fewer than MAX_ASYNC are under way, else here (an append job's always here, in order). */
function flushStage(j: Job, d: Direct): void {
  const buf = d.cur!;
  const pos = d.written;
  d.written += d.stage;
  d.fill = 0;
  if (d.own >= 0 || d.inflight >= MAX_ASYNC || j.append) {
    writeStage(j, d, buf, pos); // and keep filling the same stage
    return;
  }
  d.cur = null;
  d.inflight++;
  const done = (err: Error | null) => {
    if (err && j.error === null) j.error = err.message;
    d.inflight--;
    d.free.push(buf);
    if (d.inflight === 0) d.idle?.();
  };
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

self.onmessage = (ev: MessageEvent<BlobWorkerRequest>) => {
  const m = ev.data;
  switch (m.op) {
    case "open": {
      const at = m.append?.offset ?? 0;
      jobs.set(m.id, {
        fd: m.fd, hash: new CryptoHasher("sha256"), size: 0, error: null,
        direct: m.direct !== undefined && m.fd >= 0 ? { path: m.direct, stage: m.append ? APPEND_STAGE : STAGE, cur: null, fill: 0, free: [], written: at, inflight: 0, idle: null, own: -1 } : null,
        append: m.append ? { skip: at, pos: at } : null,
      });
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
      if (m.ack !== undefined) self.postMessage({ op: "ack", id: m.id, ack: m.ack } satisfies BlobWorkerReply);
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
      whenIdle(j, () => {
        if (j.direct && j.error === null) {
          try {
            finishDirect(j);
          } catch (e) {
            j.error = (e as Error).message;
          }
        }
        self.postMessage({ op: "closed", id: m.id, digest, size: j.size, error: j.error } satisfies BlobWorkerReply);
      });
      return;
    }
    case "abort": {
      const j = jobs.get(m.id);
      jobs.delete(m.id);
      const reply = () => self.postMessage({ op: "aborted", id: m.id } satisfies BlobWorkerReply);
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
