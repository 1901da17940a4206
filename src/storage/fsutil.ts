// File-system helpers for crash-safe writes: data goes to a temp name, is fsynced, then renamed
// into place, and the directory is fsynced so the rename itself survives a crash.
import * as fs from "node:fs";
import * as path from "node:path";
import { isAlive, isRunning, processStartTime } from "../sys/proc.ts";

export function fsyncPath(p: string): void {
  const fd = fs.openSync(p, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A unique name under dir, tagged with our pid and its start time, so that the temp files of a
 *  dead process can be told from a live one's even after its pid was reused (see tempOwnerAlive). */
export function tempPath(dir: string, label: string): string {
  return path.join(dir, `${label}-${process.pid}.${selfStart()}-${randomHex(6)}`);
}

let ownStart: string | undefined;
function selfStart(): string {
  return (ownStart ??= processStartTime(process.pid) ?? "0");
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

/** The process encoded by tempPath() in a temp entry's name (start time null in names made before
 *  it was recorded), or null for a name tempPath did not make. */
export function tempOwner(name: string): { pid: number; start: string | null } | null {
  const m = /-(\d+)(?:\.(\d+))?-[0-9a-f]{12}$/.exec(name);
  return m ? { pid: Number(m[1]), start: m[2] ?? null } : null;
}

/** Whether the process that made a temp entry may still be writing it: its pid with the recorded
 *  start time is alive (without a start time, any process with that pid counts: never a live
 *  writer's entry taken for a dead one's). A name tempPath did not make has no live owner. */
export function tempOwnerAlive(name: string): boolean {
  const o = tempOwner(name);
  if (!o) return false;
  if (o.pid === process.pid) return o.start === null || o.start === selfStart();
  return o.start === null ? isRunning(o.pid) : isAlive(o.pid, o.start);
}

/** Whether this process made the temp entry (tempPath). */
export function ownTemp(name: string): boolean {
  const o = tempOwner(name);
  return o !== null && o.pid === process.pid && (o.start === null || o.start === selfStart());
}

/** Bytes in a file or a tree (apparent sizes, as du --apparent-size; links not followed). */
export function treeSize(p: string): number {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return 0; // vanished
  }
  if (!st.isDirectory()) return st.size;
  let total = 0;
  let names: string[];
  try {
    names = fs.readdirSync(p);
  } catch {
    return 0;
  }
  for (const n of names) total += treeSize(path.join(p, n));
  return total;
}
