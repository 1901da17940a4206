// The blob worker's sha256 of a second stream (a compressed layer's diff ID): the hasher copies
// each chunk into a buffer from a pool and reuses that buffer once the worker has acknowledged it.
// A buffer handed back too early would be overwritten before the worker hashed it: the digest
// would then differ from a plain sha256 of the same bytes.
import { expect, test } from "bun:test";
import { ParallelHasher } from "../../src/storage/blobs.ts";
import { sha256 } from "../../src/storage/digest.ts";

test("ParallelHasher: the digest of many chunks from one reused buffer (pool copies, odd and oversized sizes) is sha256 of the bytes", async () => {
  const total = 48 << 20; // three times the bytes the worker may lag behind: pool buffers go round
  const all = new Uint8Array(total);
  for (let i = 0; i < total; i += 65536) crypto.getRandomValues(all.subarray(i, Math.min(total, i + 65536)));
  const scratch = new Uint8Array(3 << 20); // like a read buffer: refilled for every chunk
  const sizes = [1 << 20, 333_333, 4096, (1 << 20) + 1, 3 << 20, 1, 777_777];
  const h = new ParallelHasher();
  for (let off = 0, k = 0; off < total; k++) {
    const n = Math.min(sizes[k % sizes.length]!, total - off);
    scratch.set(all.subarray(off, off + n));
    const w = h.update(scratch.subarray(0, n));
    scratch.fill(0xee, 0, n); // the caller's buffer changes as soon as update() returns
    if (w) await w;
    off += n;
  }
  expect(await h.digest()).toBe(sha256(all));
});
