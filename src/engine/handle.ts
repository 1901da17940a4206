// The engine as its operations and its front ends see it: types only. engine.ts implements the
// Engine interface; the operation files (start.ts, teardown.ts, …) take an Engine and call one
// another through it. They import this file, not engine.ts, which loads them: no import circle.
import type { ImageStore } from "../image/store.ts";
import type { ContainerRecord, StateStore } from "../runtime/state-store.ts";
import type { FileLock } from "../storage/lock.ts";
import type { CreateRequest, ImageInfo } from "./config.ts";
import type { ExitRecord } from "./monitor.ts";
import type { EnginePaths } from "./paths.ts";
import type { ContainerStore } from "./store.ts";
import type { ContainerRow, PortPublish } from "./types.ts";
import type { Volumes } from "./volumes.ts";

export interface EngineOptions {
  /** argv that runs `berth internal exit ID` (without the ID): the monitor's exit command. */
  exitCommand?: string[];
  /** argv that runs `berth internal health ID` (without the ID): the monitor's periodic command for a healthcheck. */
  healthCommand?: string[];
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
  /** What pulling a missing image (--pull) reports, in docker's progress-message shape. */
  onPull?: (e: { id?: string; status: string; current?: number; total?: number }) => void;
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

/** What ps/inspect show: the stored row corrected by what the world says. */
export interface ContainerView {
  row: ContainerRow;
  status: "created" | "running" | "paused" | "restarting" | "exited" | "dead" | "removing";
  exitCode: number | null;
  running: boolean;
  /** Running with a healthcheck: its status (health.json; "starting" before the first result). */
  health?: "starting" | "healthy" | "unhealthy";
}

export interface RemoveOptions {
  /** Kill a running container first (SIGKILL to its whole cgroup). */
  force?: boolean;
  /** Its anonymous volumes go too. */
  volumes?: boolean;
}

/** What `system prune` removed, and the bytes the disk got back. */
export interface PruneReport {
  containers: string[];
  images: string[];
  volumes: string[];
  reclaimedBytes: number;
}

/** `berth start --all`: who started, who failed and why. */
export interface StartAllResult {
  started: string[];
  failed: { name: string; error: string }[];
}

/**
 * One engine root opened: its stores, its locks, and every container operation. A ref is a
 * container's ID, unique ID prefix or name. Operations that change a container take its lock;
 * those named …Locked expect the caller to hold it.
 */
export interface Engine {
  readonly root: string;
  readonly opts: EngineOptions;
  readonly paths: EnginePaths;
  /** The container rows and volumes (containers.db). */
  readonly store: ContainerStore;
  /** berth-runtime's state, called in-process. */
  readonly runtime: StateStore;
  /** The runtime's records of containers this process created, so start and delete need not
   *  read them back (start.ts writes them, teardown.ts takes them). */
  readonly runtimeRecords: Map<string, ContainerRecord>;
  readonly volumes: Volumes;
  /** The image store, opened on first use; the containers here are what holds an image. */
  readonly images: ImageStore;
  /** Locks `create({ forRun })` kept for the start that follows (taken over by lock()). */
  readonly heldForRun: Map<string, FileLock>;
  /** Bytes of dead commands' temporaries this process removed (opening, reconcile): `system prune` reports them. */
  reclaimed: number;
  close(): void;
  warn(msg: string): void;

  // ---- locking ----
  /** One berth at a time changes a container; others wait (a dead holder's lock is released by the
   *  kernel). The lock a `create({ forRun })` kept is handed to this process's next taker. */
  lock(id: string): Promise<FileLock>;
  /** Releases a container's lock; its lock file goes too if the container is gone. */
  unlock(lock: FileLock, id: string): void;
  tryLock(id: string): FileLock | null;

  // ---- lookup and state ----
  find(ref: string): ContainerRow;
  /** The truth about a container: the row, corrected by its init's liveness and exit file. */
  observe(row: ContainerRow): ContainerView;
  /** The monitor's record of how the container's last run ended, if it wrote one. */
  exitOf(row: ContainerRow): ExitRecord | null;
  /** Every container, oldest first. */
  list(): ContainerView[];

  // ---- operations (each in a file of its own: see engine.ts) ----
  /** The image a create names, resolved in the local store (berth does not pull). */
  resolveImage(ref: string): ImageInfo;
  /** `berth create`: validates everything first, then records the container; nothing runs yet. */
  create(req: CreateRequest, opts?: CreateOptions): Promise<ContainerRow>;
  /** Starts a created or exited container under a new monitor; a running one is left as it is. */
  start(ref: string | ContainerRow, opts?: StartOptions): Promise<ContainerRow>;
  /** start, with the lock held; `restarting`: the exit hook restarting a container it already finalized. */
  startLocked(id: string, opts: StartOptions, restarting?: boolean): Promise<ContainerRow>;
  /** Foreground `run`/`start -a`: start, wait for the attach session, settle (and remove with
   *  --rm) while holding the lock throughout. The container's exit code, or "detached". */
  runAttached(id: string, opts: RunAttachedOptions): Promise<number | "detached">;
  /** The stop signal, `timeoutSec` (default: the container's) to exit, then SIGKILL; settled after. */
  stop(ref: string, timeoutSec?: number): Promise<ContainerRow>;
  kill(ref: string, signal: number): ContainerRow;
  remove(ref: string, opts?: RemoveOptions): Promise<ContainerRow>;
  /** prune's removal: the container goes only if it is at rest — stopped, and no other berth is
   *  working on it (its lock is free). Whether it was removed. */
  removeIfIdle(id: string, opts?: { volumes?: boolean }): Promise<boolean>;
  /** Deletes the container's files, anonymous volumes (with volumes), image hold and row. */
  removeLocked(row: ContainerRow, opts: { volumes?: boolean }): void;
  /** Freezes the container; `why` marks a pause another berth command will undo (commit). */
  pause(ref: string, why?: string): ContainerRow;
  /** Pauses for a commit by this process; reconcile thaws it if this process dies first. */
  pauseForCommit(ref: string): ContainerRow;
  unpause(ref: string): ContainerRow;
  rename(ref: string, name: string): void;
  /** Waits until the container's process is gone, then settles it; returns its exit code. */
  waitExit(id: string, signal?: AbortSignal): Promise<number>;
  /** Frees what a run holds: processes, cgroup, runtime state, network, rootfs mount, sockets. Idempotent. */
  teardown(row: ContainerRow, killFirst?: boolean): Promise<void>;
  /** Records how a run ended (from the monitor's exit file). */
  finalizeLocked(row: ContainerRow): ContainerRow;
  /** finalizeLocked, then teardown. */
  finalize(row: ContainerRow): Promise<ContainerRow>;
  /** Settles rows a killed berth left in flight (their lock is free); every command runs it first. */
  reconcile(): Promise<void>;
  /** `berth internal exit ID`, run by the monitor once the container ended: settle, then --rm or restart. */
  onExit(id: string): Promise<void>;
  /** `berth start --all` at boot: every container whose policy says it should be running. */
  startAll(): Promise<StartAllResult>;
  /** The ports as bound (a random host port is known only once the network published it). */
  publishedPorts(row: ContainerRow): Promise<PortPublish[]>;
  /** Bytes a container's own files take (writable layer, log, exit file, /etc files): what its removal gives back. */
  diskUsage(id: string): number;
  /** `berth system prune`: stopped containers at rest, dangling images, unused anonymous volumes
   *  with `volumes`, what dead commands left in tmp/; what the disk got back. */
  prune(opts?: { volumes?: boolean }): Promise<PruneReport>;
  /** `berth system reset`: every container removed, then every network's kernel objects. Images stay. */
  reset(): Promise<{ containers: number }>;
}
