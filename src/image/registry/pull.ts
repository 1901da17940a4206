// `berth pull`: a reference resolved to one image manifest (an index narrowed to a platform),
// its config, and its layers — those whose blob the store has are not fetched; the rest are
// downloaded side by side (three at a time, as docker) — then published and recorded like a load.
import { chainIds, type Digest } from "../../storage/digest.ts";
import { snapshotInfo } from "../../storage/snapshots.ts";
import { unpackStoredLayer } from "../importers.ts";
import { isIndexType, MT, parseImageDocument, parseIndex, parseManifest, type Platform } from "../oci.ts";
import { parseReference, repository, taggedName } from "../reference.ts";
import type { ImageRecord, ImageStore } from "../store.ts";
import { RegistryClient, RegistryError, REGISTRY_TIMEOUT_MS } from "./client.ts";
import type { Credentials } from "./credentials.ts";
import { choosePlatform, fetchManifest, fetchSmallBlob, parsePlatform, platformString } from "./documents.ts";
import { type DownloadedLayer, downloadLayer } from "./download.ts";
import { loadRegistryPolicy } from "./registries.ts";
import { trace } from "../../sys/trace.ts";

/** What a pull reports, in the shape of docker's JSON progress messages (id = a layer's short digest). */
export interface PullEvent {
  id?: string;
  status: string;
  current?: number;
  total?: number;
}

export interface PullOptions {
  /** OS/ARCH[/VARIANT] (default: this host's) */
  platform?: string;
  /** false: HTTPS without verification, or plain HTTP */
  tlsVerify?: boolean;
  /** layers downloaded at once */
  concurrency?: number;
  /** credentials for this pull (an API's X-Registry-Auth); default: docker's config.json */
  credentials?: Credentials | null;
  onEvent?: (e: PullEvent) => void;
}

export interface PullResult {
  image: ImageRecord;
  /** the manifest digest the reference resolved to (an index's, when it was one) */
  digest: Digest;
  /** the canonical name given to the image (null when pulled by digest alone) */
  name: string | null;
  /** whether anything new was stored */
  fresh: boolean;
}

export function shortDigest(d: string): string {
  return d.slice(7, 19);
}

export function registryClient(store: ImageStore, domain: string, tlsVerify?: boolean, credentials?: Credentials | null): RegistryClient {
  return new RegistryClient(domain, { policy: loadRegistryPolicy(store.root), ...(tlsVerify !== undefined ? { tlsVerify } : {}), ...(credentials !== undefined ? { credentials } : {}) });
}

/**
 * The registry's mirrors (registries.json "mirrors") in order, then the registry itself: the first
 * that has the manifest serves the whole pull (its blobs are verified against the same digests).
 */
async function firstAnswering<T>(store: ImageStore, domain: string, opts: PullOptions, get: (c: RegistryClient) => Promise<T>): Promise<{ client: RegistryClient; top: T }> {
  const policy = loadRegistryPolicy(store.root);
  for (const mirror of policy.mirrors[domain] ?? []) {
    const client = new RegistryClient(mirror, { policy, ...(opts.tlsVerify !== undefined ? { tlsVerify: opts.tlsVerify } : {}) });
    try {
      return { client, top: await get(client) };
    } catch {
      // the mirror does not have it, or is down: the next one, then the registry
    }
  }
  const client = registryClient(store, domain, opts.tlsVerify, opts.credentials);
  return { client, top: await get(client) };
}

export async function pullImage(store: ImageStore, ref: string, opts: PullOptions = {}): Promise<PullResult> {
  const r = parseReference(ref);
  const emit = opts.onEvent ?? (() => {});
  const platform: Platform = parsePlatform(opts.platform);
  const repo = r.path;
  const scope = `repository:${repo}:pull`;
  const target = r.digest ?? r.tag!;
  emit({ id: r.tag ?? r.digest!, status: `Pulling from ${repo}` });
  const { client, top } = await firstAnswering(store, r.domain, opts, (c) => fetchManifest(c, repo, target, scope));
  let manifestDoc = top;
  if (isIndexType(top.mediaType)) {
    const index = parseIndex(top.bytes, `index of ${repository(r)}`);
    const pick = choosePlatform(index.manifests, platform);
    if (!pick) {
      const have = index.manifests.filter((m) => m.platform).map((m) => platformString(m.platform!)).join(", ");
      throw new RegistryError(`no matching manifest for ${platformString(platform)} in the manifest list entries of ${repository(r)} (it has: ${have || "none"}); choose one with --platform`, 0, "NO_PLATFORM");
    }
    manifestDoc = await fetchManifest(client, repo, pick.digest, scope);
    if (isIndexType(manifestDoc.mediaType)) throw new RegistryError(`${repository(r)}: an index inside an index is not supported`);
  }
  const manifest = parseManifest(manifestDoc.bytes, `manifest ${manifestDoc.digest}`);
  const config = store.blobs.has(manifest.config.digest) ? store.blobs.read(manifest.config.digest) : await fetchSmallBlob(client, repo, manifest.config, scope);
  const document = parseImageDocument(config, `config ${manifest.config.digest}`);
  if (document.rootfs.diff_ids.length !== manifest.layers.length) {
    throw new RegistryError(`manifest ${manifestDoc.digest} lists ${manifest.layers.length} layers but its config ${document.rootfs.diff_ids.length}`);
  }
  if (!isIndexType(top.mediaType) && opts.platform && (document.os !== platform.os || document.architecture !== platform.architecture)) {
    throw new RegistryError(`image ${repository(r)} is for ${document.os}/${document.architecture}, not the ${platformString(platform)} asked for`, 0, "NO_PLATFORM");
  }
  for (const l of manifest.layers) {
    if (l.mediaType === MT.dockerForeignLayerGzip) throw new RegistryError(`layer ${l.digest} is a foreign layer (kept outside the registry${l.urls?.[0] ? `, at ${l.urls[0]}` : ""}); berth does not fetch those`);
  }
  trace("pull: manifest and config");
  const name = r.tag !== null ? taggedName(r) : null;
  const chains = chainIds(document.rootfs.diff_ids);
  const image = await store.writeLock(async () => {
    const have = store.get(manifest.config.digest);
    const complete = have !== null && have.digest === manifestDoc.digest && chains.every((c) => store.snapshots.has(c)) && manifest.layers.every((l) => store.blobs.has(l.digest));
    // "up to date" as docker says it: the name already named this very image
    const upToDate = complete && (name === null || have!.names.includes(name));
    const downloaded = new Map<number, DownloadedLayer>();
    const fetched = new Set<number>();
    try {
      if (!upToDate) {
        const todo: number[] = [];
        manifest.layers.forEach((l, i) => {
          if (store.blobs.has(l.digest)) emit({ id: shortDigest(l.digest), status: "Already exists" });
          else {
            emit({ id: shortDigest(l.digest), status: "Pulling fs layer" });
            todo.push(i);
          }
        });
        const seen = new Set<string>();
        const queue = todo.filter((i) => !seen.has(manifest.layers[i]!.digest) && seen.add(manifest.layers[i]!.digest));
        // On the first failure no new layer starts, and the ones under way finish (or fail) before
        // the error goes up, so that every prepared snapshot is in `downloaded` to be discarded.
        let failure: { error: unknown } | null = null;
        const worker = async () => {
          for (let i = queue.shift(); i !== undefined && !failure; i = queue.shift()) {
            const l = manifest.layers[i]!;
            const id = shortDigest(l.digest);
            try {
              const got = await downloadLayer({ store, client, repo, scope, onRetry: (n, why) => emit({ id, status: `Retrying (${n}): ${why}` }) },
                l, document.rootfs.diff_ids[i]!, (current, total) => emit({ id, status: "Downloading", current, total }));
              emit({ id, status: "Download complete" });
              if (got) downloaded.set(i, got);
              fetched.add(i);
            } catch (e) {
              failure ??= { error: e };
            }
          }
        };
        await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 3, queue.length)) }, worker));
        if (failure) throw (failure as { error: unknown }).error;
      }
      trace("pull: layers downloaded and unpacked");
      store.flush(); // the blobs and unpacked files reach the disk before a rename makes them visible
      for (let i = 0; i < chains.length; i++) {
        const chain = chains[i]!;
        const parent = i ? chains[i - 1]! : null;
        const d = downloaded.get(i);
        if (store.snapshots.has(chain)) {
          if (d) store.snapshots.discard(d.snapshot);
        } else if (d) {
          store.snapshots.publish(d.snapshot, snapshotInfo(chain, document.rootfs.diff_ids[i]!, parent, d.stats));
        } else {
          await unpackStoredLayer(store, manifest.layers[i]!.digest, document.rootfs.diff_ids[i]!, chain, parent);
        }
        downloaded.delete(i);
        if (fetched.has(i)) emit({ id: shortDigest(manifest.layers[i]!.digest), status: "Pull complete" });
      }
      trace("pull: flushed and published");
      // docker's RepoDigest is the digest the reference resolved to: the index's, for a multi-platform image
      const image = store.register({ manifest: manifestDoc.bytes, config, names: name ? [name] : [], repoDigests: [`${repository(r)}@${top.digest}`] });
      return { image, fresh: !upToDate };
    } finally {
      for (const d of downloaded.values()) store.snapshots.discard(d.snapshot);
    }
  });
  emit({ status: `Digest: ${top.digest}` });
  return { image: image.image, digest: top.digest, name, fresh: image.fresh };
}

/** `pull -a`: every tag of the repository. */
export async function listTags(store: ImageStore, ref: string, tlsVerify?: boolean, credentials?: Credentials | null): Promise<string[]> {
  const r = parseReference(ref);
  const client = registryClient(store, r.domain, tlsVerify, credentials);
  const tags: string[] = [];
  let next: string | null = `/v2/${r.path}/tags/list?n=1000`;
  for (let pages = 0; next && pages < 100; pages++) {
    const res = await client.request("GET", next, { scopes: [`repository:${r.path}:pull`], signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
    const body = (await res.json().catch(() => null)) as { tags?: unknown } | null;
    if (body && Array.isArray(body.tags)) tags.push(...body.tags.filter((t): t is string => typeof t === "string"));
    const link = res.headers.get("link");
    const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
    next = m ? m[1]! : null;
  }
  return [...new Set(tags)].sort();
}
