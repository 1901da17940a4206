// Where the bytes of a load or import come from: a directory, a regular file, or a stream (stdin
// that is a pipe or socket, a FIFO given by name).
//
// Rule: a command that holds the store's lock never waits on something that may never come. A
// stream is therefore opened, and its first bytes awaited, BEFORE the caller takes the lock (an
// idle pipe, or a FIFO nobody writes to, holds nothing up); once reading under the lock, a stream
// that stays silent for `stallTimeoutMs` is given up with an error instead of blocking `rmi` and
// `prune` forever. Regular files (including stdin redirected from a file) are read with
// synchronous reads into pooled shared-memory buffers: they cannot stall. A FIFO is never opened
// with a blocking open(2) on this thread (that would block the whole process until a writer came).
import * as fs from "node:fs";
import { ChunkPool, releaseChunk } from "../storage/chunks.ts";

const READ_CHUNK = 1 << 20;
/** How long input may stay silent, once the lock is held, before the load or import is given up. */
export const DEFAULT_STALL_MS = 5 * 60_000;

export interface InputOptions {
  /** ms a stream may stay silent while the lock is held (default DEFAULT_STALL_MS) */
  stallTimeoutMs?: number;
}

export type ArchiveInput =
  | { kind: "dir"; path: string; close(): void }
  | { kind: "bytes"; chunks: AsyncIterable<Uint8Array>; close(): void };

export class InputStalledError extends Error {}

/**
 * Opens a source ("-" = stdin): a directory is returned as such; a file or stream as chunks. For a
 * stream this waits (holding nothing) until its first bytes or its end arrive. The caller closes it.
 */
export async function openInput(source: string, opts: InputOptions = {}): Promise<ArchiveInput> {
  const what = source === "-" ? "stdin" : source;
  let st: fs.Stats;
  try {
    st = source === "-" ? fs.fstatSync(0) : fs.statSync(source);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`${source}: no such file or directory`);
    throw e;
  }
  if (st.isDirectory()) {
    if (source === "-") throw new Error("stdin is a directory; give its path instead");
    return { kind: "dir", path: source, close: () => {} };
  }
  if (st.isFile()) {
    const fd = source === "-" ? 0 : fs.openSync(source, "r");
    let open = true;
    const close = () => {
      if (open && fd !== 0) fs.closeSync(fd);
      open = false;
    };
    return { kind: "bytes", chunks: fileChunks(fd), close };
  }
  // a pipe, socket, FIFO or character device: read asynchronously (the open too, off this thread)
  const stream: NodeJS.ReadableStream & { destroy(): void } = source === "-" ? process.stdin : fs.createReadStream(source, { highWaterMark: READ_CHUNK });
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  const close = () => stream.destroy();
  let first: IteratorResult<Uint8Array>;
  try {
    first = await it.next(); // no time limit: nothing is held while we wait
  } catch (e) {
    close();
    throw e;
  }
  if (first.done) {
    close();
    throw new Error(source === "-" ? "stdin is empty: nothing was sent to read" : `${what} is empty: nothing was sent to read`);
  }
  const stall = opts.stallTimeoutMs ?? DEFAULT_STALL_MS;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield first.value;
    for (;;) {
      const r = await withStallLimit(it.next(), stall, what, close);
      if (r.done) return;
      yield r.value;
    }
  }
  return { kind: "bytes", chunks: chunks(), close };
}

/** p, or an InputStalledError (and the stream closed) if it has not settled after ms. */
async function withStallLimit<T>(p: Promise<T>, ms: number, what: string, close: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      close();
      reject(new InputStalledError(`no data from ${what} for ${Math.round(ms / 1000)} s; giving up so the image store is not held (send the archive again)`));
    }, ms);
  });
  try {
    return await Promise.race([p, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Chunks of a regular file, in shared memory so the blob worker thread can hash and store them
 * without a copy. The buffers come from a pool (src/storage/chunks.ts): a chunk is ours again once
 * the consumer asks for the next one, unless it retained it (or it copies what it keeps).
 */
async function* fileChunks(fd: number): AsyncGenerator<Uint8Array> {
  const pool = new ChunkPool(READ_CHUNK);
  for (;;) {
    const buf = pool.take();
    const n = fs.readSync(fd, buf, 0, READ_CHUNK, null);
    if (n === 0) break;
    yield buf.subarray(0, n);
    releaseChunk(buf);
  }
}

/** The chunks of a regular file by path (a blob inside an archive directory). */
export async function* readFileChunks(file: string): AsyncGenerator<Uint8Array> {
  const fd = fs.openSync(file, "r");
  try {
    yield* fileChunks(fd);
  } finally {
    fs.closeSync(fd);
  }
}
