// A big compressed layer is decompressed on the blob worker thread and its bytes handed back in
// slots for this thread to unpack (src/storage/blob-worker.ts, "inflate" jobs). What must hold:
// the files and both digests are those of the bytes, whatever the chunking; a layer that expands
// a thousandfold (slots run out: zlib is paused and resumed) comes through whole; a corrupt,
// truncated or hostile layer ends with an error, never a hang; an abort lets go of everything and
// the worker serves the next layer.
import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { BlobStore, ParallelHasher } from "../../src/storage/blobs.ts";
import { sha256 } from "../../src/storage/digest.ts";
import { LayerIngest } from "../../src/storage/ingest.ts";
import { makeTar, tempDir } from "./helpers.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function dir(label: string): string {
  const d = tempDir(label);
  dirs.push(d);
  return d;
}

function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}

// 12 MB that do not compress (the blob is over the 8 MB from which loads and pulls use the worker),
// 96 MB of zeros that compress a thousandfold (one input chunk fills every slot), small files between
const big = random(12 << 20);
const zeros = new Uint8Array(96 << 20);
const layerTar = makeTar([
  { name: "a", type: "dir" },
  ...Array.from({ length: 40 }, (_, i) => ({ name: `a/small-${i}`, data: random(100 + i * 997) })),
  { name: "a/big", data: big },
  { name: "a/zeros", data: zeros },
  { name: "a/link", type: "symlink" as const, linkname: "big" },
  { name: "z", data: "the last entry\n" },
]);
const gz = gzipSync(layerTar);
const zst = zstdCompressSync(layerTar);

/** Feeds blob in chunks of varying sizes from one reused buffer (as a read loop or a download does). */
async function feed(ingest: LayerIngest, blob: Uint8Array): Promise<void> {
  const scratch = new Uint8Array(2 << 20);
  const sizes = [65536, 1 << 20, 333_333, 511, (2 << 20) - 7, 17_000];
  for (let off = 0, k = 0; off < blob.length; k++) {
    const n = Math.min(sizes[k % sizes.length]!, blob.length - off);
    scratch.set(blob.subarray(off, off + n));
    const w = ingest.write(scratch.subarray(0, n));
    scratch.fill(0xa5, 0, n); // the caller's buffer changes as soon as write() returns
    if (w) await w;
    off += n;
  }
}

function expectUnpacked(root: string): void {
  expect(Bun.hash(fs.readFileSync(path.join(root, "a/big")))).toBe(Bun.hash(big));
  const z = fs.readFileSync(path.join(root, "a/zeros"));
  expect(z.length).toBe(zeros.length);
  expect(z.every((b) => b === 0)).toBe(true);
  expect(fs.readlinkSync(path.join(root, "a/link"))).toBe("big");
  expect(fs.readFileSync(path.join(root, "z"), "utf8")).toBe("the last entry\n");
  expect(fs.readdirSync(path.join(root, "a")).filter((n) => n.startsWith("small-")).length).toBe(40);
}

describe("a big layer decompressed on the blob worker", () => {
  for (const [codec, blob] of [["gzip", gz], ["zstd", zst]] as const) {
    test(`${codec}, hashed on the worker (a pull's way): files, digest and diff ID are the bytes'`, async () => {
      expect(blob.length).toBeGreaterThan(8 << 20);
      const root = dir(`inflate-${codec}`);
      const ingest = new LayerIngest(root, null, false, true);
      await feed(ingest, blob);
      const r = await ingest.end();
      expect(r.unpackError).toBeNull();
      expect(r.compression).toBe(codec);
      expect(r.digest).toBe(sha256(blob));
      expect(r.size).toBe(blob.length);
      expect(r.diffId).toBe(sha256(layerTar));
      expect(r.stats?.files).toBe(43);
      expectUnpacked(root);
    });
  }

  test("gzip, stored by a ParallelBlobWriter (a load's way): the blob is the bytes, the files unpacked", async () => {
    const root = dir("inflate-blob");
    const store = new BlobStore(dir("inflate-store"), dir("inflate-tmp"));
    const w = store.writer(true);
    const ingest = new LayerIngest(root, w, false);
    await feed(ingest, gz);
    const r = await ingest.end();
    expect(r.unpackError).toBeNull();
    expect(r.diffId).toBe(sha256(layerTar));
    expect(w.commit(sha256(gz))).toBe(sha256(gz));
    expect(Bun.hash(fs.readFileSync(store.path(sha256(gz))))).toBe(Bun.hash(gz));
    expectUnpacked(root);
  });

  test("without an unpack directory only the digests are made (the worker posts no bytes)", async () => {
    const ingest = new LayerIngest(null, null, false, true);
    await feed(ingest, gz);
    const r = await ingest.end();
    expect(r.unpackError).toBeNull();
    expect(r.diffId).toBe(sha256(layerTar));
    expect(r.stats).toBeNull();
  });

  test("corrupt gzip in the middle: a decompression error, no hang, the blob digest still the bytes'", async () => {
    const bad = new Uint8Array(gz); // (a copy: Buffer#slice would be a view of gz)
    for (let i = (bad.length >> 1); i < (bad.length >> 1) + 4096; i++) bad[i] = bad[i]! ^ 0x5a;
    const ingest = new LayerIngest(dir("inflate-corrupt"), null, false, true);
    await feed(ingest, bad);
    const r = await ingest.end();
    expect(r.unpackError?.message).toMatch(/layer decompression \(gzip\) failed/);
    expect(r.digest).toBe(sha256(bad));
  });

  test("truncated gzip: refused at the end (unexpected end of file)", async () => {
    const cut = gz.subarray(0, gz.length - 1000);
    const ingest = new LayerIngest(dir("inflate-cut"), null, false, true);
    await feed(ingest, cut);
    const r = await ingest.end();
    expect(r.unpackError).not.toBeNull();
    expect(r.diffId).not.toBe(sha256(layerTar));
  });

  test("a hostile entry after 12 MB: the unpack refuses it, decompression still runs to the end, nothing outside", async () => {
    const parent = dir("inflate-hostile");
    const root = path.join(parent, "root");
    fs.mkdirSync(root);
    const evil = gzipSync(makeTar([{ name: "big", data: big }, { name: "../escaped", data: "x" }, { name: "after", data: zeros.subarray(0, 20 << 20) }]));
    const ingest = new LayerIngest(root, null, false, true);
    await feed(ingest, evil);
    const r = await ingest.end();
    expect(r.unpackError?.message).toMatch(/refusing layer entry "..\/escaped"/);
    expect(fs.existsSync(path.join(parent, "escaped"))).toBe(false);
    expect(r.digest).toBe(sha256(evil));
  });

  test("an ingest aborted in the middle lets go, and the worker serves the next layer", async () => {
    const ingest = new LayerIngest(dir("inflate-abort"), null, false, true);
    const half = gz.subarray(0, gz.length >> 1);
    await feed(ingest, half);
    ingest.abort();
    const next = new LayerIngest(dir("inflate-after-abort"), null, false, true);
    await feed(next, gz);
    const r = await next.end();
    expect(r.unpackError).toBeNull();
    expect(r.diffId).toBe(sha256(layerTar));
  });

  test("a slow unpacker: every slot is out, zlib waits (paused) and resumes; every byte arrives once, in order", async () => {
    const h = new ParallelHasher();
    const out = new Bun.CryptoHasher("sha256");
    let got = 0;
    const inflation = h.inflate("gzip", (chunk) => {
      out.update(chunk);
      got += chunk.length;
      const until = performance.now() + 2;
      while (performance.now() < until); // slower than zlib on zeros: the worker runs out of slots
    });
    const blob = gzipSync(zeros.subarray(0, 48 << 20));
    for (let off = 0; off < blob.length; off += 1 << 16) {
      const w = h.update(blob.subarray(off, off + (1 << 16)));
      if (w) await w;
    }
    const digest = h.digest();
    const r = await inflation.done;
    expect(r.error).toBeNull();
    expect(r.size).toBe(48 << 20);
    expect(got).toBe(48 << 20);
    expect(`sha256:${out.digest("hex")}`).toBe(sha256(zeros.subarray(0, 48 << 20)));
    expect(r.diffId).toBe(sha256(zeros.subarray(0, 48 << 20)));
    expect(await digest).toBe(sha256(blob));
  });

  test("a ParallelHasher's digest() asked twice closes its job once", async () => {
    const h = new ParallelHasher();
    h.update(new Uint8Array([1, 2, 3]));
    const [a, b] = await Promise.all([h.digest(), h.digest()]);
    expect(a).toBe(sha256(new Uint8Array([1, 2, 3])));
    expect(b).toBe(a);
  });
});
