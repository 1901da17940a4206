// `berth system prune` (and what `container prune` reports): stopped containers removed when at
// rest, dangling images with the blobs and snapshots no image needs, unused anonymous volumes,
// and the bytes the disk got back.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { treeSize } from "../storage/fsutil.ts";
import type { Engine, PruneReport } from "./handle.ts";

/** Bytes a container's own files take (writable layer, log, exit file, /etc files): what its
 *  removal gives back. Not its image's, and not through its mounted root filesystem. */
export function diskUsage(engine: Engine, id: string): number {
  const dir = engine.paths.container(id);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  return names.filter((n) => n !== "rootfs").reduce((a, n) => a + treeSize(join(dir, n)), 0);
}

/**
 * `berth system prune`: stopped containers, dangling images (with the blobs and snapshots no image
 * needs any more), unused anonymous volumes with `volumes`, and what dead commands left in tmp/
 * (the reconcile before it removed those already: counted in `reclaimed`). Reports what the
 * disk got back. Waits for loads in progress (the image store's lock), never breaks one.
 */
export async function pruneSystem(engine: Engine, opts: { volumes?: boolean } = {}): Promise<PruneReport> {
  const containers: string[] = [];
  let bytes = 0;
  for (const v of engine.list()) {
    if (v.running || v.status === "removing") continue;
    const size = diskUsage(engine, v.row.id);
    if (!(await engine.removeIfIdle(v.row.id))) continue;
    containers.push(v.row.id);
    bytes += size;
  }
  let volumes: string[] = [];
  if (opts.volumes) {
    const sizes = new Map(engine.volumes.list().map((v) => [v.name, engine.volumes.sizeOf(v.name)]));
    volumes = engine.volumes.prune(false);
    bytes += volumes.reduce((a, n) => a + (sizes.get(n) ?? 0), 0);
  }
  const images = await engine.images.prune();
  return { containers, images: images.deleted, volumes, reclaimedBytes: bytes + images.reclaimedBytes + engine.reclaimed };
}
