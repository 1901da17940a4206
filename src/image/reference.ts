// Image references, normalised the way docker does it:
//   busybox                 -> docker.io/library/busybox:latest
//   localhost/app:1.0       -> localhost/app:1.0
//   name@sha256:<hex>       -> by manifest digest
// There is no registry here, but keeping docker's canonical names means `docker save` archives
// (whose RepoTags say "busybox:latest") and compose files name the same images they do with docker.
import { type Digest, isDigest } from "../storage/digest.ts";

export interface Reference {
  domain: string;       // docker.io, localhost, registry.example:5000
  path: string;         // library/busybox
  tag: string | null;   // null only when a digest is given without a tag
  digest: Digest | null;
}

export const DEFAULT_DOMAIN = "docker.io";
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/;

export class InvalidReferenceError extends Error {
  constructor(ref: string, why: string) {
    super(`invalid image reference ${JSON.stringify(ref)}: ${why}`);
  }
}

export function parseReference(ref: string): Reference {
  let rest = ref.trim();
  if (rest === "") throw new InvalidReferenceError(ref, "empty");
  let digest: Digest | null = null;
  const at = rest.indexOf("@");
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw new InvalidReferenceError(ref, "the part after '@' must be sha256:<64 hex digits>");
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(ref, `tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase()) {
      if (!DOMAIN.test(first)) throw new InvalidReferenceError(ref, `bad registry host ${JSON.stringify(first)}`);
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (path === "") throw new InvalidReferenceError(ref, "missing repository name");
  for (const c of path.split("/")) {
    if (!COMPONENT.test(c)) {
      throw new InvalidReferenceError(ref, c !== c.toLowerCase() ? "repository names must be lowercase" : `bad path component ${JSON.stringify(c)}`);
    }
  }
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = `library/${path}`;
  if (tag === null && digest === null) tag = "latest";
  return { domain, path, tag, digest };
}

/** "docker.io/library/busybox" */
export function repository(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

/** The canonical tagged name "docker.io/library/busybox:latest" (null for digest-only references). */
export function taggedName(r: Reference): string | null {
  return r.tag === null ? null : `${repository(r)}:${r.tag}`;
}

/** Shortens a canonical name for display like docker: "docker.io/library/busybox:latest" -> "busybox:latest". */
export function familiarName(name: string): string {
  if (name.startsWith("docker.io/library/")) return name.slice(18);
  if (name.startsWith("docker.io/")) return name.slice(10);
  return name;
}

/** Canonical tagged name for a user-supplied reference that must carry a tag (tag, import, commit). */
export function normalizeTaggedName(ref: string): string {
  const r = parseReference(ref);
  if (r.digest) throw new InvalidReferenceError(ref, "a digest cannot be used as a new name; give NAME[:TAG]");
  return taggedName(r)!;
}

/** Splits "docker.io/library/busybox:latest" into repository and tag. */
export function splitTaggedName(name: string): { repository: string; tag: string } {
  const i = name.lastIndexOf(":");
  return { repository: name.slice(0, i), tag: name.slice(i + 1) };
}
