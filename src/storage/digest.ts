// Content digests: "sha256:<64 hex>". Everything in the store is named by one of these.
import { CryptoHasher } from "bun";

export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

/** Validates a digest string from an untrusted document (manifest, index, archive path). */
export function parseDigest(s: unknown, what = "digest"): Digest {
  if (typeof s !== "string" || !DIGEST_RE.test(s)) {
    const shown = s === undefined ? "(missing)" : String(JSON.stringify(s));
    throw new Error(`invalid ${what} ${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}: expected "sha256:" followed by 64 lowercase hex digits`);
  }
  return s as Digest;
}

export function hexOf(d: Digest): string {
  return d.slice(7);
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${new CryptoHasher("sha256").update(data).digest("hex")}`;
}

/** Incremental hashing of a byte stream (the store hashes while it copies, never in a second pass). */
export class Hasher {
  private h = new CryptoHasher("sha256");
  private done: Digest | null = null;
  bytes = 0;
  update(chunk: Uint8Array): void {
    if (this.done) throw new Error("Hasher: update after digest");
    this.h.update(chunk);
    this.bytes += chunk.length;
  }
  /** Final digest; repeated calls return the same value. */
  digest(): Digest {
    this.done ??= `sha256:${this.h.digest("hex")}`;
    return this.done;
  }
}

/**
 * Chain IDs as the OCI image spec defines them: chain[0] = diff[0];
 * chain[n] = sha256(chain[n-1] + " " + diff[n]). A snapshot is keyed by the chain ID because
 * its meaning (the merged view up to it) depends on every layer beneath.
 */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : sha256(`${prev} ${d}`));
  }
  return out;
}

export class DigestMismatchError extends Error {
  constructor(readonly what: string, readonly expected: Digest, readonly actual: Digest) {
    super(`${what}: content digest is ${actual} but ${expected} was expected; the data is corrupt or was tampered with — fetch or re-save it`);
  }
}
