// `start`: releases an init that `create` left waiting on exec.fifo, then runs poststart hooks.
// Its file work goes through src/sys/rawfile.ts (no node:fs): it runs once per container start.
import type { ContainerRecord, StateStore } from "./state-store.ts";
import { statusOf, hookState } from "./status.ts";
import { isAlive } from "./proc.ts";
import { EAGAIN, EINTR, O_NONBLOCK, O_RDONLY, RawError, closeFd, openFile, readFd, removeFile, waitReadable } from "../sys/rawfile.ts";
import { runHooks } from "./hooks.ts";
import { trace } from "../sys/trace.ts";

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
  const fifoPath = `${store.dir(id)}/exec.fifo`;
  // Non-blocking open: if the init died we must not hang waiting for a writer.
  let report = ""; // after the byte: "error MSG" if a startContainer hook failed, "exec-error STATUS MSG" if execve did
  const fd = openFile(fifoPath, O_RDONLY | O_NONBLOCK);
  try {
    const buf = Buffer.alloc(1);
    // -1: nothing yet (a writer is there, or none has come); 0: end of file; 1: the byte.
    const readOnce = (): number => {
      const n = readFd(fd, buf);
      if (n === -EAGAIN || n === -EINTR) return -1;
      if (n < 0) throw new RawError("read", -n, fifoPath);
      return n;
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
    closeFd(fd);
  }
  trace("start: released, exec seen");
  const gone = removeFile(fifoPath);
  if (gone !== 0) throw new RawError("unlink", gone, fifoPath);
  // native.ts (and its node:fs) only when the init reported something.
  const failure = report.trim() ? (require("./native.ts") as typeof import("./native.ts")).initFailure(report.trim()) : null;
  if (failure) throw Object.assign(new Error(`container ${id} failed to start: ${failure.message}`), { exitCode: failure.exitCode ?? 1 });
  // A failing poststart hook fails `start` (and `run`) and stops the container: runtime-spec's
  // newer lifecycle (step 9: "generate an error, stop the container") and runc 1.2; the older spec's
  // "warn and go on" was runc 1.1's behaviour.
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
