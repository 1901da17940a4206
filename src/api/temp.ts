// Private temporary directories for uploads (docker cp, load, import) and copies out. Each name
// carries this process's pid and start time (storage/fsutil's tempPath), so a service killed
// mid-upload leaves nothing for good: the next service removes the dead ones at start.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tempOwner, tempOwnerAlive, tempPath } from "../storage/fsutil.ts";

const PREFIX = "berth-api-";

/** A new private directory (0700) under the system's temp dir. */
export function apiTempDir(label: string): string {
  const dir = tempPath(tmpdir(), `${PREFIX}${label}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** Removes what dead services left (names apiTempDir made, whose writer is gone); a live one's,
 *  and anything else, stay. */
export function removeDeadApiTemps(): void {
  let names: string[] = [];
  try { names = readdirSync(tmpdir()); } catch { return; }
  for (const n of names) {
    if (n.startsWith(PREFIX) && tempOwner(n) !== null && !tempOwnerAlive(n)) rmSync(join(tmpdir(), n), { recursive: true, force: true });
  }
}
