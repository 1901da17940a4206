// `berth rm`: a stopped container (or, with force, a killed one) torn down and deleted: its
// files, its row, and with volumes its anonymous volumes; prune's removal of one at rest.
import { recordContainerEvent } from "./events.ts";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { containerCgroup } from "./cgroup.ts";
import { unmountAllBelow, unmountContainerRootfs } from "../storage/overlay.ts";
import { replenishReserve } from "../storage/space.ts";
import { kill } from "../sys/libc.ts";
import type { Engine } from "./handle.ts";
import { EngineError } from "./errors.ts";
import { overlayMounted } from "./teardown.ts";
import type { ContainerRow } from "./types.ts";

const SIGKILL = 9;

export async function removeContainer(engine: Engine, ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<ContainerRow> {
  const found = engine.find(ref);
  if (opts.force && engine.observe(found).running) {
    // Kill before taking the lock: a foreground client holds it until its container ends.
    engine.store.update(found.id, { stoppedByUser: true });
    try { containerCgroup(found).killAll(SIGKILL); } catch { /* fall back to the init */ }
    kill(found.pid, SIGKILL);
  }
  const lock = await engine.lock(found.id);
  try {
    const row = engine.store.get(found.id);
    if (!row) throw new EngineError(`no such container: ${ref}`);
    const view = engine.observe(row);
    if (view.running && !opts.force) {
      throw new EngineError(`You cannot remove a ${view.status} container ${row.id}. Stop the container before attempting removal or force remove`);
    }
    engine.store.update(row.id, { state: "removing", stoppedByUser: true });
    await engine.teardown(row, true);
    removeLocked(engine, row, opts);
    replenishReserve(engine.root); // the disk may have been full: room for the next time
    return row;
  } finally {
    engine.unlock(lock, found.id);
  }
}

/**
 * prune's removal: the container goes only if it is at rest — stopped, and no other berth is
 * working on it (its lock is free). A container a live `run` is creating or starting (it holds
 * the lock until its container is done) is left alone, as is one that started meanwhile.
 * Returns whether it was removed.
 */
export async function removeIfIdle(engine: Engine, id: string, opts: { volumes?: boolean } = {}): Promise<boolean> {
  const lock = engine.tryLock(id);
  if (!lock) return false;
  try {
    const row = engine.store.get(id);
    if (!row || (row.state !== "created" && row.state !== "exited" && row.state !== "dead") || engine.observe(row).running) return false;
    engine.store.update(row.id, { state: "removing", stoppedByUser: true });
    await engine.teardown(row, true);
    removeLocked(engine, row, opts);
    replenishReserve(engine.root);
    return true;
  } finally {
    engine.unlock(lock, id);
  }
}

/** Deletes the container's files, anonymous volumes (with volumes), image hold and row. */
export function removeLocked(engine: Engine, row: ContainerRow, opts: { volumes?: boolean }): void {
  const dir = engine.paths.container(row.id);
  // Never delete through a mount: the root filesystem (an overlay has a device of its own),
  // then anything else still mounted in the directory (an idmapped bind of the image layers
  // left by a berth killed mid-start would otherwise let rmSync delete the image store's files).
  if (overlayMounted(join(dir, "rootfs"))) unmountContainerRootfs(dir);
  unmountAllBelow(dir);
  rmSync(dir, { recursive: true, force: true });
  engine.store.remove(row.id);
  if (opts.volumes) {
    for (const m of row.config.mounts) {
      if (m.kind !== "volume") continue;
      const v = engine.store.volume(m.source);
      if (v?.anonymous && engine.volumes.users(v.name).length === 0) engine.volumes.remove(v.name, true);
    }
  }
  rmSync(engine.paths.lock(row.id), { force: true });
  recordContainerEvent(engine.root, "destroy", row);
}
