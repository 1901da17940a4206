// Restart policies: the monitor's exit hook (`berth internal exit ID`) settles a container that
// ended and removes it (--rm) or starts it again per policy, with docker's back-off; and
// `berth start --all` at boot.
import type { Engine } from "./handle.ts";
import type { ContainerRow } from "./types.ts";

/** `berth internal exit ID`, run by the monitor once the container ended: settle, then --rm or restart. */
export async function onExit(engine: Engine, id: string): Promise<void> {
  let delay = 0;
  // Removed already (rm -f kills, then removes): taking the lock would recreate its file.
  if (!engine.store.get(id)) return;
  const lock = await engine.lock(id);
  try {
    let row = engine.store.get(id);
    if (!row) return; // removed while we waited (unlock drops the lock file)
    // A newer run may already be going (restart, start): this hook belonged to an older one.
    if (engine.observe(row).running) return;
    if (row.state === "running" || row.state === "paused" || row.state === "restarting") row = await engine.finalize(row);
    if (row.state !== "exited") return;
    if (row.config.autoRemove) {
      engine.store.update(id, { state: "removing" });
      await engine.teardown(row);
      engine.removeLocked(row, { volumes: true });
      return;
    }
    if (!shouldRestart(row)) return;
    engine.store.update(id, { state: "restarting", restartCount: row.restartCount + 1 });
    // docker's back-off: 100 ms doubling per consecutive quick restart, at most 1 minute
    delay = row.finishedAt - row.startedAt > 10_000 ? 100 : Math.min(60_000, 100 * 2 ** Math.min(row.restartCount, 10));
  } finally {
    engine.unlock(lock, id);
  }
  // Wait without the lock, so `stop` or `rm` can cancel the restart meanwhile.
  await Bun.sleep(delay);
  const again = await engine.lock(id);
  try {
    const cur = engine.store.get(id);
    if (!cur || cur.state !== "restarting") return;
    if (cur.stoppedByUser) {
      engine.store.update(id, { state: "exited" });
      return;
    }
    await engine.startLocked(id, {}, true);
  } finally {
    engine.unlock(again, id);
  }
}

/** `berth start --all` at boot: every container whose policy says it should be running. */
export async function startAll(engine: Engine): Promise<{ started: string[]; failed: { name: string; error: string }[] }> {
  const started: string[] = [];
  const failed: { name: string; error: string }[] = [];
  for (const v of engine.list()) {
    const p = v.row.config.restart.name;
    if (v.running) continue;
    if (p === "always" || (p === "unless-stopped" && !v.row.stoppedByUser)) {
      try {
        await engine.start(v.row.id);
        started.push(v.row.name);
      } catch (e) {
        failed.push({ name: v.row.name, error: (e as Error).message });
      }
    }
  }
  return { started, failed };
}

export function shouldRestart(row: ContainerRow): boolean {
  const p = row.config.restart;
  if (row.stoppedByUser) return false;
  switch (p.name) {
    case "always":
    case "unless-stopped":
      return true;
    case "on-failure":
      return (row.exitCode ?? 0) !== 0 && (p.maximumRetryCount === 0 || row.restartCount < p.maximumRetryCount);
    default:
      return false;
  }
}
