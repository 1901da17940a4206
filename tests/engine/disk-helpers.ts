// Shared by disk-full.test.ts and killed.test.ts: state roots on a small file system of their own,
// archives made of random data (they do not compress, and they take time to load), killing berth
// mid-command, and what a root holds of temporaries.
import { Database } from "bun:sqlite";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeImageStore, openImageStore } from "../../src/image/store.ts";
import { rootfsImporter } from "../../src/image/importers.ts";
import { normalizeTaggedName } from "../../src/image/reference.ts";
import { BERTH, berth, busyboxRootfs, mountsUnder, type Result } from "./helpers.ts";

/** A tmpfs of `mb` megabytes mounted on a fresh directory; umount() in cleanup. */
export function smallFs(mb: number): { dir: string; umount: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "berth-smallfs-"));
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${mb}m`, "tmpfs", dir]);
  if (r.exitCode !== 0) throw new Error(`mount tmpfs: ${r.stderr.toString()}`);
  return {
    dir,
    umount: () => {
      for (const m of mountsUnder(dir).reverse()) Bun.spawnSync(["umount", "-l", m]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** helpers.berth, with its output files in `outDir` rather than in the root: on a full file
 *  system they could not be written (and what berth printed would be lost). */
export function berthAt(root: string, args: string[], outDir: string, env: Record<string, string> = {}): Result {
  return berth(root, args, { outDir, env });
}

/** Imports busybox (and optionally a file of random bytes) as `name` into root, in-process; the
 *  store is closed afterwards, which removes its -wal and -shm (as any clean close does). */
export async function importImage(root: string, name: string, randomBytes = 0): Promise<void> {
  const src = mkdtempSync(join(tmpdir(), "berth-src-"));
  try {
    busyboxRootfs(src);
    if (randomBytes) writeRandom(join(src, "random.bin"), randomBytes);
    const store = openImageStore(root);
    try {
      await rootfsImporter(src).run(store, { names: [normalizeTaggedName(name)], changes: ['CMD ["sh"]'] });
    } finally {
      closeImageStore(root);
    }
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}

export function writeRandom(path: string, bytes: number): void {
  const fd = openSync(path, "w");
  try {
    const chunk = new Uint8Array(1 << 20);
    for (let done = 0; done < bytes; done += chunk.length) {
      crypto.getRandomValues(chunk.subarray(0, 65536));
      for (let i = 65536; i < chunk.length; i += 65536) chunk.copyWithin(i, 0, 65536);
      chunk[0] = done & 0xff; // no two megabytes alike
      writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
    }
  } finally {
    closeSync(fd);
  }
}

/** A docker-archive (berth save) of busybox plus `randomBytes` of random data, written to `file`. */
export async function randomArchive(file: string, randomBytes: number, name = "big:latest"): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "berth-archive-"));
  try {
    await importImage(work, name, randomBytes);
    const r = berth(work, ["save", "-o", file, name]);
    if (r.code !== 0) throw new Error(`save: ${r.stderr}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Fills the file system under dir to the last block (files dir/pad-N, until ENOSPC). */
export function fillUp(dir: string): void {
  const chunk = new Uint8Array(64 << 10);
  for (let n = 0; ; n++) {
    const p = join(dir, `pad-${n}`);
    if (existsSync(p)) continue;
    const fd = openSync(p, "w");
    try {
      for (;;) writeSync(fd, chunk, 0, chunk.length);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
    } finally {
      closeSync(fd);
    }
    // the last partial chunk: write what still fits, a page at a time
    const fd2 = openSync(p, "a");
    try {
      for (;;) writeSync(fd2, chunk, 0, 4096);
    } catch { /* full */ } finally {
      closeSync(fd2);
    }
    return;
  }
}

export function unpad(dir: string): void {
  for (const n of readdirSync(dir)) if (n.startsWith("pad-")) rmSync(join(dir, n));
}

/**
 * The worst case for opening SQLite on a full disk: every database of the root closed cleanly
 * (which deletes its -wal and -shm), so the next opener has to create the -shm anew. The WAL is
 * checkpointed first, while there is room, so that the close needs none.
 */
export function closeDatabases(root: string): void {
  for (const f of ["containers.db", "images.db", "network/network.db"]) {
    const p = join(root, f);
    if (!existsSync(p)) continue;
    const db = new Database(p);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
  }
}

/** Names in ROOT/tmp. */
export function temps(root: string): string[] {
  try {
    return readdirSync(join(root, "tmp"));
  } catch {
    return [];
  }
}

/** Bytes under a directory (apparent sizes). */
export function sizeOf(p: string): number {
  const out = Bun.spawnSync(["du", "-sb", p]).stdout.toString();
  return Number(out.split("\t")[0] ?? 0);
}

/** "Total reclaimed space: 12.3MB" → bytes (docker's units: powers of 1000). */
export function reclaimed(stdout: string): number {
  const m = /Total reclaimed space: ([\d.]+)(B|kB|MB|GB)/.exec(stdout);
  if (!m) throw new Error(`no reclaimed space in: ${stdout}`);
  return Number(m[1]) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[m[2] as "B"];
}

/** Starts `berth --root root ARGS…` and SIGKILLs it once `when()` holds or after `ms` (whichever first). */
export async function killDuring(root: string, args: string[], ms: number, when: () => boolean = () => false, stdin?: string): Promise<void> {
  const p = Bun.spawn([BERTH, "--root", root, ...args], { stdio: [stdin ? Bun.file(stdin) : "ignore", "ignore", "ignore"] });
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !when() && p.exitCode === null) await Bun.sleep(2);
  p.kill(9);
  await p.exited;
}

