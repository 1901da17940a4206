// Read buffers that are used again once nobody needs their bytes any more.
//
// Reading a 232 MB archive into a fresh 1 MB SharedArrayBuffer per read cost ~0.25 s of the main
// thread on the bench host (allocating, zeroing and faulting in new memory each time); a pool
// of ~20 buffers that go round costs a plain copy. The contract: whoever takes a chunk may use
// it until it asks for the next one; anyone who keeps it longer (the blob worker, until it acks)
// calls retainChunk() and later releaseChunk(), or copies it. A buffer goes back to its pool only
// when every hold on it is released, so a forgotten release costs a new allocation, never a
// reuse of bytes still in use.

const holds = new WeakMap<SharedArrayBuffer, { n: number; pool: ChunkPool }>();

export class ChunkPool {
  private free: SharedArrayBuffer[] = [];

  /** keep: free buffers kept for reuse at most (more are left to the GC) */
  constructor(readonly size: number, private keep = 32) {}

  /** A buffer of `size` bytes (shared memory, so the blob worker sees it without a copy), held once by the caller. */
  take(): Uint8Array {
    const b = this.free.pop() ?? new SharedArrayBuffer(this.size);
    holds.set(b, { n: 1, pool: this });
    return new Uint8Array(b);
  }

  /** @internal */
  give(b: SharedArrayBuffer): void {
    if (this.free.length < this.keep) this.free.push(b);
  }
}

/** Whether c is a view of a pooled buffer that is in use. */
export function isPooled(c: Uint8Array): boolean {
  return c.buffer instanceof SharedArrayBuffer && holds.has(c.buffer);
}

/** Keeps c's buffer from reuse until releaseChunk(c). False (and nothing to release) when c is not pooled. */
export function retainChunk(c: Uint8Array): boolean {
  const h = c.buffer instanceof SharedArrayBuffer ? holds.get(c.buffer) : undefined;
  if (!h) return false;
  h.n++;
  return true;
}

export function releaseChunk(c: Uint8Array): void {
  const b = c.buffer;
  if (!(b instanceof SharedArrayBuffer)) return;
  const h = holds.get(b);
  if (!h) return;
  if (--h.n === 0) {
    holds.delete(b);
    h.pool.give(b);
  }
}
