// One layer from a registry into the store, in one pass: the bytes go to a partial file under
// ROOT/downloads (kept if the pull is interrupted, so the next attempt asks only for the rest with
// a Range request) and, as they arrive, through the store's own layer ingestion (hash, decompress,
// diff ID, unpack into a prepared snapshot). Only when size, digest and diff ID are right does the
// partial file become the blob and the snapshot become publishable; a blob that is larger than
// declared or hashes wrong is refused and its partial file removed, so nothing of it stays.
// No fsync of the blob here: the partial file is in the store's file system (ROOT/downloads), and
// the pull's one syncfs (store.flush) puts it on disk with the unpacked files before any snapshot
// or image refers to it — as a load's blobs. An fdatasync per layer cost the bench pull 0.13 s.
import * as fs from "node:fs";
import * as path from "node:path";
import { type AppendFile, DIRECT_ALIGN, openAppend, ParallelHasher } from "../../storage/blobs.ts";
import { type Digest, DigestMismatchError, hexOf } from "../../storage/digest.ts";
import { LayerIngest } from "../../storage/ingest.ts";
import { FileLock } from "../../storage/lock.ts";
import type { PreparedSnapshot } from "../../storage/snapshots.ts";
import type { UnpackStats } from "../../storage/unpack.ts";
import type { Descriptor } from "../oci.ts";
import type { ImageStore } from "../store.ts";
import { isTransient, RegistryClient, RegistryError, REGISTRY_TIMEOUT_MS } from "./client.ts";

const ATTEMPTS = 5;
const READ_CHUNK = 1 << 20;
// Layers from this size are hashed and written on the blob worker thread (as a load does), the
// partial file with O_DIRECT: copying 107 MB into fresh page-cache pages cost the pull's main
// thread ~0.35 s of system time on the bench host, direct writes ~0.05 s.
const PARALLEL_FROM = 8 << 20;

export interface LayerProgress {
  (current: number, total: number): void;
}

export interface DownloadedLayer {
  snapshot: PreparedSnapshot;
  stats: UnpackStats | null;
}

/** Errors that end the pull at once (a retry would get the same bytes). */
class HostileBlobError extends RegistryError {}

/** isTransient, but a blob that lied (too large) is never fetched again. */
function transient(e: unknown): boolean {
  return !(e instanceof HostileBlobError) && isTransient(e);
}

export interface DownloadContext {
  store: ImageStore;
  client: RegistryClient;
  repo: string;
  scope: string;
  onRetry?: (attempt: number, why: string) => void;
}

/**
 * Downloads and unpacks one layer; null when another process stored the blob meanwhile (the caller
 * then unpacks from the store). The snapshot returned is prepared, not published.
 */
export async function downloadLayer(ctx: DownloadContext, desc: Descriptor, diffId: Digest, progress?: LayerProgress): Promise<DownloadedLayer | null> {
  const { store } = ctx;
  const dir = store.downloadsDir;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const partial = path.join(dir, `${hexOf(desc.digest)}.partial`);
  const lock = await FileLock.acquire(`${partial}.lock`, "exclusive");
  try {
    for (let attempt = 1; ; attempt++) {
      if (store.blobs.has(desc.digest)) return null;
      try {
        return await attemptOnce(ctx, desc, diffId, partial, progress);
      } catch (e) {
        if (!transient(e) || attempt >= ATTEMPTS) {
          if (e instanceof HostileBlobError || e instanceof DigestMismatchError) fs.rmSync(partial, { force: true });
          throw e;
        }
        ctx.onRetry?.(attempt, (e as Error).message);
        await Bun.sleep(Math.min(200 * 2 ** attempt, 3000));
      }
    }
  } finally {
    // The lock file stays (prune removes it): unlinking it would let a third pull lock a new
    // file while a second one holds the old, and both write the same partial file.
    lock.release();
  }
}

async function attemptOnce(ctx: DownloadContext, desc: Descriptor, diffId: Digest, partial: string, progress?: LayerProgress): Promise<DownloadedLayer> {
  const { store, client } = ctx;
  let have = 0;
  try {
    have = fs.statSync(partial).size;
  } catch {
    have = 0;
  }
  if (have > desc.size) {
    fs.rmSync(partial, { force: true });
    have = 0;
  }
  const big = desc.size >= PARALLEL_FROM;
  if (big && have < desc.size && have % DIRECT_ALIGN !== 0) {
    // direct writes go to block-aligned offsets: ask again for the last partial block
    have -= have % DIRECT_ALIGN;
    fs.truncateSync(partial, have);
  }
  // Ask first, so that a registry which ignores Range does not make us replay what we have.
  let res: Response | null = null;
  // A body that stops coming (a stalled connection) is cut after the registry timeout and the
  // attempt ends as a broken one: the next asks for the rest.
  const idle = new AbortController();
  let idleTimer: ReturnType<typeof setTimeout> | null = null;
  const alive = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => idle.abort(new Error(`no data for ${REGISTRY_TIMEOUT_MS / 1000} s`)), REGISTRY_TIMEOUT_MS);
  };
  if (have < desc.size) {
    res = await client.request("GET", `/v2/${ctx.repo}/blobs/${desc.digest}`, {
      scopes: [ctx.scope], blobDownload: true, headers: have > 0 ? { range: `bytes=${have}-` } : {}, accept: [416], signal: idle.signal,
    });
    if (res.status === 416 || (have > 0 && res.status !== 206)) {
      // no partial content: start over
      if (res.status === 416) await res.body?.cancel().catch(() => {});
      fs.rmSync(partial, { force: true });
      if (res.status === 416) return attemptOnce(ctx, desc, diffId, partial, progress);
      have = 0;
    } else if (res.status === 206) {
      const cr = res.headers.get("content-range") ?? "";
      const m = /^bytes (\d+)-/.exec(cr);
      if (!m || Number(m[1]) !== have) {
        await res.body?.cancel().catch(() => {});
        fs.rmSync(partial, { force: true });
        throw new RegistryError(`${client.domain} answered a range request for ${desc.digest} with ${JSON.stringify(cr)}; starting over`);
      }
    }
    const len = Number(res.headers.get("content-length") ?? "NaN");
    if (Number.isFinite(len) && have + len > desc.size) {
      await res.body?.cancel().catch(() => {});
      throw new HostileBlobError(`blob ${desc.digest} is larger (${have + len} bytes) than the manifest declares (${desc.size}); refused`);
    }
  }
  const prepared = store.snapshots.prepare();
  // a big layer's partial file is written by the blob worker, as it hashes the blob
  let file: AppendFile | null = null;
  let hasher: ParallelHasher | null = null;
  let fd = -1;
  let ok = false;
  if (big && res) {
    file = openAppend(partial, have);
    hasher = new ParallelHasher(file);
  }
  const ingest = new LayerIngest(prepared.diff, null, store.durable, hasher ?? big);
  try {
    // what an earlier attempt got goes through the ingestion again (local, fast), then the rest
    let done = 0;
    if (have > 0) {
      const rfd = fs.openSync(partial, "r");
      try {
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        for (;;) {
          const n = fs.readSync(rfd, buf, 0, Math.min(READ_CHUNK, have - done), null);
          if (n <= 0) break;
          const w = ingest.write(buf.subarray(0, n).slice());
          if (w) await w;
          done += n;
        }
      } finally {
        fs.closeSync(rfd);
      }
      progress?.(done, desc.size);
    }
    if (res) {
      if (!file) fd = fs.openSync(partial, "a", 0o600);
      alive();
      try {
        for await (const chunk of res.body ?? []) {
          alive();
          if (done + chunk.length > desc.size) {
            throw new HostileBlobError(`blob ${desc.digest} is larger than the ${desc.size} bytes the manifest declares; refused`);
          }
          for (let off = 0; fd >= 0 && off < chunk.length;) off += fs.writeSync(fd, chunk, off, chunk.length - off);
          const w = ingest.write(chunk);
          if (w) await w;
          done += chunk.length;
          progress?.(done, desc.size);
        }
      } catch (e) {
        if (e instanceof RegistryError) throw e;
        throw new RegistryError(`download of ${desc.digest} broke off after ${done} of ${desc.size} bytes: ${(e as Error).message}`);
      }
      if (fd >= 0) {
        fs.closeSync(fd);
        fd = -1;
      }
    }
    if (done < desc.size) throw new RegistryError(`download of ${desc.digest} broke off after ${done} of ${desc.size} bytes`);
    // a big layer's files are still being unpacked from what zlib has not caught up with: the
    // disk can start on what is written meanwhile
    if (big) store.flushSoon();
    const r = await ingest.end();
    if (file) {
      // the worker has written and let go of the file (the blob's digest came back)
      fs.closeSync(file.fd);
      file = null;
    }
    if (r.digest !== desc.digest) throw new DigestMismatchError(`layer blob from ${client.domain}/${ctx.repo}`, desc.digest, r.digest);
    if (r.unpackError) throw new HostileBlobError(`layer ${desc.digest}: ${r.unpackError.message}`);
    if (r.diffId !== diffId) throw new DigestMismatchError(`uncompressed layer ${desc.digest} (diff ID)`, diffId, r.diffId);
    store.blobs.adopt(partial, desc.digest);
    ok = true;
    return { snapshot: prepared, stats: r.stats };
  } finally {
    if (idleTimer) clearTimeout(idleTimer);
    if (fd >= 0) fs.closeSync(fd);
    if (!ok) {
      ingest.abort();
      store.snapshots.discard(prepared);
    }
    if (file) {
      // still open: the attempt failed; the worker writes what it staged (kept for the next
      // attempt), and only then is the fd closed — the next attempt reads the file's size
      await hasher!.abort();
      fs.closeSync(file.fd);
    }
  }
}
