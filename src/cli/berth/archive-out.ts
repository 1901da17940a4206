// Where `berth save` and `berth export` write their tar stream: to FILE through a temporary name
// in the same directory, renamed when complete (a failed write leaves no truncated archive, as
// docker's CopyToFile does), or to stdout, which must not be a terminal. A FILE that exists and is
// no regular file (/dev/null, a FIFO) is written in place: renaming over it would replace it.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UsageError } from "../../engine/errors.ts";

function tempName(target: string): string {
  const rand = [...crypto.getRandomValues(new Uint8Array(6))].map((b) => b.toString(16).padStart(2, "0")).join("");
  return join(dirname(target), `.${basename(target)}-${process.pid}-${rand}`);
}

/** Writes chunks to fd, waiting out EAGAIN on a non-blocking pipe; stops when the reader is gone (EPIPE). */
async function writeAll(fd: number, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const c of chunks) {
    let off = 0;
    while (off < c.length) {
      try {
        off += writeSync(fd, c, off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EPIPE") return;
        if (code !== "EAGAIN") throw e;
        await Bun.sleep(1);
      }
    }
  }
}

/** The archive to FILE, or to stdout when output is undefined or "-". */
export async function writeArchive(chunks: AsyncIterable<Uint8Array>, output: string | undefined): Promise<void> {
  if (output === undefined || output === "-") {
    if (process.stdout.isTTY) throw new UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    return writeAll(1, chunks);
  }
  const target = resolve(output);
  let special = false;
  try {
    special = !statSync(target).isFile();
  } catch {
    // not there yet
  }
  if (special) {
    const fd = openSync(target, "w");
    try {
      return await writeAll(fd, chunks);
    } finally {
      closeSync(fd);
    }
  }
  const tmp = tempName(target);
  const fd = openSync(tmp, "wx", 0o644);
  try {
    await writeAll(fd, chunks);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, target);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}
