// Removing a finished container's groups the cheap way: one rmdir per directory its create
// recorded (CgroupManager.paths()), without this package's manager, the host's mounts or node:fs
// (the runtime's delete runs once per container). Only empty groups go this way; the kernel
// refuses the rest (EBUSY: processes, ENOTEMPTY: sub-groups) and CgroupManager.destroy() takes over.
import { ENOENT, removeDir } from "../sys/rawfile.ts";

/** Where groups go when a container names no cgroupsPath: /berth/ID in each hierarchy. */
export const DEFAULT_PARENT = "berth";

/**
 * rmdir of each group directory, then of its default parent (/berth) when that was the last one
 * in it, as destroy() does. True when every directory is gone; false when one is still there
 * (the caller then runs destroy(), which finds the removed ones gone already).
 */
export function removeEmptyGroups(dirs: Record<string, string>): boolean {
  let done = true;
  for (const dir of new Set(Object.values(dirs))) {
    const err = removeDir(dir);
    if (err === ENOENT) continue;
    if (err !== 0) {
      done = false;
      continue;
    }
    const parent = dir.slice(0, dir.lastIndexOf("/"));
    // Still in use by another container (EBUSY/ENOTEMPTY) or gone: either way nothing to do.
    if (parent.endsWith(`/${DEFAULT_PARENT}`)) removeDir(parent);
  }
  return done;
}
