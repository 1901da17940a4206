// OCI image-spec documents (manifest, index, config) and the Docker schema2 equivalents we accept.
import { type Digest, parseDigest } from "../storage/digest.ts";

export const MT = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayerNondist: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  ociLayerNondistGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

const LAYER_TYPES = new Set<string>([MT.ociLayer, MT.ociLayerGzip, MT.ociLayerZstd, MT.ociLayerNondist, MT.ociLayerNondistGzip, MT.dockerLayer, MT.dockerLayerGzip, MT.dockerForeignLayerGzip]);
const MANIFEST_TYPES = new Set<string>([MT.ociManifest, MT.dockerManifest]);
const INDEX_TYPES = new Set<string>([MT.ociIndex, MT.dockerList]);

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** The runtime part of an image config (OCI "config" object; docker's ContainerConfig uses the same keys). */
export interface ImageConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  OnBuild?: string[] | null;
  ArgsEscaped?: boolean;
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageDocument {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  config?: ImageConfig;
  rootfs: { type: "layers"; diff_ids: Digest[] };
  history?: HistoryEntry[];
  [extra: string]: unknown;
}

function fail(what: string, why: string): never {
  throw new Error(`invalid ${what}: ${why}`);
}

export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (typeof v !== "object" || v === null) fail(what, "descriptor is not an object");
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== "string") fail(what, "descriptor has no mediaType");
  const size = d.size;
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) fail(what, "descriptor size is not a non-negative integer");
  // the optional fields are read later (names, platform matching): their types are checked here
  if (d.annotations !== undefined && !isStringMap(d.annotations)) fail(what, "descriptor annotations must map strings to strings");
  if (d.platform !== undefined) {
    const p = d.platform as Record<string, unknown> | null;
    if (typeof p !== "object" || p === null || typeof p.os !== "string" || typeof p.architecture !== "string") fail(what, "descriptor platform needs os and architecture strings");
  }
  return { ...(d as object), mediaType: d.mediaType, digest: parseDigest(d.digest, `${what} digest`), size } as Descriptor;
}

function isStringMap(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
}

export function isLayerType(mt: string): boolean {
  return LAYER_TYPES.has(mt);
}
export function isManifestType(mt: string | undefined): boolean {
  return mt !== undefined && MANIFEST_TYPES.has(mt);
}
export function isIndexType(mt: string | undefined): boolean {
  return mt !== undefined && INDEX_TYPES.has(mt);
}

export function parseJSON(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    fail(what, `not JSON (${(e as Error).message})`);
  }
}

/** A JSON object (not null, not a list), or a clear error. */
function parseObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  const v = parseJSON(bytes, what);
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(what, "not a JSON object");
  return v as Record<string, unknown>;
}

function schemaVersion(v: Record<string, unknown>, what: string, hint = ""): void {
  if (v.schemaVersion === undefined) fail(what, "no schemaVersion");
  if (v.schemaVersion !== 2) fail(what, `unsupported schemaVersion ${String(JSON.stringify(v.schemaVersion)).slice(0, 40)} ; only 2 is supported${hint}`);
}

export function parseManifest(bytes: Uint8Array, what = "image manifest"): Manifest {
  const v = parseObject(bytes, what);
  schemaVersion(v, what, " (schema1 manifests are obsolete)");
  if (v.mediaType !== undefined && !isManifestType(v.mediaType as string)) fail(what, `mediaType ${JSON.stringify(v.mediaType)} is not an image manifest`);
  if (!Array.isArray(v.layers)) fail(what, "no layers array");
  const layers = v.layers.map((l, i) => parseDescriptor(l, `${what} layer ${i}`));
  for (const l of layers) if (!isLayerType(l.mediaType)) fail(what, `layer media type ${l.mediaType} is not supported`);
  return { ...(v as object), schemaVersion: 2, config: parseDescriptor(v.config, `${what} config`), layers } as Manifest;
}

export function parseIndex(bytes: Uint8Array, what = "image index"): Index {
  const v = parseObject(bytes, what);
  schemaVersion(v, what);
  if (!Array.isArray(v.manifests)) fail(what, "no manifests array");
  return { ...(v as object), schemaVersion: 2, manifests: v.manifests.map((m, i) => parseDescriptor(m, `${what} entry ${i}`)) } as Index;
}

export function parseImageDocument(bytes: Uint8Array, what = "image config"): ImageDocument {
  const v = parseObject(bytes, what);
  const rootfs = v.rootfs as Record<string, unknown> | undefined;
  if (typeof rootfs !== "object" || rootfs === null || rootfs.type !== "layers" || !Array.isArray(rootfs.diff_ids)) fail(what, "rootfs.diff_ids missing");
  rootfs.diff_ids.forEach((d, i) => parseDigest(d, `${what} diff_ids[${i}]`));
  if (typeof v.os !== "string" || typeof v.architecture !== "string") fail(what, "os/architecture missing");
  checkImageConfig(v.config, what);
  checkHistory(v.history, what);
  for (const k of ["created", "author", "variant"]) if (!optional(v[k], isString)) fail(what, `${k} must be a string`);
  return v as ImageDocument;
}

// The image config is read by every `run` (Env, Cmd, User, Labels…): its fields get the types
// docker's Go structs give them, checked once here, so an archive cannot make `run` fail later
// with a TypeError. null counts as absent, as it does for Go.
const isString = (x: unknown): boolean => typeof x === "string";
const isStringList = (x: unknown): boolean => Array.isArray(x) && x.every(isString);
const isObject = (x: unknown): boolean => typeof x === "object" && x !== null && !Array.isArray(x);
const isDuration = (x: unknown): boolean => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
const optional = (x: unknown, ok: (x: unknown) => boolean): boolean => x === undefined || x === null || ok(x);

function checkImageConfig(c: unknown, what: string): void {
  if (c === undefined || c === null) return;
  if (!isObject(c)) fail(what, "config must be an object");
  const o = c as Record<string, unknown>;
  for (const k of ["User", "WorkingDir", "StopSignal"]) if (!optional(o[k], isString)) fail(what, `config.${k} must be a string`);
  for (const k of ["Env", "Cmd", "Entrypoint", "OnBuild", "Shell"]) if (!optional(o[k], isStringList)) fail(what, `config.${k} must be a list of strings`);
  for (const k of ["ExposedPorts", "Volumes"]) if (!optional(o[k], isObject)) fail(what, `config.${k} must be an object`);
  if (!optional(o.Labels, isStringMap)) fail(what, "config.Labels must map strings to strings");
  if (!optional(o.ArgsEscaped, (x) => typeof x === "boolean")) fail(what, "config.ArgsEscaped must be true or false");
  if (!optional(o.Healthcheck, isObject)) fail(what, "config.Healthcheck must be an object");
  const h = (o.Healthcheck ?? {}) as Record<string, unknown>;
  if (!optional(h.Test, isStringList)) fail(what, "config.Healthcheck.Test must be a list of strings");
  for (const k of ["Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"]) if (!optional(h[k], isDuration)) fail(what, `config.Healthcheck.${k} must be a whole number ≥ 0`);
}

function checkHistory(h: unknown, what: string): void {
  if (h === undefined || h === null) return;
  if (!Array.isArray(h)) fail(what, "history must be a list");
  h.forEach((e, i) => {
    if (!isObject(e)) fail(what, `history[${i}] must be an object`);
    const o = e as Record<string, unknown>;
    for (const k of ["created", "created_by", "author", "comment"]) if (!optional(o[k], isString)) fail(what, `history[${i}].${k} must be a string`);
    if (!optional(o.empty_layer, (x) => typeof x === "boolean")) fail(what, `history[${i}].empty_layer must be true or false`);
  });
}

/** Host platform in OCI terms, for picking a manifest out of a multi-platform index. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  return { os: "linux", architecture: arch[process.arch] ?? process.arch };
}

export function layerMediaType(compression: "none" | "gzip" | "zstd", docker: boolean): string {
  if (docker) return compression === "gzip" ? MT.dockerLayerGzip : compression === "none" ? MT.dockerLayer : MT.ociLayerZstd;
  return compression === "gzip" ? MT.ociLayerGzip : compression === "zstd" ? MT.ociLayerZstd : MT.ociLayer;
}
