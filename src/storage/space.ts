// Headroom on the state root's file system, so that a full disk never locks berth out of the
// commands that free space (ps, rm, rmi, prune, system reset).
//
// Why they failed: SQLite needs free blocks to open a WAL database whose shared-memory index
// (-shm, 32 KiB) is gone — the last connection closed it cleanly, as the network store does after
// every use and a process that closes its stores does — and it writes a byte into every page of a
// new -shm (so that touching the mapping can never SIGBUS), which fails with ENOSPC: SQLITE_IOERR,
// "disk I/O error". A write must append to the WAL: SQLITE_FULL, "database or disk is full".
// Opening read-only does not help (a WAL reader needs the -shm as well), so berth keeps room:
//  1. before opening a database on a nearly full file system, the leftovers of dead commands in
//     ROOT/tmp go first (a load that hit ENOSPC and died, a killed commit);
//  2. if that is not enough, the reserve file (ROOT/reserve, RESERVE_BYTES) is given back: room
//     that only berth can release, enough for the databases' indexes and a few WAL pages;
//  3. once there is room again, the reserve is made anew: when a database is opened, and by the
//     commands that free space as they finish (replenishReserve), so that the next full disk
//     finds it in place.
import * as fs from "node:fs";
import * as path from "node:path";
import { tempPath } from "./fsutil.ts";
import { removeDeadTemporaries } from "./temp.ts";

export const RESERVE_BYTES = 1 << 20;
/** Less free than this: the disk counts as full for a database (3 -shm files and a WAL's worth of pages fit in it). */
const SHORT_BELOW = RESERVE_BYTES;
/** The reserve is remade only with this much free: what stays free after it is not "short", so a
 *  nearly full disk does not make and give it back by turns. */
const REMAKE_ABOVE = 2 * RESERVE_BYTES;

export function reservePath(root: string): string {
  return path.join(root, "reserve");
}

function freeBytes(root: string): number | null {
  try {
    const s = fs.statfsSync(root);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

/**
 * Called before opening a database under root (cheap: one statfs, one stat). Returns the bytes of
 * dead commands' temporaries it removed (not the reserve: berth's own), for the commands that
 * report what they reclaimed.
 */
export function ensureHeadroom(root: string): number {
  const free = freeBytes(root);
  if (free === null) return 0;
  const reserve = reservePath(root);
  if (free >= SHORT_BELOW) {
    if (free > REMAKE_ABOVE && !fs.existsSync(reserve)) makeReserve(root);
    return 0;
  }
  const freed = removeDeadTemporaries(path.join(root, "tmp"));
  if ((freeBytes(root) ?? 0) < SHORT_BELOW) fs.rmSync(reserve, { force: true });
  return freed;
}

/** After freeing space: the reserve back in place if it was given away and there is room now. */
export function replenishReserve(root: string): void {
  if (fs.existsSync(reservePath(root))) return;
  const free = freeBytes(root);
  if (free !== null && free > REMAKE_ABOVE) makeReserve(root);
}

/** Writes the reserve under a temp name and renames it into place: a killed writer leaves a dead
 *  temporary (removed as any other), never a short reserve. Real blocks, not a sparse file. */
function makeReserve(root: string): void {
  const dir = path.join(root, "tmp");
  let tmp = "";
  try {
    fs.mkdirSync(dir, { recursive: true });
    tmp = tempPath(dir, "reserve");
    const fd = fs.openSync(tmp, "wx", 0o600);
    try {
      const zeros = new Uint8Array(64 << 10);
      for (let off = 0; off < RESERVE_BYTES; off += zeros.length) fs.writeSync(fd, zeros);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, reservePath(root));
  } catch {
    // No room after all, or a read-only root: berth works without a reserve.
    if (tmp) fs.rmSync(tmp, { force: true });
  }
}
