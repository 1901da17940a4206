// The command line's output: synchronous writes that survive a non-blocking pipe, so that
// main's final process.exit never cuts off buffered output. Kept apart from the verbs so that
// `berth --version` and `--help` load nothing else.
// node:fs on first write: `--version` and `--help` answer without it (see main.ts).
const writeSync = (fd: number, data: Uint8Array, offset: number): number =>
  (require("node:fs") as typeof import("node:fs")).writeSync(fd, data, offset);

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Writes all of `data` to fd, waiting out EAGAIN on a non-blocking pipe. */
export function writeFully(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") { Bun.sleepSync(1); continue; }
      if (code === "EPIPE") return;
      throw e;
    }
  }
}

export const stdio: Io = {
  out: (s) => writeFully(1, Buffer.from(s)),
  err: (s) => writeFully(2, Buffer.from(s)),
};
