// Starting the C core (build/berth-init) and speaking its line protocol on fds 3 and 4
// (see native/PLAN.md): "pid N", "ready", "started", "error MSG", "exec-error STATUS MSG" from it;
// "go STATE" to it.
import { closeSync, existsSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BUILD_DIR } from "../sys/build-dir.ts";
import type { Subprocess } from "bun";
import { waitReadable } from "../sys/libc.ts";

export const INIT_BINARY = process.env.BERTH_INIT ?? join(BUILD_DIR, "berth-init");

export class InitError extends Error {
  /** Set when the container's command could not be started: 127 when it does not exist, 126 when
   *  it cannot be run. The C core decides it from errno (native/command-status.h), the one rule. */
  constructor(message: string, readonly exitCode?: 126 | 127) {
    super(message);
  }
}

/** An "error MSG" or "exec-error STATUS MSG" line as an InitError; null for any other line. */
export function initFailure(line: string): InitError | null {
  if (line.startsWith("error ")) return new InitError(line.slice(6));
  const m = /^exec-error (126|127) ([^]*)$/.exec(line);
  return m ? new InitError(m[2]!, Number(m[1]) as 126 | 127) : null;
}

export interface InitProcess {
  proc: Subprocess;
  /** Next message line, or null when the C side closed its end. */
  next(): string | null;
  send(line: string): void;
  closeControl(): void;
}

export type Stdio = "inherit" | "ignore" | number;

/** `prefix` wraps berth-init in another program (the engine's monitor), which must pass fds 3
 *  and 4 through untouched. */
export function startInit(mode: "create" | "exec", planPath: string, flags: string[], stdio: [Stdio, Stdio, Stdio] = ["inherit", "inherit", "inherit"], prefix: string[] = [], preserveFds = 0): InitProcess {
  if (!existsSync(INIT_BINARY)) throw new InitError(`${INIT_BINARY} is missing; build it with: npm run build`);
  // Preserved fds keep their numbers (3..3+N-1); the control pipes come right after them.
  const preserved = Array.from({ length: preserveFds }, (_, i) => 3 + i);
  const out = 3 + preserveFds, inn = 4 + preserveFds;
  const proc = Bun.spawn({
    cmd: [...prefix, INIT_BINARY, mode, planPath, ...flags, ...(preserveFds ? ["--control-fds", `${out},${inn}`] : [])],
    stdio: [...stdio, ...preserved, "pipe", "pipe"],
  });
  const fromInit = proc.stdio[out] as unknown as number;
  const toInit = proc.stdio[inn] as unknown as number;
  let buffered = "";
  let closed = false, controlClosed = false;
  const chunk = Buffer.alloc(65536);
  return {
    proc,
    next() {
      for (;;) {
        const nl = buffered.indexOf("\n");
        if (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          return line;
        }
        if (closed) return null;
        let n: number;
        try {
          n = readSync(fromInit, chunk);
        } catch (e) {
          // The pipe is non-blocking: sleep in poll(2) until the C side writes, never spin.
          if ((e as NodeJS.ErrnoException).code === "EAGAIN") { waitReadable(fromInit, -1); continue; }
          throw e;
        }
        if (n === 0) { closed = true; continue; }
        buffered += chunk.toString("utf8", 0, n);
      }
    },
    send(line: string) {
      try {
        writeSync(toInit, line + "\n");
      } catch (e) {
        // The C side failed and left: the reason is waiting on the other pipe for the next read.
        if ((e as NodeJS.ErrnoException).code !== "EPIPE") throw e;
      }
    },
    closeControl() {
      // Once only: a second close could hit an fd number reused since (Bun's own, say).
      if (controlClosed) return;
      controlClosed = true;
      for (const fd of [fromInit, toInit]) {
        try { closeSync(fd); } catch { /* already closed */ }
      }
    },
  };
}

/** Reads the next message and insists it starts with `expect`; a failure becomes an InitError. */
export function expectMessage(init: InitProcess, expect: string): string {
  const line = init.next();
  if (line === null) throw new InitError("the container's init exited without saying why");
  const failure = initFailure(line);
  if (failure) throw failure;
  if (!line.startsWith(expect)) throw new InitError(`unexpected message from init: ${line}`);
  return line.slice(expect.length).trim();
}
