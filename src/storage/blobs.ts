// Content-addressed blobs under <root>/blobs/sha256/<hex>. Writes hash as they go and land with a
// rename, so a blob is visible only when complete and verified; reads are verified too.
import * as fs from "node:fs";
import * as path from "node:path";
import { type Digest, DigestMismatchError, Hasher, hexOf, isDigest, sha256 } from "./digest.ts";
import { tempPath } from "./fsutil.ts";

const READ_CHUNK = 1 << 20;

export class BlobWriter {
  private fd: number;
  private hasher = new Hasher();
  private closed = false;
  readonly tmp: string;

  constructor(private store: BlobStore) {
    this.tmp = tempPath(store.tmpDir, "blob");
    this.fd = fs.openSync(this.tmp, "wx", 0o644);
  }

  get size(): number {
    return this.hasher.bytes;
  }

  write(chunk: Uint8Array): void {
    this.hasher.update(chunk);
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off);
  }

  /** Digest of what was written so far (call once, at the end). */
  digest(): Digest {
    return this.hasher.digest();
  }

  /**
   * Makes the blob visible under its digest. `expected`, when given, must match; otherwise the
   * temp file is discarded and DigestMismatchError thrown. Durability: callers batch one syncfs
   * before publishing, so no fsync here unless asked.
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

  abort(): void {
    if (!this.closed) {
      fs.closeSync(this.fd);
      this.closed = true;
    }
    fs.rmSync(this.tmp, { force: true });
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

  writer(): BlobWriter {
    return new BlobWriter(this);
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
