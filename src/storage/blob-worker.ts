// Worker thread for big blobs: hashes and writes the bytes while the main thread unpacks the
// same bytes, so a layer costs max(hash+store, unpack) rather than their sum. Chunks arrive as
// views of SharedArrayBuffers (no copy); the main thread owns the fd and closes it after our reply.
import * as fs from "node:fs";
import { CryptoHasher } from "bun";

declare const self: Worker;

export type BlobWorkerRequest =
  | { op: "open"; id: number; fd: number }
  | { op: "data"; id: number; chunk: Uint8Array; ack?: number }
  | { op: "close"; id: number }
  | { op: "abort"; id: number };

export type BlobWorkerReply =
  | { op: "ack"; id: number; ack: number }
  | { op: "closed"; id: number; digest: string; size: number; error: string | null }
  | { op: "aborted"; id: number };

interface Job {
  fd: number;
  hash: CryptoHasher;
  size: number;
  error: string | null;
}
const jobs = new Map<number, Job>();

self.onmessage = (ev: MessageEvent<BlobWorkerRequest>) => {
  const m = ev.data;
  switch (m.op) {
    case "open":
      jobs.set(m.id, { fd: m.fd, hash: new CryptoHasher("sha256"), size: 0, error: null });
      return;
    case "data": {
      const j = jobs.get(m.id);
      if (j && j.error === null) {
        try {
          j.hash.update(m.chunk);
          let off = 0;
          // fd -1: a hash-only job (the diff ID of a compressed layer)
          while (j.fd >= 0 && off < m.chunk.length) off += fs.writeSync(j.fd, m.chunk, off, m.chunk.length - off);
          j.size += m.chunk.length;
        } catch (e) {
          j.error = (e as Error).message;
        }
      }
      if (m.ack !== undefined) self.postMessage({ op: "ack", id: m.id, ack: m.ack } satisfies BlobWorkerReply);
      return;
    }
    case "close": {
      const j = jobs.get(m.id);
      jobs.delete(m.id);
      if (j) self.postMessage({ op: "closed", id: m.id, digest: `sha256:${j.hash.digest("hex")}`, size: j.size, error: j.error } satisfies BlobWorkerReply);
      return;
    }
    case "abort":
      jobs.delete(m.id);
      self.postMessage({ op: "aborted", id: m.id } satisfies BlobWorkerReply);
      return;
  }
};
