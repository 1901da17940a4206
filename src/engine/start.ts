// `berth start`: a created or exited container run under a new monitor. The monitor and stage 0
// start first; the root filesystem is mounted and the spec built while they exec (prepare.ts);
// the runtime creates the container (recording its pid, setting up the network and letting the
// caller attach while the init builds its root), then starts it.
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createContainer, startCreateInit } from "../runtime/create.ts";
import { startContainer as runtimeStart } from "../runtime/start.ts";
import type { InitProcess } from "../runtime/native.ts";
import { kill } from "../sys/libc.ts";
import { UserNamespaceHolder } from "../sys/userns.ts";
import { trace } from "../sys/trace.ts";
import { recordContainerEvent } from "./events.ts";
import type { Engine, StartOptions } from "./handle.ts";
import { EngineError, commandFailure, EXIT_ENGINE } from "./errors.ts";
import { monitorStage0 } from "./launch.ts";
import { setupBridge, usesBridge } from "./network.ts";
import { prepare } from "./prepare.ts";
import { releaseRuntime } from "./teardown.ts";
import type { ContainerRow, StoredState } from "./types.ts";

const SIGKILL = 9;

/** Starts a created or exited container under a new monitor. */
export async function startContainer(engine: Engine, ref: string | ContainerRow, opts: StartOptions = {}): Promise<ContainerRow> {
  const id = typeof ref === "string" ? engine.find(ref).id : ref.id;
  const lock = await engine.lock(id);
  try {
    return await startLocked(engine, id, opts);
  } finally {
    engine.unlock(lock, id);
  }
}

/** `restarting`: the exit hook restarting a container it already finalized (the row stays
 *  "restarting" until this run is "starting": no one sees a passing "exited"). */
export async function startLocked(engine: Engine, id: string, opts: StartOptions, restarting = false): Promise<ContainerRow> {
  let row = engine.store.get(id);
  if (!row) throw new EngineError(`no such container: ${id}`);
  const view = engine.observe(row);
  if (view.running) return row; // docker: starting a running container is a no-op
  if (row.state === "running" || row.state === "paused" || (row.state === "restarting" && !restarting)) row = await engine.finalize(row);
  if (row.state === "removing") throw new EngineError(`container ${row.name} is marked for removal and cannot be started`);
  const previous: StoredState = row.startedAt ? "exited" : "created";
  const starting = engine.store.updated(row, { state: "starting", error: "", stoppedByUser: false });
  const paths = engine.paths;
  let monitorPid = 0;
  let init: InitProcess | undefined;
  let userns: UserNamespaceHolder | undefined;
  try {
    if (previous === "exited" || existsSync(engine.runtime.dir(id))) await releaseRuntime(engine, row);
    trace("start: old runtime state released");
    // health.json too: each run's health starts over as "starting".
    for (const f of [paths.exitFile(id), paths.pidFile(id), paths.attachSocket(id), paths.consoleSocket(id), paths.healthFile(id)]) rmSync(f, { force: true });
    const cfg = row.config;
    // The monitor and stage 0 start now: their three execs (~4 ms) overlap with mounting the
    // root filesystem and building the spec below.
    // A user namespace for the idmapped image layers: its helper's two execs overlap too.
    userns = cfg.userns ? UserNamespaceHolder.start(cfg.userns.uidMap, cfg.userns.gidMap) : undefined;
    const stage0 = monitorStage0(engine, row, opts);
    init = startCreateInit(stage0, cfg.tty);
    monitorPid = init.proc.pid;
    trace("start: monitor started");
    const spec = prepare(engine, row, opts.consoleSize, userns);
    userns?.close();
    trace("start: rootfs mounted, spec written");
    // Recording the pid, the network and the caller's attach happen while the init builds its root.
    let prepared: ContainerRow | undefined;
    const created = await createContainer(engine.runtime, {
      id, bundle: paths.bundle(id), ...stage0, init, pidFile: paths.pidFile(id), spec,
      whileInitPrepares: async (record) => {
        prepared = engine.store.updated(starting, { pid: record.pid, pidStart: record.pidStartTime, monitorPid });
        trace("start: pid recorded");
        if (usesBridge(cfg.network)) await setupBridge(engine, prepared, record.pid);
        await opts.beforeStart?.(prepared);
        // The bundle's config.json, for whoever looks at the bundle (berth passes the spec
        // in-process): written while the init sets up, off the start's critical path.
        writeFileSync(join(paths.bundle(id), "config.json"), JSON.stringify(spec));
        trace("start: attached");
      },
    });
    trace("start: runtime created (monitor + init)");
    row = prepared!;
    engine.runtimeRecords.set(id, created.record);
    await runtimeStart(engine.runtime, id, (m) => engine.warn(m), created.record);
    trace("start: started");
    const started = engine.store.updated(row, { state: "running", startedAt: Date.now(), finishedAt: 0, exitCode: null, oomKilled: false });
    recordContainerEvent(engine.root, "start", started);
    return started;
  } catch (e) {
    const msg = (e as Error).message;
    const code = (e as { exitCode?: number }).exitCode;
    const err = e instanceof EngineError ? e
      : code === 127 || code === 126 ? commandFailure(msg, code)
      : new EngineError(msg.startsWith("OCI") ? msg : `failed to start container ${row.name}: ${msg}`);
    userns?.close();
    try {
      if (monitorPid) kill(monitorPid, SIGKILL);
      init?.closeControl(); // a stage 0 still waiting for its plan leaves
      await engine.teardown(row, true);
    } catch (t) {
      engine.warn(`cleanup after the failed start of ${row.name}: ${(t as Error).message}`);
    }
    // docker: a --rm container whose start failed is removed (as one that ran and exited).
    if (row.config.autoRemove) engine.removeLocked(row, { volumes: true });
    else engine.store.update(id, { state: previous, pid: 0, monitorPid: 0, error: err.message, exitCode: err.exitCode === EXIT_ENGINE ? 128 : err.exitCode });
    throw err;
  }
}
