// `berth pause` / `unpause`: the container's cgroup frozen and thawed. A commit pauses through
// pauseForCommit, which marks whose pause it is so that reconcile can undo it if that berth dies.
import { containerCgroup } from "./cgroup.ts";
import { recordContainerEvent } from "./events.ts";
import type { Engine } from "./handle.ts";
import { EngineError } from "./errors.ts";
import { commitPauseMark } from "./reconcile.ts";
import type { ContainerRow } from "./types.ts";

/** Freezes the container; `why` marks a pause another berth command will undo (commit). */
export function pauseContainer(engine: Engine, ref: string, why = ""): ContainerRow {
  const row = engine.find(ref);
  const v = engine.observe(row);
  if (!v.running) throw new EngineError(`Container ${row.id} is not running`);
  if (v.status === "paused") throw new EngineError(`Container ${row.id} is already paused`);
  // Recorded first: if we die between the two steps, ps says paused and reconcile can undo it.
  engine.store.update(row.id, { state: "paused", error: why });
  containerCgroup(row).freeze();
  recordContainerEvent(engine.root, "pause", row);
  return row;
}

/** Pauses for a commit by this process; reconcile thaws it if this process dies first. */
export function pauseForCommit(engine: Engine, ref: string): ContainerRow {
  return pauseContainer(engine, ref, commitPauseMark());
}

export function unpauseContainer(engine: Engine, ref: string): ContainerRow {
  const row = engine.find(ref);
  if (engine.observe(row).status !== "paused") throw new EngineError(`Container ${row.id} is not paused`);
  containerCgroup(row).thaw();
  engine.store.update(row.id, { state: "running", error: "" });
  recordContainerEvent(engine.root, "unpause", row);
  return row;
}
