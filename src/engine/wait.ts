// Waiting for a container's run to end: on its exit file (the monitor writes it), or on its
// init and monitor being gone when no exit file will ever come.
import { isAlive } from "../runtime/proc.ts";
import type { Engine } from "./handle.ts";
import { EngineError } from "./errors.ts";
import { monitorAlive, waitExitFile } from "./monitor.ts";
import type { ContainerRow } from "./types.ts";

/** Waits until the container's process is gone, then settles it; returns its exit code. */
export async function waitExit(engine: Engine, id: string, signal?: AbortSignal): Promise<number> {
  let row = engine.store.get(id);
  if (!row) throw new EngineError(`no such container: ${id}`);
  if (engine.observe(row).running) await waitForRun(engine, row, signal);
  const lock = await engine.lock(id);
  try {
    row = engine.store.get(id);
    if (!row) return 0;
    if (row.state === "running" || row.state === "paused" || row.state === "restarting") row = await engine.finalize(row);
    return row.exitCode ?? 0;
  } finally {
    engine.unlock(lock, id);
  }
}

/** Resolves once the run's exit file exists (or the init is gone and no monitor will write it). */
export async function waitForRun(engine: Engine, row: ContainerRow, signal?: AbortSignal, timeoutMs?: number): Promise<void> {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal?.addEventListener("abort", onAbort);
  const timer = timeoutMs ? setTimeout(() => ac.abort(), timeoutMs) : undefined;
  // If the monitor itself is gone there will never be an exit file: poll liveness as well.
  const poll = setInterval(() => {
    if (!isAlive(row.pid, row.pidStart) && !monitorAlive(row)) ac.abort();
  }, 250);
  try {
    await waitExitFile(engine.paths.exitFile(row.id), ac.signal);
  } catch {
    if (signal?.aborted) throw new EngineError("interrupted");
  } finally {
    clearInterval(poll);
    if (timer) clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
