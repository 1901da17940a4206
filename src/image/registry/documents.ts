// Manifests and blobs fetched small enough to hold in memory (manifests, indexes, configs), each
// verified against the digest that named it before anything reads it.
import { type Digest, DigestMismatchError, sha256 } from "../../storage/digest.ts";
import { type Descriptor, hostPlatform, isIndexType, isManifestType, MT, type Platform } from "../oci.ts";
import { RegistryClient, RegistryError, REGISTRY_TIMEOUT_MS } from "./client.ts";

const MAX_DOCUMENT = 8 << 20; // manifests and configs: far below this; a larger answer is hostile

export const MANIFEST_ACCEPT = [MT.ociIndex, MT.dockerList, MT.ociManifest, MT.dockerManifest].join(", ");

const SCHEMA1 = new Set(["application/vnd.docker.distribution.manifest.v1+json", "application/vnd.docker.distribution.manifest.v1+prettyjws"]);

export interface FetchedDocument {
  bytes: Uint8Array;
  digest: Digest;
  mediaType: string;
}

/** Reads a response body, refusing more than `limit` bytes. */
export async function readLimited(res: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => {});
    throw new RegistryError(`${what} is ${declared} bytes, more than the ${limit} allowed`);
  }
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    for await (const chunk of res.body ?? []) {
      n += chunk.length;
      if (n > limit) throw new RegistryError(`${what} is larger than the ${limit} bytes allowed`);
      parts.push(chunk);
    }
  } catch (e) {
    if (e instanceof RegistryError) throw e;
    throw new RegistryError(`reading ${what}: ${(e as Error).message}`);
  }
  return Buffer.concat(parts);
}

/** A manifest or index by tag or digest. A digest reference must match what came back. */
export async function fetchManifest(client: RegistryClient, repo: string, ref: string, scope: string): Promise<FetchedDocument> {
  // a small document: the whole exchange, body included, within the registry timeout
  const res = await client.request("GET", `/v2/${repo}/manifests/${ref}`, { headers: { accept: MANIFEST_ACCEPT }, scopes: [scope], accept: [404], signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
  if (res.status === 404) {
    await res.body?.cancel().catch(() => {});
    throw new RegistryError(`manifest for ${client.domain}/${repo}:${ref} not found: manifest unknown`, 404, "MANIFEST_UNKNOWN");
  }
  const bytes = await readLimited(res, MAX_DOCUMENT, `manifest ${ref}`);
  const digest = sha256(bytes);
  if (ref.startsWith("sha256:") && digest !== ref) throw new DigestMismatchError(`manifest ${repo}@${ref}`, ref as Digest, digest);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    throw new RegistryError(`the manifest of ${repo}:${ref} is not JSON`);
  }
  const headerType = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
  const mediaType = typeof parsed.mediaType === "string" ? parsed.mediaType : headerType;
  if (parsed.schemaVersion === 1 || SCHEMA1.has(mediaType)) {
    throw new RegistryError(`${client.domain}/${repo}:${ref} is an image manifest of schema version 1, which is obsolete and not supported (docker dropped it too); push the image again with a current client`, 0, "SCHEMA1");
  }
  const sent = res.headers.get("docker-content-digest");
  if (!ref.startsWith("sha256:") && sent && sent !== digest && sent.startsWith("sha256:")) {
    throw new DigestMismatchError(`manifest ${repo}:${ref} (Docker-Content-Digest)`, sent as Digest, digest);
  }
  const kind = isIndexType(mediaType) ? mediaType : isManifestType(mediaType) ? mediaType
    : Array.isArray(parsed.manifests) ? MT.ociIndex : Array.isArray(parsed.layers) ? MT.ociManifest : "";
  if (!kind) throw new RegistryError(`${repo}:${ref} is neither an image manifest nor an index (media type ${JSON.stringify(mediaType)})`);
  return { bytes, digest, mediaType: kind };
}

/** A blob small enough for memory (an image config), verified. */
export async function fetchSmallBlob(client: RegistryClient, repo: string, desc: Descriptor, scope: string): Promise<Uint8Array> {
  if (desc.size > MAX_DOCUMENT) throw new RegistryError(`config ${desc.digest} declares ${desc.size} bytes, more than the ${MAX_DOCUMENT} allowed`);
  const res = await client.request("GET", `/v2/${repo}/blobs/${desc.digest}`, { scopes: [scope], blobDownload: true, signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
  const bytes = await readLimited(res, desc.size, `blob ${desc.digest}`);
  if (bytes.length !== desc.size) throw new RegistryError(`blob ${desc.digest} is ${bytes.length} bytes but its descriptor says ${desc.size}`);
  const d = sha256(bytes);
  if (d !== desc.digest) throw new DigestMismatchError(`blob ${desc.digest}`, desc.digest, d);
  return bytes;
}

/** "linux/amd64", "linux/arm64/v8", "amd64" (linux implied). */
export function parsePlatform(s: string | undefined): Platform {
  if (!s) return hostPlatform();
  const parts = s.split("/");
  if (parts.length === 1) return { os: "linux", architecture: parts[0]! };
  if (parts.length > 3 || parts.some((p) => !p)) throw new RegistryError(`invalid platform ${JSON.stringify(s)}: use OS/ARCH[/VARIANT], e.g. linux/amd64`);
  return { os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) };
}

export function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/** The index entry for a platform (a variant is matched only when asked for). */
export function choosePlatform(manifests: Descriptor[], want: Platform): Descriptor | null {
  const images = manifests.filter((m) => isManifestType(m.mediaType));
  const match = images.filter((m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture);
  if (want.variant) return match.find((m) => m.platform!.variant === want.variant) ?? null;
  return match[0] ?? null;
}
