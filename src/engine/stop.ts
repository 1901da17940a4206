// `berth stop`: the stop signal, the grace period, then SIGKILL to the whole cgroup; the
// container is settled once its run ended.
import { isAlive } from "../runtime/proc.ts";
import { containerCgroup } from "./cgroup.ts";
import { kill } from "../sys/libc.ts";
import type { Engine } from "./handle.ts";
import { parseSignal } from "./options.ts";
import type { ContainerRow } from "./types.ts";
import { recordContainerEvent } from "./events.ts";
import { waitForRun } from "./wait.ts";

const SIGKILL = 9;

export async function stopContainer(engine: Engine, ref: string, timeoutSec?: number): Promise<ContainerRow> {
  let row = engine.find(ref);
  engine.store.update(row.id, { stoppedByUser: true });
  const stopped = engine.observe(row).running;
  if (stopped) {
    recordContainerEvent(engine.root, "kill", row, { signal: String(parseSignal(row.config.stopSignal)) });
    const timeout = timeoutSec ?? row.config.stopTimeout;
    if (row.state === "paused") containerCgroup(row).thaw();
    kill(row.pid, parseSignal(row.config.stopSignal));
    const deadline = Date.now() + Math.max(0, timeout) * 1000;
    while (isAlive(row.pid, row.pidStart) && Date.now() < deadline) await Bun.sleep(20);
    if (isAlive(row.pid, row.pidStart)) {
      try { containerCgroup(row).killAll(SIGKILL); } catch { kill(row.pid, SIGKILL); }
      kill(row.pid, SIGKILL);
    }
    await waitForRun(engine, row, undefined, 10_000);
  }
  const lock = await engine.lock(row.id);
  try {
    row = engine.store.get(row.id)!;
    const wasRunning = row.state === "running" || row.state === "paused" || row.state === "restarting" || row.state === "starting";
    if (wasRunning) row = await engine.finalize(row);
    if (wasRunning || stopped) recordContainerEvent(engine.root, "stop", row);
    return row;
  } finally {
    engine.unlock(lock, row.id);
  }
}
