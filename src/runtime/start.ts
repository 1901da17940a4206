// `start`: releases an init that `create` left waiting on exec.fifo, then runs poststart hooks.
import { closeSync, openSync, readSync, unlinkSync, constants } from "node:fs";
import { join } from "node:path";
import type { ContainerRecord, StateStore } from "./state-store.ts";
import { statusOf, hookState } from "./status.ts";
import { isAlive } from "./proc.ts";
import { waitReadable } from "../sys/libc.ts";
import { runHooks } from "./hooks.ts";
import { trace } from "../sys/trace.ts";
import { initFailure } from "./native.ts";

/** `known`: the container's record as create returned it, when the caller has it (the engine, in
 *  the same process): saves reading and parsing state.json again. */
export async function startContainer(store: StateStore, id: string, warn: (msg: string) => void, known?: ContainerRecord): Promise<void> {
  const rec = known ?? store.read(id);
  const status = statusOf(store, rec);
  trace("start: state read");
  if (status !== "created") {
    // runc's words first (callers such as containerd's shim and runc's tests match them).
    throw new Error(status === "stopped" ? `cannot start a container that has stopped (${id}: delete it and create it again)` : `cannot start an already ${status} container (${id})`);
  }
  const fifoPath = join(store.dir(id), "exec.fifo");
  // Non-blocking open: if the init died we must not hang waiting for a writer.
  let report = ""; // after the byte: "error MSG" if a startContainer hook failed, "exec-error STATUS MSG" if execve did
  const fd = openSync(fifoPath, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(1);
    // -1: nothing yet (a writer is there, or none has come); 0: end of file; 1: the byte.
    const readOnce = (): number => {
      try {
        return readSync(fd, buf);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
        return -1;
      }
    };
    let released = false;
    for (;;) {
      const n = readOnce();
      if (n === 1 && released) report += buf.toString("latin1");
      else if (n === 1) released = true;
      // After the byte, end of file means the init's copy of the fifo closed at execve (or it died):
      // the user's process has started, so poststart hooks may run now.
      else if (n === 0 && released) break;
      else if (!isAlive(rec.pid, rec.pidStartTime)) {
        // A short-lived process may have passed the fifo and exited already: its byte is still there.
        if (!released && readOnce() === 1) released = true;
        if (released) {
          while (readOnce() === 1) report += buf.toString("latin1");
          break;
        }
        throw new Error(`cannot start container ${id}: its init exited before start`);
      }
      // Sleep until the init writes or closes its end (bounded, to re-check that it lives).
      waitReadable(fd, 50);
    }
  } finally {
    closeSync(fd);
  }
  trace("start: released, exec seen");
  unlinkSync(fifoPath);
  const failure = initFailure(report.trim());
  if (failure) throw Object.assign(new Error(`container ${id} failed to start: ${failure.message}`), { exitCode: failure.exitCode ?? 1 });
  // runc 1.2: a failing poststart hook fails `start` (and `run`), and the container's process is
  // killed first (runtime-spec's "warn and go on" was runc 1.1's behaviour).
  try {
    await runHooks("poststart", rec.config.hooks?.poststart, hookState(store, rec, "running"));
  } catch (e) {
    if (isAlive(rec.pid, rec.pidStartTime)) {
      try {
        process.kill(rec.pid, "SIGKILL");
      } catch (k) {
        warn(`error running poststart hook: killing pid ${rec.pid}: ${(k as Error).message}`);
      }
    }
    throw e;
  }
}
