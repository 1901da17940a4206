// The engine: containers from images, daemonless. Each berth command opens the engine, does its
// work and exits; a container keeps running under its own berth-monitor. The database is a cache
// of decisions and outcomes; liveness is always read from the world (pid + start time, exit file),
// and reconcile() settles what a killed berth left in flight.
//
// This file is the handle: the root, the stores, the locks and the view of a container's state.
// Every operation lives in a file of its own, as a function taking the engine (create.ts,
// start.ts, run-attached.ts, stop.ts, kill.ts, remove.ts, pause.ts, rename.ts, wait.ts,
// reconcile.ts, restart.ts, teardown.ts, reset.ts; network.ts is the network glue, prepare.ts the
// rootfs and spec of a run, launch.ts the monitor's command line). The Engine's methods only
// delegate to those files. Methods rather than bare functions, because:
// - call sites stay `engine.start(ref)` (the CLI, and the API service, compose and build to come),
//   and one operation calls another through the handle (`engine.teardown(row)`) without
//   importing its file;
// - start-up: a command loads the file of an operation when it first calls it (LAZY below, the
//   one list of what loads late), so `ps`, `logs` and `inspect` load neither the image store,
//   nor the runtime, cgroups or the spec builder. An operation file imports what it needs
//   statically: whoever loads it is about to use it.
// The library surface for front ends (these methods, the functions of exec.ts, cp.ts, stats.ts,
// logs.ts, inspect.ts, list.ts and their types) is index.ts.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ImageStore } from "../image/store.ts";
import type { FileLock } from "../storage/lock.ts";
import { StateStore, type ContainerRecord } from "../runtime/state-store.ts";
import { isAlive } from "../runtime/proc.ts";
import { readExitFile, type ExitRecord } from "./monitor.ts";
import { ContainerStore } from "./store.ts";
import { EnginePaths, DEFAULT_ENGINE_ROOT } from "./paths.ts";
import { Volumes } from "./volumes.ts";
import type { CreateRequest, ImageInfo } from "./config.ts";
import type { ContainerRow, PortPublish } from "./types.ts";

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

export interface EngineOptions {
  /** argv that runs `berth internal exit ID` (without the ID): the monitor's exit command. */
  exitCommand?: string[];
  /** Network options: kernel object name prefix and default subnet (tests run side by side with their own). */
  network?: { namePrefix?: string; defaultSubnet?: string };
  warn?: (msg: string) => void;
}

export interface CreateOptions {
  /** `berth run`: the container is started right after by this process. It keeps the container's
   *  lock from creation to start and the row stays "creating" until the start begins, so if this
   *  process dies in between, the next reconcile rolls the container back (a run that failed to
   *  start its container leaves none), while nobody touches it as long as this process lives. */
  forRun?: boolean;
}

export interface StartOptions {
  /** Called once the container exists and before its process runs: attach here to miss nothing. */
  beforeStart?: (row: ContainerRow) => Promise<void> | void;
  /** The foreground client finalizes the container itself: no exit command unless a policy needs one. */
  foreground?: boolean;
  consoleSize?: { height: number; width: number };
}

/** runAttached's options: start's, and the attach session to wait for. */
export interface RunAttachedOptions extends StartOptions {
  /** Resolves when the attach session ends: the container exited, or the user detached. */
  untilExit: (row: ContainerRow) => Promise<"exited" | "detached">;
}

/** What `system prune` removed, and the bytes the disk got back. */
export interface PruneReport {
  containers: string[];
  images: string[];
  volumes: string[];
  reclaimedBytes: number;
}

/** What ps/inspect show: the stored row corrected by what the world says. */
export interface ContainerView {
  row: ContainerRow;
  status: "created" | "running" | "paused" | "restarting" | "exited" | "dead" | "removing";
  exitCode: number | null;
  running: boolean;
}

export class Engine {
  readonly paths: EnginePaths;
  readonly store: ContainerStore;
  readonly runtime: StateStore;
  /** The runtime's records of containers this process created, so start and delete need not
   *  read them back (start.ts writes them, teardown.ts takes them). */
  readonly runtimeRecords = new Map<string, ContainerRecord>();
  readonly volumes: Volumes;
  private imageStore?: ImageStore;
  /** Locks `create({ forRun })` kept for the start that follows (taken over by lock()). */
  readonly heldForRun = new Map<string, FileLock>();
  /** Bytes of dead commands' temporaries this process removed (opening, reconcile): `system prune` reports them. */
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

  /** One berth at a time changes a container; others wait (a dead holder's lock is released by the
   *  kernel). The lock a `create({ forRun })` kept is handed to this process's next taker. */
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
    const live = row.pid > 0 && isAlive(row.pid, row.pidStart);
    switch (row.state) {
      case "restarting":
        if (live) return { row, status: "running", exitCode: null, running: true };
        return { row, status: "restarting", exitCode: row.exitCode, running: false };
      case "running":
      case "paused":
        if (live) return { row, status: row.state, exitCode: null, running: true };
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

  // ---- operations (each in its own file) ----

  /** The image a create names, resolved in the local store (berth does not pull). */
  resolveImage(ref: string): ImageInfo {
    return LAZY.create().resolveImage(this, ref);
  }

  /** `berth create`: validates everything first, then records the container; nothing runs yet. */
  create(req: CreateRequest, opts: CreateOptions = {}): Promise<ContainerRow> {
    return LAZY.create().createContainer(this, req, opts);
  }

  /** Starts a created or exited container under a new monitor. */
  start(ref: string | ContainerRow, opts: StartOptions = {}): Promise<ContainerRow> {
    return LAZY.start().startContainer(this, ref, opts);
  }

  /** Starts the container; the caller holds its lock. `restarting`: the exit hook restarting a
   *  container it already finalized. */
  startLocked(id: string, opts: StartOptions, restarting = false): Promise<ContainerRow> {
    return LAZY.start().startLocked(this, id, opts, restarting);
  }

  /** Foreground `run`/`start -a`: start, wait for the attach session, settle (and remove with
   *  --rm) while holding the lock throughout. Returns the container's exit code. */
  runAttached(id: string, opts: RunAttachedOptions): Promise<number | "detached"> {
    return LAZY.runAttached().runAttached(this, id, opts);
  }

  stop(ref: string, timeoutSec?: number): Promise<ContainerRow> {
    return LAZY.stop().stopContainer(this, ref, timeoutSec);
  }

  kill(ref: string, signal: number): ContainerRow {
    return LAZY.kill().killContainer(this, ref, signal);
  }

  remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<ContainerRow> {
    return LAZY.remove().removeContainer(this, ref, opts);
  }

  /** prune's removal: the container goes only if it is at rest (stopped, its lock free). Whether it was removed. */
  removeIfIdle(id: string, opts: { volumes?: boolean } = {}): Promise<boolean> {
    return LAZY.remove().removeIfIdle(this, id, opts);
  }

  /** Deletes the container's files, anonymous volumes (with volumes), image hold and row. Caller holds the lock. */
  removeLocked(row: ContainerRow, opts: { volumes?: boolean }): void {
    LAZY.remove().removeLocked(this, row, opts);
  }

  /** Freezes the container; `why` marks a pause another berth command will undo (commit). */
  pause(ref: string, why = ""): ContainerRow {
    return LAZY.pause().pauseContainer(this, ref, why);
  }

  /** Pauses for a commit by this process; reconcile thaws it if this process dies first. */
  pauseForCommit(ref: string): ContainerRow {
    return LAZY.pause().pauseForCommit(this, ref);
  }

  unpause(ref: string): ContainerRow {
    return LAZY.pause().unpauseContainer(this, ref);
  }

  rename(ref: string, name: string): void {
    LAZY.rename().renameContainer(this, ref, name);
  }

  /** Waits until the container's process is gone, then settles it; returns its exit code. */
  waitExit(id: string, signal?: AbortSignal): Promise<number> {
    return LAZY.wait().waitExit(this, id, signal);
  }

  /** Frees what a run holds: processes, cgroup, runtime state, network, rootfs mount, sockets. Idempotent. */
  teardown(row: ContainerRow, killFirst = false): Promise<void> {
    return LAZY.teardown().teardown(this, row, killFirst);
  }

  /** Records how a run ended and frees its resources. Caller holds the lock. */
  finalizeLocked(row: ContainerRow): ContainerRow {
    return LAZY.teardown().finalizeLocked(this, row);
  }

  finalize(row: ContainerRow): Promise<ContainerRow> {
    return LAZY.teardown().finalize(this, row);
  }

  /** Settles rows a killed berth left in flight (their lock is free). */
  reconcile(): Promise<void> {
    return LAZY.reconcile().reconcile(this);
  }

  /** `berth internal exit ID`, run by the monitor once the container ended: settle, then --rm or restart. */
  onExit(id: string): Promise<void> {
    return LAZY.restart().onExit(this, id);
  }

  /** `berth start --all` at boot: every container whose policy says it should be running. */
  startAll(): Promise<{ started: string[]; failed: { name: string; error: string }[] }> {
    return LAZY.restart().startAll(this);
  }

  /** The ports as bound (a random host port is known only once the network published it). */
  publishedPorts(row: ContainerRow): Promise<PortPublish[]> {
    return LAZY.network().publishedPorts(this, row);
  }

  /** Bytes a container's own files take (writable layer, log, exit file, /etc files): what its removal gives back. */
  diskUsage(id: string): number {
    return LAZY.prune().diskUsage(this, id);
  }

  /** `berth system prune`: stopped containers, dangling images, unused anonymous volumes with `volumes`, dead temporaries. */
  prune(opts: { volumes?: boolean } = {}): Promise<PruneReport> {
    return LAZY.prune().pruneSystem(this, opts);
  }

  /** `berth system reset`: every container removed, then every network's kernel objects. Images stay. */
  reset(): Promise<{ containers: number }> {
    return LAZY.reset().resetEngine(this);
  }
}

export function openEngine(root: string = DEFAULT_ENGINE_ROOT, opts: EngineOptions = {}): Engine {
  return new Engine(root, opts);
}

export { DEFAULT_ENGINE_ROOT };
export type { CreateRequest };
