// The end of a run: how it ended recorded (finalize), and what it held freed (teardown):
// processes, cgroup, runtime state, network endpoint, rootfs mount, sockets.
import { recordContainerEvent } from "./events.ts";
import { existsSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { isAlive, isRunning } from "../runtime/proc.ts";
import { deleteContainer } from "../runtime/delete.ts";
import { containerCgroup } from "./cgroup.ts";
import { unmountContainerRootfs } from "../storage/overlay.ts";
import { kill } from "../sys/libc.ts";
import { trace } from "../sys/trace.ts";
import type { Engine } from "./handle.ts";
import { releaseEndpoint, usesBridge } from "./network.ts";
import type { ContainerRow } from "./types.ts";
import { releaseShm } from "./namespaces.ts";
import { exitPending, monitorAlive } from "./monitor.ts";
import { waitForRun } from "./wait.ts";

/** How long finalize waits for a live monitor's exit record: the monitor writes it at most 5 s
 *  (its drain, native/monitor/loop.c) after reaping the init; this is only for a stuck one. */
const EXIT_RECORD_WAIT_MS = 30_000;

const SIGKILL = 9;

/** The runtime's record of a previous run, if any: removed (its cgroup with it). */
export async function releaseRuntime(engine: Engine, row: Pick<ContainerRow, "id" | "config">): Promise<void> {
  const id = row.id;
  const known = engine.runtimeRecords.get(id);
  engine.runtimeRecords.delete(id);
  if (existsSync(engine.runtime.dir(id))) {
    await deleteContainer(engine.runtime, id, true, (m) => engine.warn(m), known);
    // Deleting a record this process made removed its group everywhere just now.
    if (known && !known.noCgroup) return;
  }
  try {
    // destroy() removes whatever part exists: a berth killed inside the runtime's create may
    // leave the group in some hierarchies only (exists() wants all of them).
    containerCgroup(row).destroy();
  } catch { /* no cgroup */ }
}

/** Frees what a run holds: processes, cgroup, runtime state, network, rootfs mount, sockets. Idempotent. */
export async function teardown(engine: Engine, row: ContainerRow, killFirst = false): Promise<void> {
  const id = row.id;
  if (killFirst && row.pid && isAlive(row.pid, row.pidStart)) kill(row.pid, SIGKILL);
  await releaseRuntime(engine, row);
  trace("teardown: runtime state and cgroup released");
  if (row.monitorPid > 0) {
    // The monitor leaves by itself once its container is reaped; wait for it briefly.
    for (let i = 0; i < 200 && isRunning(row.monitorPid); i++) await Bun.sleep(5);
    trace("teardown: monitor gone");
  }
  if (usesBridge(row.config.network) && existsSync(join(engine.root, "network"))) {
    try {
      await releaseEndpoint(engine, id);
    } catch (e) {
      engine.warn(`network cleanup of ${row.name}: ${(e as Error).message}`);
    }
  }
  if (overlayMounted(engine.paths.rootfs(id))) unmountContainerRootfs(engine.paths.container(id));
  if (row.config.namespaces?.ipc === "shareable") releaseShm(engine, id);
  trace("teardown: rootfs unmounted");
  for (const f of [engine.paths.attachSocket(id), engine.paths.consoleSocket(id)]) rmSync(f, { force: true });
}

/** Records how a run ended and frees its resources. Caller holds the lock. */
export function finalizeLocked(engine: Engine, row: ContainerRow): ContainerRow {
  const exit = engine.exitOf(row);
  const code = exit ? (exit.startFailed ? (exit.exitCode >= 0 ? exit.exitCode : 128) : exit.exitCode) : 255;
  // A run ends once: "die" when it was running (finalize is idempotent on an exited container).
  if (row.state === "running" || row.state === "paused" || row.state === "restarting" || row.state === "starting") {
    recordContainerEvent(engine.root, "die", row, { exitCode: String(code) });
    if (exit?.oomKilled) recordContainerEvent(engine.root, "oom", row);
  }
  return engine.store.updated(row, {
    state: "exited", pid: 0, monitorPid: 0, exitCode: code, oomKilled: exit?.oomKilled ?? false,
    finishedAt: exit ? Date.parse(exit.finishedAt) || Date.now() : Date.now(),
    error: exit?.error ?? (exit ? "" : monitorAlive(row)
      ? `the container's monitor (pid ${row.monitorPid}) did not record its exit status in ${EXIT_RECORD_WAIT_MS / 1000} s`
      : "the container's monitor died before recording its exit status"),
  });
}

/** finalizeLocked, then teardown. The exit record is the truth while the monitor lives: a run
 *  whose init is gone but whose monitor has not written it yet (it reaps the init, then drains
 *  the output) is waited for, never settled as 255 underneath it. */
export async function finalize(engine: Engine, row: ContainerRow): Promise<ContainerRow> {
  if (!isAlive(row.pid, row.pidStart) && exitPending(row, engine.paths.exitFile(row.id))) await waitForRun(engine, row, undefined, EXIT_RECORD_WAIT_MS);
  const done = finalizeLocked(engine, row);
  await teardown(engine, done);
  return done;
}

/** Whether a container's root filesystem is mounted (an overlay has a device of its own). */
export function overlayMounted(rootfs: string): boolean {
  try {
    return statSync(rootfs).dev !== statSync(dirname(rootfs)).dev;
  } catch {
    return false;
  }
}
