// The engine: containers from images, daemonless. Each berth command opens the engine, does its
// work and exits; a container keeps running under its own berth-monitor. The database is a cache
// of decisions and outcomes; liveness is always read from the world (pid + start time, exit file),
// and reconcile() settles what a killed berth left in flight.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Spec } from "../oci/spec.ts";
import type { ImageStore } from "../image/store.ts";
import type { FileLock } from "../storage/lock.ts";
import { StateStore, type ContainerRecord } from "../runtime/state-store.ts";
import { isAlive, isRunning, processStartTime } from "../runtime/proc.ts";
import { removeDeadTemporaries } from "../storage/temp.ts";
import { replenishReserve } from "../storage/space.ts";
import { treeSize } from "../storage/fsutil.ts";
import { MONITOR_BINARY, monitorArgs, readExitFile, waitExitFile, type ExitRecord } from "./monitor.ts";
import { ContainerStore } from "./store.ts";
import { EnginePaths, DEFAULT_ENGINE_ROOT } from "./paths.ts";
import { Volumes } from "./volumes.ts";
import type { CreateRequest } from "./config.ts";
import { EngineError, UsageError, commandFailure, EXIT_ENGINE } from "./errors.ts";
import { newContainerId, randomName, validName } from "./names.ts";
import { parseSignal } from "./options.ts";
import type { ContainerRow, PortPublish, StoredState } from "./types.ts";
import type { InitProcess } from "../runtime/native.ts";
import { trace } from "../sys/trace.ts";
import * as lazy from "./lazy.ts";

// The heavy parts, loaded when a command first calls them (see lazy.ts).
const openImageStore: typeof import("../image/store.ts").openImageStore = (...a) => lazy.imageStoreModule().openImageStore(...a);
const mountContainerRootfs: typeof import("../storage/overlay.ts").mountContainerRootfs = (...a) => lazy.overlayModule().mountContainerRootfs(...a);
const unmountContainerRootfs: typeof import("../storage/overlay.ts").unmountContainerRootfs = (...a) => lazy.overlayModule().unmountContainerRootfs(...a);
const createContainer: typeof import("../runtime/create.ts").createContainer = (...a) => lazy.createModule().createContainer(...a);
const runtimeStart: typeof import("../runtime/start.ts").startContainer = (...a) => lazy.startModule().startContainer(...a);
const deleteContainer: typeof import("../runtime/delete.ts").deleteContainer = (...a) => lazy.deleteModule().deleteContainer(...a);
const openCgroup: typeof import("../cgroups/index.ts").openCgroup = (...a) => lazy.cgroupsModule().openCgroup(...a);
const kill: typeof import("../sys/libc.ts").kill = (...a) => lazy.libcModule().kill(...a);
const writeContainerFiles: typeof import("../network/files.ts").writeContainerFiles = (...a) => lazy.networkFilesModule().writeContainerFiles(...a);
const buildConfig: typeof import("./config.ts").buildConfig = (...a) => lazy.configModule().buildConfig(...a);
const buildSpec: typeof import("./spec.ts").buildSpec = (...a) => lazy.specModule().buildSpec(...a);
const cachedDefaultSeccomp: typeof import("../runtime/seccomp-cache.ts").cachedDefaultSeccomp = (...a) => lazy.seccompCacheModule().cachedDefaultSeccomp(...a);

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

const SIGKILL = 9;
const COMMIT_PAUSE = "paused for commit by berth pid ";

/** Who paused for a commit: pid and start time (a reused pid is not the commit that froze it). */
function commitPauseMark(): string {
  return `${COMMIT_PAUSE}${process.pid} started ${processStartTime(process.pid) ?? "?"}`;
}

/** Whether the commit that wrote this pause mark is still running. */
function commitPauserAlive(error: string): boolean {
  const m = /^(\d+)(?: started (\d+))?/.exec(error.slice(COMMIT_PAUSE.length));
  if (!m) return false;
  return m[2] ? isAlive(Number(m[1]), m[2]) : isRunning(Number(m[1]));
}

export class Engine {
  readonly paths: EnginePaths;
  readonly store: ContainerStore;
  readonly runtime: StateStore;
  /** The runtime's records of containers this process created, so start and delete need not read them back. */
  private readonly runtimeRecords = new Map<string, ContainerRecord>();
  readonly volumes: Volumes;
  private imageStore?: ImageStore;
  /** Locks `create({ forRun })` kept for the start that follows (taken over by lock()). */
  private readonly heldForRun = new Map<string, FileLock>();
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
    return (this.imageStore ??= openImageStore(this.root, { holders: { holdersOf: (id) => this.store.imageHolders(id), heldImages: () => this.store.heldImages() } }));
  }

  close(): void {
    this.store.close();
  }

  private warn(msg: string): void {
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
    return lazy.lockModule().FileLock.acquire(this.paths.lock(id), "exclusive", 120_000);
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
    return lazy.lockModule().FileLock.tryAcquire(this.paths.lock(id), "exclusive");
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

  private exitOf(row: ContainerRow): ExitRecord | null {
    try {
      return readExitFile(this.paths.exitFile(row.id));
    } catch {
      return null;
    }
  }

  list(): ContainerView[] {
    return this.store.list().map((r) => this.observe(r));
  }

  // ---- create ----

  resolveImage(ref: string): { ref: string; id: string; config: import("../image/oci.ts").ImageConfig } {
    let img;
    try {
      img = this.images.resolve(ref);
    } catch (e) {
      throw new EngineError(`invalid reference format: ${(e as Error).message}`);
    }
    if (!img) throw new EngineError(`Unable to find image '${ref}' locally (berth does not pull: load it with \`berth load\` or \`berth import\`)`);
    return { ref, id: img.id, config: img.config };
  }

  /** `berth create`: validates everything first, then records the container; nothing runs yet. */
  async create(req: CreateRequest, opts: CreateOptions = {}): Promise<ContainerRow> {
    if (req.name !== undefined && !validName(req.name)) {
      throw new UsageError(`Invalid container name (${req.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    trace("create: begin");
    const image = this.resolveImage(req.image);
    trace("create: image resolved");
    const id = newContainerId();
    const config = buildConfig(req, image, id);
    if (config.network.startsWith("container:")) {
      // Joined by ID, so a rename of the other container does not break this one.
      const other = this.find(config.network.slice("container:".length));
      config.network = `container:${other.id}`;
    } else {
      this.checkNetworksExist(config.network);
    }
    if (config.network === "host" && config.publish.length) this.warn("Published ports are discarded when using host network mode");
    const name = req.name ?? randomName((n) => this.store.nameTaken(n));
    if (req.name !== undefined && this.store.nameTaken(req.name)) {
      const other = this.store.byName(req.name)!;
      throw new EngineError(`Conflict. The container name "/${req.name}" is already in use by container "${other.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    // Volumes get their names now, so the stored config says exactly what is mounted.
    for (const m of config.mounts) if (m.kind === "volume" && m.source === "") m.source = newContainerId();
    const lock = await this.lock(id);
    let keep = false;
    try {
      const row: ContainerRow = {
        id, name, state: "creating", createdAt: Date.now(), pid: 0, pidStart: "", monitorPid: 0, startedAt: 0, finishedAt: 0,
        exitCode: null, oomKilled: false, error: "", restartCount: 0, stoppedByUser: false, config,
      };
      this.store.insert(row);
      try {
        mkdirSync(this.paths.container(id), { recursive: true, mode: 0o711 });
        for (const m of config.mounts) {
          if (m.kind !== "volume") continue;
          const anonymous = !(req.volumes ?? []).some((v) => v.startsWith(`${m.source}:`));
          this.volumes.create(m.source, {}, anonymous);
        }
        trace("create: recorded");
        if (opts.forRun) {
          this.heldForRun.set(id, lock);
          keep = true;
          return row;
        }
        return this.store.updated(row, { state: "created" });
      } catch (e) {
        this.removeLocked(this.store.get(id) ?? row, { volumes: true });
        throw e;
      }
    } finally {
      if (!keep) this.unlock(lock, id);
    }
  }

  /** A user network named by --network must exist now, not only when the container starts.
   *  Nothing is made: without the network store no user network exists. */
  private checkNetworksExist(network: string): void {
    if (network === "none" || network === "host") return;
    const names = network.split(",").filter((n) => n && n !== "bridge" && n !== "default");
    if (names.length === 0) return;
    const missing = (name: string) => new UsageError(`network ${name} not found; list networks with \`berth network ls\``);
    if (!existsSync(join(this.root, "network"))) throw missing(names[0]!);
    const { openNetworks } = require("../network/manager.ts") as typeof import("../network/manager.ts");
    const mgr = openNetworks(this.root, this.opts.network ?? {});
    try {
      for (const name of names) {
        try {
          mgr.inspect(name);
        } catch {
          throw missing(name);
        }
      }
    } finally {
      mgr.close();
    }
  }

  // ---- start ----

  /** The monitor's exit hook; a foreground client settles its container itself while it holds
   *  the container's lock, so the monitor runs the hook only if that lock is free (the client was
   *  killed meanwhile) — a flock probe in the monitor instead of a whole berth process. */
  private exitHookFor(row: ContainerRow, foreground: boolean): { exitCommand?: string[]; exitCommandUnlessLocked?: string } {
    if (!this.opts.exitCommand) return {};
    const clientSettles = foreground && row.config.restart.name === "no" && !(row.config.tty && row.config.openStdin);
    return { exitCommand: [...this.opts.exitCommand, row.id], ...(clientSettles ? { exitCommandUnlessLocked: this.paths.lock(row.id) } : {}) };
  }


  /** Mounts, files and the OCI spec for one run of the container (its config.json is written later, see startLocked). */
  private prepare(row: ContainerRow, consoleSize?: { height: number; width: number }): Spec {
    const cfg = row.config;
    const img = this.images.get(cfg.imageId as `sha256:${string}`);
    if (!img) throw new EngineError(`the image of container ${row.name} (${cfg.imageId}) is gone; remove the container`);
    const dir = this.paths.container(row.id);
    const { rootfs } = mountContainerRootfs(this.images.snapshotDirs(img), dir, { volatile: cfg.autoRemove });
    const volumeSources = new Map<string, string>();
    for (const m of cfg.mounts) if (m.kind === "volume") volumeSources.set(m.destination, this.volumes.mountSource(m.source, rootfs, m.destination));
    for (const m of cfg.mounts) {
      if (m.kind === "bind" && !existsSync(m.source)) throw new EngineError(`invalid mount config for type "bind": bind source path does not exist: ${m.source}`);
    }
    let etcFiles;
    let netns: "new" | "host" | { path: string } = "new";
    if (cfg.network.startsWith("container:")) {
      // --network container:OTHER: its network namespace and its hosts/resolv.conf.
      const other = this.store.get(cfg.network.slice("container:".length));
      if (!other || !this.observe(other).running) throw new EngineError(`cannot join network of a non running container: ${cfg.network.slice(10, 22)}`);
      netns = { path: `/proc/${other.pid}/ns/net` };
      const dir = this.paths.filesDir(other.id);
      etcFiles = { hosts: `${dir}/hosts`, hostname: `${dir}/hostname`, resolvConf: `${dir}/resolv.conf` };
    } else if (cfg.network === "host") {
      netns = "host";
      etcFiles = lazy.networkFilesModule().writeHostNetworkFiles(this.paths.filesDir(row.id), cfg.hostname);
    } else {
      // Written now (the bridge setup rewrites them in place once the container has its address).
      etcFiles = writeContainerFiles(this.paths.filesDir(row.id), {
        hostname: cfg.hostname, domainname: cfg.domainname, hosts: cfg.extraHosts ?? [], dns: cfg.dns ?? (cfg.network === "none" ? [] : undefined),
      });
    }
    const cacheDir = lazy.seccompCacheModule().seccompCacheDir(this.runtime.root);
    return buildSpec(cfg, { id: row.id, rootfs, etcFiles, volumeSources, netns, consoleSize, defaultSeccomp: (caps) => cachedDefaultSeccomp(caps, cacheDir) });
  }

  private oomFile(id: string): string | undefined {
    try {
      const paths = openCgroup({ containerId: id }).paths();
      if (paths.memory) return join(paths.memory, "memory.oom_control");
      if (paths.unified) return join(paths.unified, "memory.events");
    } catch { /* no cgroups: no OOM report */ }
    return undefined;
  }

  /** Starts a created or exited container under a new monitor. */
  async start(ref: string | ContainerRow, opts: StartOptions = {}): Promise<ContainerRow> {
    const id = typeof ref === "string" ? this.find(ref).id : ref.id;
    const lock = await this.lock(id);
    try {
      return await this.startLocked(id, opts);
    } finally {
      this.unlock(lock, id);
    }
  }

  /**
   * Foreground `run`/`start -a`: start, wait for `untilExit` (the attach session ending), settle
   * the container (and remove it with --rm) while holding its lock throughout, so no other berth
   * settles it underneath us. Returns the container's exit code.
   */
  async runAttached(id: string, opts: StartOptions & { untilExit: (row: ContainerRow) => Promise<"exited" | "detached"> }): Promise<number | "detached"> {
    const lock = await this.lock(id);
    try {
      let row = await this.startLocked(id, opts);
      // Detached (ctrl-p ctrl-q): the container runs on; its exit hook or a later command settles it.
      if ((await opts.untilExit(row)) === "detached") return "detached";
      trace("run: exited");
      if (this.observe(row).running) await waitForRun(this, row);
      row = await this.finalize(this.store.get(id)!);
      trace("run: finalized");
      if (row.config.autoRemove) {
        this.store.update(id, { state: "removing" });
        this.removeLocked(row, { volumes: true });
      }
      return row.exitCode ?? 0;
    } finally {
      this.unlock(lock, id);
    }
  }

  /** `restarting`: the exit hook restarting a container it already finalized (the row stays
   *  "restarting" until this run is "starting": no one sees a passing "exited"). */
  private async startLocked(id: string, opts: StartOptions, restarting = false): Promise<ContainerRow> {
    let row = this.store.get(id);
    if (!row) throw new EngineError(`no such container: ${id}`);
    const view = this.observe(row);
    if (view.running) return row; // docker: starting a running container is a no-op
    if (row.state === "running" || row.state === "paused" || (row.state === "restarting" && !restarting)) row = await this.finalize(row);
    if (row.state === "removing") throw new EngineError(`container ${row.name} is marked for removal and cannot be started`);
    const previous: StoredState = row.startedAt ? "exited" : "created";
    const starting = this.store.updated(row, { state: "starting", error: "", stoppedByUser: false });
    const paths = this.paths;
    let monitorPid = 0;
    let init: InitProcess | undefined;
    try {
      if (previous === "exited" || existsSync(this.runtime.dir(id))) await this.releaseRuntime(id);
      trace("start: old runtime state released");
      for (const f of [paths.exitFile(id), paths.pidFile(id), paths.attachSocket(id), paths.consoleSocket(id)]) rmSync(f, { force: true });
      const cfg = row.config;
      const launcher = monitorArgs({
        command: ["-"], pidFile: paths.pidFile(id), logPath: paths.log(id), logMaxBytes: cfg.logMaxBytes,
        exitFile: paths.exitFile(id), oomFile: this.oomFile(id), oomBase: 0, tty: cfg.tty,
        consoleSocket: cfg.tty ? paths.consoleSocket(id) : undefined, stdin: cfg.openStdin, attachSocket: paths.attachSocket(id),
        ...this.exitHookFor(row, opts.foreground ?? false), passFds: [3, 4],
        ttySize: opts.consoleSize ? { rows: opts.consoleSize.height, cols: opts.consoleSize.width } : undefined,
      }).slice(0, -1); // stage 0 (berth-init and its arguments) follows after "--"
      // The monitor and stage 0 start now: their three execs (~4 ms) overlap with mounting the
      // root filesystem and building the spec below.
      const stage0 = {
        launcher: [MONITOR_BINARY, ...launcher], consoleSocket: cfg.tty ? paths.consoleSocket(id) : undefined,
        stdio: ["ignore", "ignore", "ignore"] as ["ignore", "ignore", "ignore"],
      };
      init = lazy.createModule().startCreateInit(stage0, cfg.tty);
      monitorPid = init.proc.pid;
      trace("start: monitor started");
      const spec = this.prepare(row, opts.consoleSize);
      trace("start: rootfs mounted, spec written");
      // Recording the pid, the network and the caller's attach happen while the init builds its root.
      let prepared: ContainerRow | undefined;
      const created = await createContainer(this.runtime, {
        id, bundle: paths.bundle(id), ...stage0, init, pidFile: paths.pidFile(id), spec,
        whileInitPrepares: async (record) => {
          prepared = this.store.updated(starting, { pid: record.pid, pidStart: record.pidStartTime, monitorPid });
          trace("start: pid recorded");
          if (usesBridge(cfg.network)) await this.setupBridge(prepared, record.pid);
          await opts.beforeStart?.(prepared);
          // The bundle's config.json, for whoever looks at the bundle (berth passes the spec
          // in-process): written while the init sets up, off the start's critical path.
          writeFileSync(join(paths.bundle(id), "config.json"), JSON.stringify(spec));
          trace("start: attached");
        },
      });
      trace("start: runtime created (monitor + init)");
      row = prepared!;
      this.runtimeRecords.set(id, created.record);
      await runtimeStart(this.runtime, id, (m) => this.warn(m), created.record);
      trace("start: started");
      return this.store.updated(row, { state: "running", startedAt: Date.now(), finishedAt: 0, exitCode: null, oomKilled: false });
    } catch (e) {
      const msg = (e as Error).message;
      const code = (e as { exitCode?: number }).exitCode;
      const err = e instanceof EngineError ? e
        : code === 127 || code === 126 ? commandFailure(msg, code)
        : new EngineError(msg.startsWith("OCI") ? msg : `failed to start container ${row.name}: ${msg}`);
      try {
        if (monitorPid) kill(monitorPid, SIGKILL);
        init?.closeControl(); // a stage 0 still waiting for its plan leaves
        await this.teardown(row, true);
      } catch (t) {
        this.warn(`cleanup after the failed start of ${row.name}: ${(t as Error).message}`);
      }
      // docker: a --rm container whose start failed is removed (as one that ran and exited).
      if (row.config.autoRemove) this.removeLocked(row, { volumes: true });
      else this.store.update(id, { state: previous, pid: 0, monitorPid: 0, error: err.message, exitCode: err.exitCode === EXIT_ENGINE ? 128 : err.exitCode });
      throw err;
    }
  }

  /** Bytes a container's own files take (writable layer, log, exit file, /etc files): what its
   *  removal gives back. Not its image's, and not through its mounted root filesystem. */
  diskUsage(id: string): number {
    const dir = this.paths.container(id);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return 0;
    }
    return names.filter((n) => n !== "rootfs").reduce((a, n) => a + treeSize(join(dir, n)), 0);
  }

  /**
   * `berth system prune`: stopped containers, dangling images (with the blobs and snapshots no image
   * needs any more), unused anonymous volumes with `volumes`, and what dead commands left in tmp/
   * (the reconcile before it removed those already: counted in `reclaimed`). Reports what the
   * disk got back. Waits for loads in progress (the image store's lock), never breaks one.
   */
  async prune(opts: { volumes?: boolean } = {}): Promise<PruneReport> {
    const containers: string[] = [];
    let bytes = 0;
    for (const v of this.list()) {
      if (v.running || v.status === "removing") continue;
      const size = this.diskUsage(v.row.id);
      if (!(await this.removeIfIdle(v.row.id))) continue;
      containers.push(v.row.id);
      bytes += size;
    }
    let volumes: string[] = [];
    if (opts.volumes) {
      const sizes = new Map(this.volumes.list().map((v) => [v.name, this.volumes.sizeOf(v.name)]));
      volumes = this.volumes.prune(false);
      bytes += volumes.reduce((a, n) => a + (sizes.get(n) ?? 0), 0);
    }
    const images = await this.images.prune();
    return { containers, images: images.deleted, volumes, reclaimedBytes: bytes + images.reclaimedBytes + this.reclaimed };
  }

  /** `berth system reset`: every container removed (stopped first), then every network's
   *  kernel objects, rules, leases and files, as after a reboot-like clean-up. Images stay. */
  async reset(): Promise<{ containers: number }> {
    let containers = 0;
    for (const v of this.list()) {
      await this.remove(v.row.id, { force: true, volumes: true });
      containers++;
    }
    const mgr = await this.networks();
    try {
      mgr.reset();
    } finally {
      mgr.close();
    }
    return { containers };
  }

  private async networks() {
    const { openNetworks } = await import("../network/index.ts");
    return openNetworks(this.root, this.opts.network ?? {});
  }

  private async setupBridge(row: ContainerRow, pid: number): Promise<void> {
    const { driverFor, parseNetworkMode } = await import("../network/index.ts");
    const mgr = await this.networks();
    try {
      const driver = driverFor(parseNetworkMode(row.config.network), { manager: mgr });
      driver.setup({
        containerId: row.id, netnsPath: `/proc/${pid}/ns/net`, name: row.name, hostname: row.config.hostname, domainname: row.config.domainname,
        filesDir: this.paths.filesDir(row.id), extraHosts: row.config.extraHosts, dns: row.config.dns,
        // hostPort 0 (-p 80, -P): the network picks a free port
        ports: row.config.publish.map((p) => ({ hostIp: p.hostIp, ...(p.hostPort ? { hostPort: p.hostPort } : {}), containerPort: p.containerPort, proto: p.proto })),
      });
    } finally {
      mgr.close();
    }
  }

  /** The ports as bound (a random host port is known only once the network published it). */
  async publishedPorts(row: ContainerRow): Promise<PortPublish[]> {
    const c = row.config;
    if (c.publish.length === 0 || !usesBridge(c.network) || !existsSync(join(this.root, "network")) || !this.observe(row).running) return c.publish;
    const mgr = await this.networks();
    try {
      return mgr.ports(row.id).map((b) => ({ hostIp: b.hostIp || "0.0.0.0", hostPort: b.hostPort, containerPort: b.containerPort, proto: b.proto }));
    } finally {
      mgr.close();
    }
  }

  // ---- exit and teardown ----

  /** The runtime's record of a previous run, if any: removed (its cgroup with it). */
  private async releaseRuntime(id: string): Promise<void> {
    const known = this.runtimeRecords.get(id);
    this.runtimeRecords.delete(id);
    if (existsSync(this.runtime.dir(id))) {
      await deleteContainer(this.runtime, id, true, (m) => this.warn(m), known);
      // Deleting a record this process made removed its group everywhere just now.
      if (known && !known.noCgroup) return;
    }
    try {
      // destroy() removes whatever part exists: a berth killed inside the runtime's create may
      // leave the group in some hierarchies only (exists() wants all of them).
      openCgroup({ containerId: id }).destroy();
    } catch { /* no cgroup */ }
  }

  /** Frees what a run holds: processes, cgroup, runtime state, network, rootfs mount, sockets. Idempotent. */
  async teardown(row: ContainerRow, killFirst = false): Promise<void> {
    const id = row.id;
    if (killFirst && row.pid && isAlive(row.pid, row.pidStart)) kill(row.pid, SIGKILL);
    await this.releaseRuntime(id);
    trace("teardown: runtime state and cgroup released");
    if (row.monitorPid > 0) {
      // The monitor leaves by itself once its container is reaped; wait for it briefly.
      for (let i = 0; i < 200 && isRunning(row.monitorPid); i++) await Bun.sleep(5);
      trace("teardown: monitor gone");
    }
    if (usesBridge(row.config.network) && existsSync(join(this.root, "network"))) {
      try {
        const mgr = await this.networks();
        try { mgr.release(id); } finally { mgr.close(); }
      } catch (e) {
        this.warn(`network cleanup of ${row.name}: ${(e as Error).message}`);
      }
    }
    if (overlayMounted(this.paths.rootfs(id))) unmountContainerRootfs(this.paths.container(id));
    trace("teardown: rootfs unmounted");
    for (const f of [this.paths.attachSocket(id), this.paths.consoleSocket(id)]) rmSync(f, { force: true });
  }

  /** Records how a run ended and frees its resources. Caller holds the lock. */
  finalizeLocked(row: ContainerRow): ContainerRow {
    const exit = this.exitOf(row);
    const code = exit ? (exit.startFailed ? (exit.exitCode >= 0 ? exit.exitCode : 128) : exit.exitCode) : 255;
    return this.store.updated(row, {
      state: "exited", pid: 0, monitorPid: 0, exitCode: code, oomKilled: exit?.oomKilled ?? false,
      finishedAt: exit ? Date.parse(exit.finishedAt) || Date.now() : Date.now(),
      error: exit?.error ?? (exit ? "" : "the container's monitor died before recording its exit status"),
    });
  }

  async finalize(row: ContainerRow): Promise<ContainerRow> {
    const done = this.finalizeLocked(row);
    await this.teardown(done);
    return done;
  }

  /** Waits until the container's process is gone, then settles it; returns its exit code. */
  async waitExit(id: string, signal?: AbortSignal): Promise<number> {
    let row = this.store.get(id);
    if (!row) throw new EngineError(`no such container: ${id}`);
    if (this.observe(row).running) await waitForRun(this, row, signal);
    const lock = await this.lock(id);
    try {
      row = this.store.get(id);
      if (!row) return 0;
      if (row.state === "running" || row.state === "paused" || row.state === "restarting") row = await this.finalize(row);
      return row.exitCode ?? 0;
    } finally {
      this.unlock(lock, id);
    }
  }

  // ---- stop, kill, remove ----

  async stop(ref: string, timeoutSec?: number): Promise<ContainerRow> {
    let row = this.find(ref);
    this.store.update(row.id, { stoppedByUser: true });
    if (this.observe(row).running) {
      const timeout = timeoutSec ?? row.config.stopTimeout;
      if (row.state === "paused") openCgroup({ containerId: row.id }).thaw();
      kill(row.pid, parseSignal(row.config.stopSignal));
      const deadline = Date.now() + Math.max(0, timeout) * 1000;
      while (isAlive(row.pid, row.pidStart) && Date.now() < deadline) await Bun.sleep(20);
      if (isAlive(row.pid, row.pidStart)) {
        try { openCgroup({ containerId: row.id }).killAll(SIGKILL); } catch { kill(row.pid, SIGKILL); }
        kill(row.pid, SIGKILL);
      }
      await waitForRun(this, row, undefined, 10_000);
    }
    const lock = await this.lock(row.id);
    try {
      row = this.store.get(row.id)!;
      if (row.state === "running" || row.state === "paused" || row.state === "restarting" || row.state === "starting") row = await this.finalize(row);
      return row;
    } finally {
      this.unlock(lock, row.id);
    }
  }

  kill(ref: string, signal: number): ContainerRow {
    const row = this.find(ref);
    if (!this.observe(row).running) throw new EngineError(`Cannot kill container: ${ref}: container ${row.id} is not running`);
    if (signal === SIGKILL || signal === 15) this.store.update(row.id, { stoppedByUser: true });
    if (!kill(row.pid, signal)) throw new EngineError(`Cannot kill container: ${ref}: the process is gone`);
    if (row.state === "paused" && signal === SIGKILL) openCgroup({ containerId: row.id }).thaw();
    return row;
  }

  async remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<ContainerRow> {
    const found = this.find(ref);
    if (opts.force && this.observe(found).running) {
      // Kill before taking the lock: a foreground client holds it until its container ends.
      this.store.update(found.id, { stoppedByUser: true });
      try { openCgroup({ containerId: found.id }).killAll(SIGKILL); } catch { /* fall back to the init */ }
      kill(found.pid, SIGKILL);
    }
    const lock = await this.lock(found.id);
    try {
      const row = this.store.get(found.id);
      if (!row) throw new EngineError(`no such container: ${ref}`);
      const view = this.observe(row);
      if (view.running && !opts.force) {
        throw new EngineError(`You cannot remove a ${view.status} container ${row.id}. Stop the container before attempting removal or force remove`);
      }
      this.store.update(row.id, { state: "removing", stoppedByUser: true });
      await this.teardown(row, true);
      this.removeLocked(row, opts);
      replenishReserve(this.root); // the disk may have been full: room for the next time
      return row;
    } finally {
      this.unlock(lock, found.id);
    }
  }

  /**
   * prune's removal: the container goes only if it is at rest — stopped, and no other berth is
   * working on it (its lock is free). A container a live `run` is creating or starting (it holds
   * the lock until its container is done) is left alone, as is one that started meanwhile.
   * Returns whether it was removed.
   */
  async removeIfIdle(id: string, opts: { volumes?: boolean } = {}): Promise<boolean> {
    const lock = this.tryLock(id);
    if (!lock) return false;
    try {
      const row = this.store.get(id);
      if (!row || (row.state !== "created" && row.state !== "exited" && row.state !== "dead") || this.observe(row).running) return false;
      this.store.update(row.id, { state: "removing", stoppedByUser: true });
      await this.teardown(row, true);
      this.removeLocked(row, opts);
      replenishReserve(this.root);
      return true;
    } finally {
      this.unlock(lock, id);
    }
  }

  /** Deletes the container's files, anonymous volumes (with volumes), image hold and row. */
  private removeLocked(row: ContainerRow, opts: { volumes?: boolean }): void {
    const dir = this.paths.container(row.id);
    // Never delete through a mounted root filesystem (an overlay has a device of its own).
    if (overlayMounted(join(dir, "rootfs"))) unmountContainerRootfs(dir);
    rmSync(dir, { recursive: true, force: true });
    this.store.remove(row.id);
    if (opts.volumes) {
      for (const m of row.config.mounts) {
        if (m.kind !== "volume") continue;
        const v = this.store.volume(m.source);
        if (v?.anonymous && this.volumes.users(v.name).length === 0) this.volumes.remove(v.name, true);
      }
    }
    rmSync(this.paths.lock(row.id), { force: true });
  }

  // ---- pause, rename ----

  /** Freezes the container; `why` marks a pause another berth command will undo (commit). */
  pause(ref: string, why = ""): ContainerRow {
    const row = this.find(ref);
    const v = this.observe(row);
    if (!v.running) throw new EngineError(`Container ${row.id} is not running`);
    if (v.status === "paused") throw new EngineError(`Container ${row.id} is already paused`);
    // Recorded first: if we die between the two steps, ps says paused and reconcile can undo it.
    this.store.update(row.id, { state: "paused", error: why });
    openCgroup({ containerId: row.id }).freeze();
    return row;
  }

  /** Pauses for a commit by this process; reconcile thaws it if this process dies first. */
  pauseForCommit(ref: string): ContainerRow {
    return this.pause(ref, commitPauseMark());
  }

  unpause(ref: string): ContainerRow {
    const row = this.find(ref);
    if (this.observe(row).status !== "paused") throw new EngineError(`Container ${row.id} is not paused`);
    openCgroup({ containerId: row.id }).thaw();
    this.store.update(row.id, { state: "running", error: "" });
    return row;
  }

  rename(ref: string, name: string): void {
    const row = this.find(ref);
    if (!validName(name)) throw new UsageError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (row.name === name) throw new EngineError(`Renaming a container with the same name as its current name`);
    if (this.store.nameTaken(name)) throw new EngineError(`Error when allocating new name: Conflict. The container name "/${name}" is already in use by container "${this.store.byName(name)!.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    this.store.update(row.id, { name });
  }

  // ---- reconcile and the exit hook ----

  /**
   * Settles what a killed berth left (rows in flight whose lock is free): an unfinished create is
   * rolled back (a `run` that died before its container started included), an unfinished start
   * or a dead container is finalized (removed if --rm), an unfinished rm completed, a container a
   * dead commit froze is thawed, and the temporaries of dead loads, imports and commits go.
   */
  async reconcile(): Promise<void> {
    this.reclaimed += removeDeadTemporaries(this.paths.tempDir);
    for (const row of this.store.active()) {
      const live = row.pid > 0 && isAlive(row.pid, row.pidStart);
      if (row.state === "paused" && live && row.error.startsWith(COMMIT_PAUSE)) {
        // A commit froze it and died before thawing it.
        if (!commitPauserAlive(row.error)) {
          try { this.unpause(row.id); } catch (e) { this.warn(`thaw ${row.name} after a dead commit: ${(e as Error).message}`); }
        }
        continue;
      }
      if ((row.state === "running" || row.state === "paused" || row.state === "restarting") && live) continue;
      // An exit hook is waiting out its back-off (without the lock) and will start it again.
      if (row.state === "restarting" && Date.now() - row.finishedAt < 75_000) continue;
      const lock = this.tryLock(row.id);
      if (!lock) continue; // someone is working on it right now
      try {
        const cur = this.store.get(row.id);
        if (!cur) continue;
        switch (cur.state) {
          case "creating":
            await this.teardown(cur, true);
            this.removeLocked(cur, { volumes: true });
            break;
          case "starting": {
            const v = this.observe(cur);
            if (v.running) this.store.update(cur.id, { state: "running", startedAt: cur.startedAt || Date.now() });
            else {
              await this.teardown(cur, true);
              // A --rm container whose start never completed goes, as after a failed start.
              if (cur.config.autoRemove) this.removeLocked(cur, { volumes: true });
              else this.store.update(cur.id, { state: cur.startedAt ? "exited" : "created", pid: 0, monitorPid: 0 });
            }
            break;
          }
          case "removing":
            await this.teardown(cur, true);
            this.removeLocked(cur, {});
            break;
          case "running":
          case "paused":
          case "restarting":
            // Re-read under the lock: it may have moved on since the list was taken.
            if (cur.state === "restarting" && Date.now() - cur.finishedAt < 75_000) break;
            if (!(cur.pid > 0 && isAlive(cur.pid, cur.pidStart))) {
              const done = await this.finalize(cur);
              if (done.config.autoRemove) this.removeLocked(done, { volumes: true });
            }
            break;
          default:
            break; // at rest (created, exited): nothing to settle
        }
      } catch (e) {
        this.warn(`reconcile ${row.name}: ${(e as Error).message}`);
      } finally {
        this.unlock(lock, row.id);
      }
    }
  }

  /** `berth internal exit ID`, run by the monitor once the container ended: settle, then --rm or restart. */
  async onExit(id: string): Promise<void> {
    let delay = 0;
    // Removed already (rm -f kills, then removes): taking the lock would recreate its file.
    if (!this.store.get(id)) return;
    const lock = await this.lock(id);
    try {
      let row = this.store.get(id);
      if (!row) return; // removed while we waited (unlock drops the lock file)
      // A newer run may already be going (restart, start): this hook belonged to an older one.
      if (this.observe(row).running) return;
      if (row.state === "running" || row.state === "paused" || row.state === "restarting") row = await this.finalize(row);
      if (row.state !== "exited") return;
      if (row.config.autoRemove) {
        this.store.update(id, { state: "removing" });
        await this.teardown(row);
        this.removeLocked(row, { volumes: true });
        return;
      }
      if (!shouldRestart(row)) return;
      this.store.update(id, { state: "restarting", restartCount: row.restartCount + 1 });
      // docker's back-off: 100 ms doubling per consecutive quick restart, at most 1 minute
      delay = row.finishedAt - row.startedAt > 10_000 ? 100 : Math.min(60_000, 100 * 2 ** Math.min(row.restartCount, 10));
    } finally {
      this.unlock(lock, id);
    }
    // Wait without the lock, so `stop` or `rm` can cancel the restart meanwhile.
    await Bun.sleep(delay);
    const again = await this.lock(id);
    try {
      const cur = this.store.get(id);
      if (!cur || cur.state !== "restarting") return;
      if (cur.stoppedByUser) {
        this.store.update(id, { state: "exited" });
        return;
      }
      await this.startLocked(id, {}, true);
    } finally {
      this.unlock(again, id);
    }
  }

  /** `berth start --all` at boot: every container whose policy says it should be running. */
  async startAll(): Promise<{ started: string[]; failed: { name: string; error: string }[] }> {
    const started: string[] = [];
    const failed: { name: string; error: string }[] = [];
    for (const v of this.list()) {
      const p = v.row.config.restart.name;
      if (v.running) continue;
      if (p === "always" || (p === "unless-stopped" && !v.row.stoppedByUser)) {
        try {
          await this.start(v.row.id);
          started.push(v.row.name);
        } catch (e) {
          failed.push({ name: v.row.name, error: (e as Error).message });
        }
      }
    }
    return { started, failed };
  }
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

/** none, host and container:OTHER need no bridge endpoint. */
function usesBridge(network: string): boolean {
  return network !== "none" && network !== "host" && !network.startsWith("container:");
}

function overlayMounted(rootfs: string): boolean {
  try {
    return statSync(rootfs).dev !== statSync(dirname(rootfs)).dev;
  } catch {
    return false;
  }
}


/** Resolves once the run's exit file exists (or the init is gone and no monitor will write it). */
async function waitForRun(engine: Engine, row: ContainerRow, signal?: AbortSignal, timeoutMs?: number): Promise<void> {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal?.addEventListener("abort", onAbort);
  const timer = timeoutMs ? setTimeout(() => ac.abort(), timeoutMs) : undefined;
  // If the monitor itself is gone there will never be an exit file: poll liveness as well.
  const poll = setInterval(() => {
    if (!isAlive(row.pid, row.pidStart) && (!row.monitorPid || !isRunning(row.monitorPid))) ac.abort();
  }, 250);
  try {
    await waitExitFile(engine.paths.exitFile(row.id), ac.signal);
  } catch {
    if (signal?.aborted) throw new EngineError("interrupted");
  } finally {
    clearInterval(poll);
    if (timer) clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

export function openEngine(root: string = DEFAULT_ENGINE_ROOT, opts: EngineOptions = {}): Engine {
  return new Engine(root, opts);
}

export { DEFAULT_ENGINE_ROOT };
export type { CreateRequest };
