// File-system helpers for crash-safe writes: data goes to a temp name, is fsynced, then renamed
// into place, and the directory is fsynced so the rename itself survives a crash.
import * as fs from "node:fs";
import * as path from "node:path";

export function fsyncPath(p: string): void {
  const fd = fs.openSync(p, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A unique name under dir, tagged with our pid so stale temp files of dead processes can be recognised. */
export function tempPath(dir: string, label: string): string {
  return path.join(dir, `${label}-${process.pid}-${randomHex(6)}`);
}

// Web Crypto rather than node:crypto: loading node:crypto costs more start-up time than the
// commands that write files spend on their work.
function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Writes data to path atomically: readers see the old file or the complete new one, never a torn one. */
export function writeFileAtomic(p: string, data: string | Uint8Array, tmpDir = path.dirname(p)): void {
  const tmp = tempPath(tmpDir, ".tmp-" + path.basename(p));
  const fd = fs.openSync(tmp, "wx", 0o644);
  try {
    fs.writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, p);
  fsyncPath(path.dirname(p));
}

export function removeTree(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

export function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** True when a process with this pid is alive (used to tell stale temp entries from live ones). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid encoded by tempPath() in a temp entry's name, or null. */
export function tempOwner(name: string): number | null {
  const m = /-(\d+)-[0-9a-f]{12}$/.exec(name);
  return m ? Number(m[1]) : null;
}
