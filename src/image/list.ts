// Which images a listing shows (`berth images`, and the API's image list): docker's dangling= and
// reference= filters and the REPOSITORY[:TAG] argument, one entry per name an image has.
import { builtOn } from "./lineage.ts";
import { familiarName, splitTaggedName } from "./reference.ts";
import type { ImageRecord, ImageStore } from "./store.ts";

export interface ImageListOptions {
  /** true: only images without a name; false: only named ones. */
  dangling?: boolean;
  /** Glob patterns (* and ?) matched against the familiar name or its repository; any may match. */
  reference?: string[];
  /** REPOSITORY[:TAG] as `docker images` takes it: only entries of that repository (and tag). */
  repository?: string;
  /** -a: intermediate images too (untagged images another image is built on: a build's steps). */
  all?: boolean;
}

export interface ImageListEntry {
  image: ImageRecord;
  /** Familiar repository and tag ("busybox", "latest"); "<none>" for an image without names. */
  repository: string;
  tag: string;
}

export class ImageFilterError extends Error {
  override name = "ImageFilterError";
}

/** One `--filter KEY=VALUE` into the options (docker's spelling). */
export function addImageFilter(opts: ImageListOptions, filter: string): ImageListOptions {
  const [key, value = ""] = filter.split("=", 2) as [string, string?];
  if (key === "dangling") return { ...opts, dangling: value === "true" };
  if (key === "reference") return { ...opts, reference: [...(opts.reference ?? []), value] };
  throw new ImageFilterError(`--filter ${filter}: supported filters are dangling=true|false and reference=PATTERN`);
}

function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, ".")}$`);
}

/** Whether a name matches a reference filter (a glob on NAME:TAG or on the repository). */
export function nameMatches(name: string, pattern: string): boolean {
  const re = glob(pattern);
  return re.test(familiarName(name)) || re.test(splitTaggedName(familiarName(name)).repository);
}

/** Untagged images other images were built on (docker hides them from `images` without -a). */
function intermediates(images: ImageRecord[]): Set<string> {
  const out = new Set<string>();
  for (const i of images) {
    if (i.names.length) continue;
    if (images.some((j) => j.id !== i.id && builtOn(j.document, i.document))) out.add(i.id);
  }
  return out;
}

export function listImages(store: ImageStore, opts: ImageListOptions = {}): ImageListEntry[] {
  let images = store.list();
  if (!opts.all) {
    const hidden = intermediates(images);
    images = images.filter((i) => !hidden.has(i.id));
  }
  if (opts.dangling !== undefined) images = images.filter((i) => (i.names.length === 0) === opts.dangling);
  for (const pattern of opts.reference ?? []) images = images.filter((i) => i.names.some((n) => nameMatches(n, pattern)));
  let entries: ImageListEntry[] = images.flatMap((image) => image.names.length
    ? image.names.map((n) => ({ image, ...splitTaggedName(familiarName(n)) }))
    : [{ image, repository: "<none>", tag: "<none>" }]);
  const want = opts.repository;
  if (want) {
    const colon = want.lastIndexOf(":");
    const [repo, tag] = colon >= 0 ? [want.slice(0, colon), want.slice(colon + 1)] : [want, null];
    entries = entries.filter((e) => (e.repository === repo || e.repository === familiarName(`docker.io/${repo}`)) && (tag === null || e.tag === tag));
  }
  return entries;
}
