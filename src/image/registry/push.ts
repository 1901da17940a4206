// `berth push`: each blob the registry lacks (asked with HEAD) is mounted from another repository
// of the same registry that has it when the store knows one, else uploaded — in one PUT, or in
// PATCH chunks above a size — and the manifest goes last, so the registry never names an image
// whose blobs it does not have.
import { type Digest, sha256 } from "../../storage/digest.ts";
import { type Descriptor, MT } from "../oci.ts";
import { parseReference, repository, splitTaggedName } from "../reference.ts";
import type { ImageStore } from "../store.ts";
import { RegistryClient, RegistryError } from "./client.ts";
import type { Credentials } from "./credentials.ts";
import { type PullEvent, registryClient, shortDigest } from "./pull.ts";

export interface PushOptions {
  tlsVerify?: boolean;
  onEvent?: (e: PullEvent) => void;
  /** blobs larger than this go up in PATCH chunks of this size (default 64 MiB; $BERTH_PUSH_CHUNK_SIZE) */
  chunkSize?: number;
  concurrency?: number;
  /** credentials for this push (an API's X-Registry-Auth); default: docker's config.json */
  credentials?: Credentials | null;
}

export interface PushResult {
  digest: Digest;
  size: number;
  tag: string;
}

const DEFAULT_CHUNK = 64 << 20;

export async function pushImage(store: ImageStore, ref: string, opts: PushOptions = {}): Promise<PushResult> {
  const r = parseReference(ref);
  if (r.digest) throw new RegistryError(`cannot push by digest (${ref}); push NAME[:TAG]`);
  const image = store.resolve(ref);
  if (!image) throw new RegistryError(`An image does not exist locally with the tag: ${ref}`);
  const emit = opts.onEvent ?? (() => {});
  const client = registryClient(store, r.domain, opts.tlsVerify, opts.credentials);
  const repo = r.path;
  const scope = `repository:${repo}:pull,push`;
  const envChunk = Number(process.env.BERTH_PUSH_CHUNK_SIZE ?? "");
  const chunkSize = opts.chunkSize ?? (Number.isSafeInteger(envChunk) && envChunk > 0 ? envChunk : DEFAULT_CHUNK);
  emit({ status: `The push refers to repository [${repository(r)}]` });
  const manifestBytes = store.blobs.read(image.digest);
  // Repositories of the same registry that hold a blob (names of other images in the store).
  const mountFrom = (d: Digest): string | null => {
    for (const other of store.list()) {
      if (!other.layers.some((l) => l.digest === d) && other.id !== d) continue;
      for (const n of other.names) {
        const o = parseReference(splitTaggedName(n).repository);
        if (o.domain === r.domain && o.path !== repo) return o.path;
      }
    }
    return null;
  };
  const blobs: Descriptor[] = [...image.manifest.layers, image.manifest.config];
  const queue = [...new Map(blobs.map((b) => [b.digest, b])).values()];
  const worker = async () => {
    for (let b = queue.shift(); b !== undefined; b = queue.shift()) {
      await pushBlob(client, store, repo, scope, b, mountFrom(b.digest), chunkSize, emit);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 3, queue.length) }, worker));
  const tag = r.tag!;
  const mediaType = image.manifest.mediaType ?? MT.ociManifest;
  const res = await client.request("PUT", `/v2/${repo}/manifests/${tag}`, {
    scopes: [scope], headers: { "content-type": mediaType }, body: () => manifestBytes,
  });
  await res.body?.cancel().catch(() => {});
  const digest = sha256(manifestBytes);
  const sent = res.headers.get("docker-content-digest");
  if (sent && sent !== digest) throw new RegistryError(`${r.domain} stored the manifest under ${sent}, not its digest ${digest}`);
  emit({ status: `${tag}: digest: ${digest} size: ${manifestBytes.length}` });
  return { digest, size: manifestBytes.length, tag };
}

async function pushBlob(client: RegistryClient, store: ImageStore, repo: string, scope: string, b: Descriptor, from: string | null, chunkSize: number, emit: (e: PullEvent) => void): Promise<void> {
  const id = shortDigest(b.digest);
  const head = await client.request("HEAD", `/v2/${repo}/blobs/${b.digest}`, { scopes: [scope], accept: [404] });
  if (head.status !== 404) {
    emit({ id, status: "Layer already exists" });
    return;
  }
  emit({ id, status: "Preparing" });
  const scopes = from ? [scope, `repository:${from}:pull`] : [scope];
  const start = await client.request("POST", `/v2/${repo}/blobs/uploads/${from ? `?mount=${b.digest}&from=${encodeURIComponent(from)}` : ""}`, { scopes, accept: [201, 202] });
  await start.body?.cancel().catch(() => {});
  if (start.status === 201) {
    emit({ id, status: `Mounted from ${from}` });
    return;
  }
  let location = uploadUrl(await client.baseUrl(), start);
  const file = Bun.file(store.blobs.path(b.digest));
  const size = file.size;
  if (size !== b.size) throw new RegistryError(`blob ${b.digest} in the store is ${size} bytes, the manifest says ${b.size}; the store is damaged`);
  if (size > chunkSize) {
    for (let off = 0; off < size; off += chunkSize) {
      const end = Math.min(size, off + chunkSize);
      const res = await client.request("PATCH", location, {
        scopes, headers: { "content-type": "application/octet-stream", "content-range": `${off}-${end - 1}`, "content-length": String(end - off) },
        body: () => file.slice(off, end),
      });
      await res.body?.cancel().catch(() => {});
      location = uploadUrl(await client.baseUrl(), res, location);
      emit({ id, status: "Pushing", current: end, total: size });
    }
    const done = new URL(location);
    done.searchParams.set("digest", b.digest);
    const res = await client.request("PUT", done.href, { scopes, headers: { "content-length": "0" } });
    await res.body?.cancel().catch(() => {});
  } else {
    const put = new URL(location);
    put.searchParams.set("digest", b.digest);
    const res = await client.request("PUT", put.href, {
      scopes, headers: { "content-type": "application/octet-stream", "content-length": String(size) }, body: () => file,
    });
    await res.body?.cancel().catch(() => {});
    emit({ id, status: "Pushing", current: size, total: size });
  }
  emit({ id, status: "Pushed" });
}

function uploadUrl(base: string, res: Response, previous?: string): string {
  const loc = res.headers.get("location");
  if (!loc) {
    if (previous) return previous;
    throw new RegistryError(`the registry started an upload without a Location`);
  }
  return new URL(loc, previous ?? base).href;
}
