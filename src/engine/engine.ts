// The engine: containers from images, daemonless. Each berth command opens the engine, does its
// work and exits; a container keeps running under its own berth-monitor. The database is a cache
// of decisions and outcomes; liveness is always read from the world (pid + start time, exit file),
// and reconcile() settles what a killed berth left in flight.
//
// This file is the handle: the root, the stores, the locks and the view of a container's state.
// Every operation lives in a file of its own, as a function taking the engine (create.ts,
// start.ts, run-attached.ts, stop.ts, kill.ts, remove.ts, pause.ts, rename.ts, wait.ts,
// reconcile.ts, restart.ts, teardown.ts, prune.ts, reset.ts; network.ts is the network glue, prepare.ts the
// rootfs and spec of a run, launch.ts the monitor's command line), and the handle's methods only
// delegate to them. Methods rather than bare functions, because:
// - call sites stay `engine.start(ref)` (the CLI, and the API service, compose and build to
//   come), and one operation calls another through the handle (`engine.teardown(row)`) without
//   importing its file;
// - start-up: a method loads its operation's file on the first call (LAZY below, the one list of
//   what loads late), so `ps`, `logs` and `inspect` load neither the image store nor the runtime,
//   cgroups or the spec builder. An operation file imports what it uses statically: whoever
//   loads it is about to use it.
// The Engine type (with every method's documentation) is in handle.ts, which the operation files
// import instead of this file: no import circle. index.ts is the library surface for front ends.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ImageStore } from "../image/store.ts";
import type { FileLock } from "../storage/lock.ts";
import { StateStore, type ContainerRecord } from "../runtime/state-store.ts";
import { isAlive } from "../runtime/proc.ts";
import { exitPending, readExitFile, type ExitRecord } from "./monitor.ts";
import { ContainerStore } from "./store.ts";
import { EnginePaths, DEFAULT_ENGINE_ROOT } from "./paths.ts";
import { Volumes } from "./volumes.ts";
import type { CreateRequest } from "./config.ts";
import type { ContainerView, Engine, EngineOptions } from "./handle.ts";
import type { ContainerRow } from "./types.ts";

// What loads on first use: require() (Bun loads ES modules synchronously through it) keeps the
// synchronous operations synchronous; the types are the modules' own.
const LAZY = {
  imageStore: (): typeof import("../image/store.ts") => require("../image/store.ts"),
  lock: (): typeof import("../storage/lock.ts") => require("../storage/lock.ts"),
  create: (): typeof import("./create.ts") => require("./create.ts"),
  start: (): typeof import("./start.ts") => require("./start.ts"),
  runAttached: (): typeof import("./run-attached.ts") => require("./run-attached.ts"),
  stop: (): typeof import("./stop.ts") => require("./stop.ts"),
  kill: (): typeof import("./kill.ts") => require("./kill.ts"),
  remove: (): typeof import("./remove.ts") => require("./remove.ts"),
  pause: (): typeof import("./pause.ts") => require("./pause.ts"),
  rename: (): typeof import("./rename.ts") => require("./rename.ts"),
  wait: (): typeof import("./wait.ts") => require("./wait.ts"),
  teardown: (): typeof import("./teardown.ts") => require("./teardown.ts"),
  reconcile: (): typeof import("./reconcile.ts") => require("./reconcile.ts"),
  restart: (): typeof import("./restart.ts") => require("./restart.ts"),
  network: (): typeof import("./network.ts") => require("./network.ts"),
  reset: (): typeof import("./reset.ts") => require("./reset.ts"),
  prune: (): typeof import("./prune.ts") => require("./prune.ts"),
};

class BerthEngine implements Engine {
  readonly paths: EnginePaths;
  readonly store: ContainerStore;
  readonly runtime: StateStore;
  /** The runtime's records of containers this process created, so start and delete need not
   *  read them back (start.ts writes them, teardown.ts takes them). */
  readonly runtimeRecords = new Map<string, ContainerRecord>();
  readonly volumes: Volumes;
  private imageStore?: ImageStore;
  readonly heldForRun = new Map<string, FileLock>();
  reclaimed = 0;

  constructor(readonly root: string = DEFAULT_ENGINE_ROOT, readonly opts: EngineOptions = {}) {
    this.paths = new EnginePaths(root);
    this.store = new ContainerStore(root);
    this.runtime = new StateStore(this.paths.runtimeRoot);
    this.volumes = new Volumes(this.store, this.paths);
    this.reclaimed += this.store.freedAtOpen;
    for (const d of [this.paths.containersDir, this.paths.locksDir, this.paths.socketsDir]) mkdirSync(d, { recursive: true, mode: 0o711 });
  }

  get images(): ImageStore {
    // The containers in our store are what holds an image (rmi/prune consult them).
    return (this.imageStore ??= LAZY.imageStore().openImageStore(this.root, { holders: { holdersOf: (id) => this.store.imageHolders(id), heldImages: () => this.store.heldImages() } }));
  }

  close(): void {
    this.store.close();
  }

  warn(msg: string): void {
    (this.opts.warn ?? ((m: string) => process.stderr.write(`berth: warning: ${m}\n`)))(msg);
  }

  // ---- locking ----

  /** One berth at a time changes a container; others wait (a dead holder's lock is released by the kernel). */
  async lock(id: string): Promise<FileLock> {
    const held = this.heldForRun.get(id);
    if (held) {
      this.heldForRun.delete(id);
      return held;
    }
    return LAZY.lock().FileLock.acquire(this.paths.lock(id), "exclusive", 120_000);
  }

  /** Releases a container's lock; if the container is gone by now, its lock file goes too (no
   *  file per removed container piles up: whoever opened it last may have created it anew). */
  unlock(lock: FileLock, id: string): void {
    try {
      if (!this.store.exists(id)) rmSync(this.paths.lock(id), { force: true });
    } finally {
      lock.release();
    }
  }

  tryLock(id: string): FileLock | null {
    return LAZY.lock().FileLock.tryAcquire(this.paths.lock(id), "exclusive");
  }

  // ---- lookup and state ----

  find(ref: string): ContainerRow {
    return this.store.find(ref);
  }

  /** The truth about a container: the row, corrected by its init's liveness and exit file. */
  observe(row: ContainerRow): ContainerView {
    const view = this.observeState(row);
    if (view.running && row.config.healthcheck) view.health = this.healthOf(row);
    return view;
  }

  /** health.json's status (health.ts writes it); "starting" until the first probe's result. */
  private healthOf(row: ContainerRow): "starting" | "healthy" | "unhealthy" {
    try {
      return (JSON.parse(readFileSync(this.paths.healthFile(row.id), "utf8")) as { Status: "starting" | "healthy" | "unhealthy" }).Status;
    } catch {
      return "starting";
    }
  }

  private observeState(row: ContainerRow): ContainerView {
    const live = row.pid > 0 && isAlive(row.pid, row.pidStart);
    switch (row.state) {
      case "restarting":
        if (live) return { row, status: "running", exitCode: null, running: true };
        return { row, status: "restarting", exitCode: row.exitCode, running: false };
      case "running":
      case "paused":
        // Until its monitor recorded how it ended, a run whose init just died is still ending
        // (as docker's stays running until containerd reports the exit): waiters wait on.
        if (live || exitPending(row, this.paths.exitFile(row.id))) return { row, status: row.state, exitCode: null, running: true };
        return { row, status: "exited", exitCode: this.exitOf(row)?.exitCode ?? row.exitCode ?? 255, running: false };
      case "starting":
        if (live && !existsSync(join(this.runtime.dir(row.id), "exec.fifo"))) return { row, status: "running", exitCode: null, running: true };
        return { row, status: row.startedAt ? "exited" : "created", exitCode: row.exitCode, running: false };
      case "creating":
        return { row, status: "created", exitCode: null, running: false };
      case "removing":
        return { row, status: "removing", exitCode: row.exitCode, running: live };
      default:
        return { row, status: row.state, exitCode: row.exitCode, running: false };
    }
  }

  /** The monitor's record of how the container's last run ended, if it wrote one. */
  exitOf(row: ContainerRow): ExitRecord | null {
    try {
      return readExitFile(this.paths.exitFile(row.id));
    } catch {
      return null;
    }
  }

  list(): ContainerView[] {
    return this.store.list().map((r) => this.observe(r));
  }

  // ---- operations: each in its own file, loaded by its first call (documented in handle.ts) ----

  resolveImage: Engine["resolveImage"] = (ref) => LAZY.create().resolveImage(this, ref);
  create: Engine["create"] = (req, opts = {}) => LAZY.create().createContainer(this, req, opts);
  start: Engine["start"] = (ref, opts = {}) => LAZY.start().startContainer(this, ref, opts);
  startLocked: Engine["startLocked"] = (id, opts, restarting = false) => LAZY.start().startLocked(this, id, opts, restarting);
  runAttached: Engine["runAttached"] = (id, opts) => LAZY.runAttached().runAttached(this, id, opts);
  stop: Engine["stop"] = (ref, timeoutSec) => LAZY.stop().stopContainer(this, ref, timeoutSec);
  kill: Engine["kill"] = (ref, signal) => LAZY.kill().killContainer(this, ref, signal);
  remove: Engine["remove"] = (ref, opts = {}) => LAZY.remove().removeContainer(this, ref, opts);
  removeIfIdle: Engine["removeIfIdle"] = (id, opts = {}) => LAZY.remove().removeIfIdle(this, id, opts);
  removeLocked: Engine["removeLocked"] = (row, opts) => LAZY.remove().removeLocked(this, row, opts);
  pause: Engine["pause"] = (ref, why = "") => LAZY.pause().pauseContainer(this, ref, why);
  pauseForCommit: Engine["pauseForCommit"] = (ref) => LAZY.pause().pauseForCommit(this, ref);
  unpause: Engine["unpause"] = (ref) => LAZY.pause().unpauseContainer(this, ref);
  rename: Engine["rename"] = (ref, name) => LAZY.rename().renameContainer(this, ref, name);
  waitExit: Engine["waitExit"] = (id, signal) => LAZY.wait().waitExit(this, id, signal);
  teardown: Engine["teardown"] = (row, killFirst = false) => LAZY.teardown().teardown(this, row, killFirst);
  finalizeLocked: Engine["finalizeLocked"] = (row) => LAZY.teardown().finalizeLocked(this, row);
  finalize: Engine["finalize"] = (row) => LAZY.teardown().finalize(this, row);
  reconcile: Engine["reconcile"] = () => LAZY.reconcile().reconcile(this);
  onExit: Engine["onExit"] = (id) => LAZY.restart().onExit(this, id);
  startAll: Engine["startAll"] = () => LAZY.restart().startAll(this);
  publishedPorts: Engine["publishedPorts"] = (row) => LAZY.network().publishedPorts(this, row);
  diskUsage: Engine["diskUsage"] = (id) => LAZY.prune().diskUsage(this, id);
  prune: Engine["prune"] = (opts = {}) => LAZY.prune().pruneSystem(this, opts);
  reset: Engine["reset"] = () => LAZY.reset().resetEngine(this);
}

export function openEngine(root: string = DEFAULT_ENGINE_ROOT, opts: EngineOptions = {}): Engine {
  return new BerthEngine(root, opts);
}

export { DEFAULT_ENGINE_ROOT };
export type { ContainerView, CreateRequest, Engine, EngineOptions };
export type { CreateOptions, PruneReport, RemoveOptions, RunAttachedOptions, StartAllResult, StartOptions } from "./handle.ts";
