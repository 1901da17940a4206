// Unpacked layers: <root>/snapshots/<chain id hex>/{diff/,info.json}. A snapshot appears by one
// rename of a fully written temp dir, so it either exists complete or not at all; the loser of
// two concurrent publishes of the same chain ID simply drops its copy.
import * as fs from "node:fs";
import * as path from "node:path";
import { type Digest, hexOf, isDigest } from "./digest.ts";
import { removeTree, tempPath } from "./fsutil.ts";
import type { UnpackStats } from "./unpack.ts";

export interface SnapshotInfo {
  chainId: Digest;
  diffId: Digest;
  parent: Digest | null;
  /** bytes of file content in this layer (as unpacked) */
  size: number;
  entries: number;
  created: string;
}

export interface PreparedSnapshot {
  tmp: string;   // the temp directory that will be renamed
  diff: string;  // unpack here
}

export class SnapshotStore {
  readonly dir: string;

  constructor(readonly root: string, readonly tmpDir: string) {
    this.dir = path.join(root, "snapshots");
    fs.mkdirSync(this.dir, { recursive: true });
    fs.mkdirSync(tmpDir, { recursive: true });
  }

  path(chainId: Digest): string {
    return path.join(this.dir, hexOf(chainId));
  }

  diffDir(chainId: Digest): string {
    return path.join(this.path(chainId), "diff");
  }

  has(chainId: Digest): boolean {
    return fs.existsSync(path.join(this.path(chainId), "info.json"));
  }

  info(chainId: Digest): SnapshotInfo | null {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.path(chainId), "info.json"), "utf8")) as SnapshotInfo;
    } catch {
      return null;
    }
  }

  list(): Digest[] {
    return fs.readdirSync(this.dir).map((h) => `sha256:${h}`).filter(isDigest) as Digest[];
  }

  /** A fresh private directory to unpack a layer into. */
  prepare(): PreparedSnapshot {
    const tmp = tempPath(this.tmpDir, "snap");
    fs.mkdirSync(tmp, 0o700);
    const diff = path.join(tmp, "diff");
    fs.mkdirSync(diff, 0o755);
    return { tmp, diff };
  }

  /** Renames a prepared dir into place. Returns false when the snapshot already existed (ours is dropped). */
  publish(p: PreparedSnapshot, info: SnapshotInfo): boolean {
    fs.writeFileSync(path.join(p.tmp, "info.json"), JSON.stringify(info));
    fs.chmodSync(p.tmp, 0o755);
    try {
      fs.renameSync(p.tmp, this.path(info.chainId));
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") {
        removeTree(p.tmp);
        return false;
      }
      throw e;
    }
  }

  discard(p: PreparedSnapshot): void {
    removeTree(p.tmp);
  }

  /** Removes a snapshot: first renamed away (atomic disappearance), then deleted. */
  remove(chainId: Digest): void {
    const gone = tempPath(this.tmpDir, "rm");
    try {
      fs.renameSync(this.path(chainId), gone);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    removeTree(gone);
  }
}

export function snapshotInfo(chainId: Digest, diffId: Digest, parent: Digest | null, stats: UnpackStats | null): SnapshotInfo {
  return { chainId, diffId, parent, size: stats?.bytes ?? 0, entries: stats?.entries ?? 0, created: new Date().toISOString() };
}
