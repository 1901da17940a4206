// Foreground `run` and `start -a`: the container started, the caller's attach session waited
// for, the container settled (and removed with --rm), all under one hold of its lock.
import { trace } from "../sys/trace.ts";
import type { Engine, RunAttachedOptions } from "./handle.ts";
import { waitForRun } from "./wait.ts";

/**
 * Foreground `run`/`start -a`: start, wait for `untilExit` (the attach session ending), settle
 * the container (and remove it with --rm) while holding its lock throughout, so no other berth
 * settles it underneath us. Returns the container's exit code.
 */
export async function runAttached(engine: Engine, id: string, opts: RunAttachedOptions): Promise<number | "detached"> {
  const lock = await engine.lock(id);
  try {
    let row = await engine.startLocked(id, opts);
    // Detached (ctrl-p ctrl-q): the container runs on; its exit hook or a later command settles it.
    if ((await opts.untilExit(row)) === "detached") return "detached";
    trace("run: exited");
    if (engine.observe(row).running) await waitForRun(engine, row);
    row = await engine.finalize(engine.store.get(id)!);
    trace("run: finalized");
    if (row.config.autoRemove) {
      engine.store.update(id, { state: "removing" });
      engine.removeLocked(row, { volumes: true });
    }
    return row.exitCode ?? 0;
  } finally {
    engine.unlock(lock, id);
  }
}
