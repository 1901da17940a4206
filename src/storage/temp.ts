// ROOT/tmp: loads, imports and commits write blobs and unpacked layers here before one rename
// makes each visible, and a snapshot being removed passes through it. Every entry's name carries
// its writer's pid and start time (fsutil.tempPath), so any berth command can tell a dead
// command's leftovers (a load that hit a full disk, a commit killed by SIGKILL) from the work of
// one still running, which is never touched.
import * as fs from "node:fs";
import * as path from "node:path";
import { MNT_DETACH, umount } from "../sys/libc.ts";
import { ownTemp, removeTree, tempOwnerAlive, treeSize } from "./fsutil.ts";

export interface TempEntry {
  name: string;
  bytes: number;
  /** its writer is alive: a load, import or commit in progress */
  live: boolean;
}

function names(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return []; // no tmp dir yet
  }
}

/** What ROOT/tmp holds, for `system df`. */
export function tempEntries(dir: string): TempEntry[] {
  return names(dir).map((name) => ({ name, bytes: treeSize(path.join(dir, name)), live: tempOwnerAlive(name) }));
}

/** Removes the entries whose writer is dead; returns the bytes freed. Safe at any time, without a lock. */
export function removeDeadTemporaries(dir: string): number {
  let freed = 0;
  for (const name of names(dir)) {
    if (tempOwnerAlive(name)) continue;
    freed += removeEntry(path.join(dir, name));
  }
  return freed;
}

/** Removes every entry but this process's own: only for a caller that knows no other process is
 *  writing here (the image store's exclusive GC lock, which every writer holds shared). */
export function removeOtherTemporaries(dir: string): number {
  let freed = 0;
  for (const name of names(dir)) if (!ownTemp(name)) freed += removeEntry(path.join(dir, name));
  return freed;
}

function removeEntry(p: string): number {
  unmountUnder(p);
  const bytes = treeSize(p);
  removeTree(p);
  return bytes;
}

/**
 * Detaches whatever is mounted at or below p, deepest first: a killed `berth build` can leave the
 * read-only view of an image it mounted in its temp entry, and removing a mounted tree fails
 * (EROFS) — for every later writer, since they all clean tmp/ first.
 */
function unmountUnder(p: string): void {
  let info: string;
  try {
    info = fs.readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return;
  }
  // mountinfo escapes space, tab, newline and backslash as octal
  const points = info.split("\n").map((l) => (l.split(" ")[4] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === p || m.startsWith(p + "/"))
    .sort((a, b) => b.length - a.length);
  for (const m of points) {
    try {
      umount(m, MNT_DETACH);
    } catch {
      // gone meanwhile; the removal below says what is left
    }
  }
}
