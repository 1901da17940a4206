// What a killed berth left in flight, settled by the next berth command (every command runs it
// first, so this file stays light: the work it may do goes through the handle, which loads the
// teardown only when a row needs it). See README.md, "Crash safety".
import { isAlive, isRunning, processStartTime } from "../runtime/proc.ts";
import { readdirSync } from "node:fs";
import { removeDeadTemporaries } from "../storage/temp.ts";
import { exitPending } from "./monitor.ts";
import type { Engine } from "./handle.ts";

/** The error field of a container paused by a commit: this, then the committing berth's pid. */
const COMMIT_PAUSE = "paused for commit by berth pid ";

/** Who paused for a commit: pid and start time (a reused pid is not the commit that froze it). */
export function commitPauseMark(): string {
  return `${COMMIT_PAUSE}${process.pid} started ${processStartTime(process.pid) ?? "?"}`;
}

/** Whether the commit that wrote this pause mark is still running. */
function commitPauserAlive(error: string): boolean {
  const m = /^(\d+)(?: started (\d+))?/.exec(error.slice(COMMIT_PAUSE.length));
  if (!m) return false;
  return m[2] ? isAlive(Number(m[1]), m[2]) : isRunning(Number(m[1]));
}

/**
 * Settles what a killed berth left (rows in flight whose lock is free): an unfinished create is
 * rolled back (a `run` that died before its container started included), an unfinished start
 * or a dead container is finalized (removed if --rm; not while its monitor is still recording
 * how it ended), an unfinished rm completed, a container a
 * dead commit froze is thawed, and the temporaries of dead loads, imports and commits go.
 */
export async function reconcile(engine: Engine): Promise<void> {
  engine.reclaimed += removeDeadTemporaries(engine.paths.tempDir);
  removeOrphanLocks(engine);
  for (const row of engine.store.active()) {
    const live = row.pid > 0 && isAlive(row.pid, row.pidStart);
    if (row.state === "paused" && live && row.error.startsWith(COMMIT_PAUSE)) {
      // A commit froze it and died before thawing it.
      if (!commitPauserAlive(row.error)) {
        try { engine.unpause(row.id); } catch (e) { engine.warn(`thaw ${row.name} after a dead commit: ${(e as Error).message}`); }
      }
      continue;
    }
    if ((row.state === "running" || row.state === "paused" || row.state === "restarting") && live) continue;
    // Its init just died and its monitor is recording how (then its exit hook, or the foreground
    // client holding the lock, settles it): settling it now would lose the exit status.
    if ((row.state === "running" || row.state === "paused") && exitPending(row, engine.paths.exitFile(row.id))) continue;
    // An exit hook is waiting out its back-off (without the lock) and will start it again.
    if (row.state === "restarting" && Date.now() - row.finishedAt < 75_000) continue;
    const lock = engine.tryLock(row.id);
    if (!lock) continue; // someone is working on it right now
    try {
      const cur = engine.store.get(row.id);
      if (!cur) continue;
      switch (cur.state) {
        case "creating":
          await engine.teardown(cur, true);
          engine.removeLocked(cur, { volumes: true });
          break;
        case "starting": {
          const v = engine.observe(cur);
          if (v.running) engine.store.update(cur.id, { state: "running", startedAt: cur.startedAt || Date.now() });
          else {
            await engine.teardown(cur, true);
            // A --rm container whose start never completed goes, as after a failed start.
            if (cur.config.autoRemove) engine.removeLocked(cur, { volumes: true });
            else engine.store.update(cur.id, { state: cur.startedAt ? "exited" : "created", pid: 0, monitorPid: 0 });
          }
          break;
        }
        case "removing":
          await engine.teardown(cur, true);
          engine.removeLocked(cur, {});
          break;
        case "running":
        case "paused":
        case "restarting":
          // Re-read under the lock: it may have moved on since the list was taken.
          if (cur.state === "restarting" && Date.now() - cur.finishedAt < 75_000) break;
          if (!(cur.pid > 0 && isAlive(cur.pid, cur.pidStart)) && !exitPending(cur, engine.paths.exitFile(cur.id))) {
            const done = await engine.finalize(cur);
            if (done.config.autoRemove) engine.removeLocked(done, { volumes: true });
          }
          break;
        default:
          break; // at rest (created, exited): nothing to settle
      }
    } catch (e) {
      engine.warn(`reconcile ${row.name}: ${(e as Error).message}`);
    } finally {
      engine.unlock(lock, row.id);
    }
  }
}

/** Lock files of containers that have no row: a berth killed between taking a new container's
 *  lock and recording it (or between removing the row and the file). Removed only while held,
 *  and only if still rowless then; lock.ts re-opens a name whose file went meanwhile. */
function removeOrphanLocks(engine: Engine): void {
  let names: string[];
  try {
    names = readdirSync(engine.paths.locksDir);
  } catch {
    return; // no locks yet
  }
  const ids = names.filter((n) => /^[0-9a-f]{64}\.lock$/.test(n)).map((n) => n.slice(0, 64));
  if (ids.length === 0) return;
  const known = engine.store.ids();
  for (const id of ids) {
    if (known.has(id)) continue;
    const lock = engine.tryLock(id);
    if (lock) engine.unlock(lock, id); // unlock removes the file of a container that has no row
  }
}
