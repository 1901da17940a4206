// The cgroup manager: one object per container (or per named group of the cgroup tool) that owns
// the group's directory in every hierarchy it uses. Each controller is served from where the
// kernel bound it — a v1 mount, or the unified (v2) hierarchy — so v1, v2 and hybrid hosts are
// one code path with two backends (v1 files / v2 files) chosen per controller.
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { LinuxResources } from "../oci/spec.ts";
import { CgroupError, parseFlatKeyed, readControl, readOptional, writeControl } from "./files.ts";
import { type CgroupLayout, DEFAULT_ROOT, discoverHierarchies, type Hierarchies } from "./layout.ts";
import { type CgroupMount, type ProcCgroup, readProcCgroup } from "./mountinfo.ts";
import { type CgroupPath, cgroupDir, DEFAULT_PARENT, ownCgroup, parseCgroupsPath } from "./path.ts";
import { type ControllerHome, type Homes, planResources, type Step, type Write } from "./resources.ts";
import { type CgroupStats, readStats } from "./stats.ts";
import { deviceProgram, encodeProgram } from "./device-program.ts";
import { setDevicePrograms } from "./bpf.ts";
import { kill } from "../sys/libc.ts";

export interface CgroupManager {
  readonly layout: CgroupLayout;
  /** controller (or "unified") -> absolute directory */
  paths(): Record<string, string>;
  /** mkdir in every hierarchy; idempotent */
  create(): void;
  /** write all limits; throws a CgroupError naming the field when a value has no home or is refused */
  apply(resources: LinuxResources): void;
  /** live update of a running group (honours memory.checkBeforeUpdate) */
  update(resources: LinuxResources): void;
  /** move a process (all its threads) into every hierarchy */
  addProcess(pid: number): void;
  /** every cgroup.procs file a joining process must write its pid to (the cgroup tool's exec) */
  procsFiles(): string[];
  /** how the C core moves a new container process in without the kernel's slow path (see CgroupEntry) */
  entry(): CgroupEntry;
  /** The directories create() makes, for a caller that has them made elsewhere (see CgroupMkdir);
   *  undefined when create() must run here (v2 controllers to enable in the parents). */
  toMake(): CgroupMkdir[] | undefined;
  /** every pid in the group, including sub-groups */
  pids(): number[];
  freeze(): void;
  thaw(): void;
  frozen(): boolean;
  stats(): CgroupStats;
  /** OOM kills inside the group so far (0 when no memory controller is in use) */
  oomKillCount(): number;
  /** the control file whose oom_kill counter counts those kills (v1 memory.oom_control, v2
   *  memory.events), for a process that watches it (the engine's monitor); undefined without a
   *  memory controller */
  oomEventsFile(): string | undefined;
  killAll(signal?: number): void;
  /** kill leftovers, then remove the group everywhere (retrying while the kernel releases it) */
  destroy(): void;
  /** whether the group's directory exists in every hierarchy it uses */
  exists(): boolean;
}

export interface OpenCgroupOptions {
  cgroupsPath?: string;
  containerId: string;
  /** where the hierarchies are mounted (default /sys/fs/cgroup); a cgroup2 mount point gives a pure v2 manager */
  root?: string;
  /** use only these controllers (the cgroup tool's -g); default: every mounted controller */
  controllers?: string[];
}

export const KNOWN_CONTROLLERS = [
  "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "net_prio", "blkio", "io",
  "pids", "hugetlb", "perf_event", "rdma", "misc",
] as const;

const SIGKILL = 9;
const WAIT_MS = 10_000;

function sleep(ms: number): void {
  Bun.sleepSync(ms);
}

export function describeHierarchies(h: Hierarchies): string {
  const v1 = [...h.v1.keys()].sort().join(", ");
  const v2 = [...h.v2Controllers].sort().join(", ") || "no controllers";
  const parts: string[] = [];
  if (h.v1.size) parts.push(`cgroup v1 has ${v1} under ${h.root}`);
  if (h.unified) parts.push(`the unified hierarchy at ${h.unified.mountPoint} has ${v2}`);
  return `layout ${h.layout}: ${parts.join("; ")}`;
}

/**
 * Writing a pid to cgroup.procs takes the kernel's global threadgroup lock for writing, which waits
 * for an RCU grace period: 5-25 ms for the first migration after a quiet moment. Two ways in skip
 * it: a single-threaded process writing "0" to a v1 hierarchy's `tasks` moves only itself (no
 * lock), and clone3(CLONE_INTO_CGROUP) starts a child directly in a v2 group.
 */
export interface CgroupEntry {
  /** v1 `tasks` files of the group: the C core writes "0" (itself) before it clones the init */
  tasks: string[];
  /** the v2 group: the init is cloned straight into it */
  cloneInto?: string;
  /** v1 `tasks` files of the caller's own groups: where a long-lived stage 0 goes back to */
  homeTasks: string[];
}

/**
 * One group directory to make below its hierarchy's mount point, parents first, as create() does
 * (the C core does it while TypeScript builds the plan: mkdir in ten hierarchies is ~2 ms here).
 * `cpuset`: a v1 cpuset directory made anew copies its parent's cpuset.cpus and cpuset.mems,
 * without which the kernel refuses tasks.
 */
export interface CgroupMkdir {
  mountPoint: string;
  dir: string;
  cpuset: boolean;
}

class Manager implements CgroupManager {
  readonly layout: CgroupLayout;
  private readonly v1Dirs = new Map<string, string>();
  private readonly v1Mounts = new Map<string, CgroupMount>();
  private readonly unifiedDir?: string;
  /** controllers this group may use on the unified hierarchy */
  private readonly v2Used: string[] = [];
  /**
   * Whether create() enables v2Used in the parents' subtree_control. When controllers were named
   * explicitly (the cgroup tool) yes; for a container, only once a limit needs one (apply/update),
   * so a host's unified tree is not changed for groups that set no v2 limit.
   */
  private readonly enableOnCreate: boolean;

  constructor(private readonly h: Hierarchies, path: CgroupPath, private readonly self: ProcCgroup[], subset?: string[]) {
    this.layout = h.layout;
    const wanted = subset ? new Set(subset) : undefined;
    this.enableOnCreate = wanted !== undefined;
    for (const c of wanted ?? []) {
      if (c === "unified") {
        if (!h.unified) throw new CgroupError(`"unified" asked for, but no cgroup v2 hierarchy is mounted (${describeHierarchies(h)})`);
        continue;
      }
      if (c.startsWith("name=") && h.v1.has(c)) continue; // a named hierarchy (name=systemd) mounted here
      if (!(KNOWN_CONTROLLERS as readonly string[]).includes(c)) {
        throw new CgroupError(`unknown controller ${JSON.stringify(c)}; known controllers: ${KNOWN_CONTROLLERS.join(", ")}`);
      }
      if (!h.v1.has(c) && !h.v2Controllers.has(c) && !(c === "freezer" && h.unified) && !(c === "devices" && h.unified)) {
        throw new CgroupError(`controller ${c} is not mounted on this host (${describeHierarchies(h)})`);
      }
    }
    for (const [c, mount] of h.v1) {
      if (wanted && !wanted.has(c)) continue;
      this.v1Dirs.set(c, cgroupDir(mount, path, self));
      this.v1Mounts.set(c, mount);
    }
    if (h.unified) {
      for (const c of h.v2Controllers) if (!h.v1.has(c) && (!wanted || wanted.has(c) || wanted.has("unified"))) this.v2Used.push(c);
      // freeze/kill/devices-by-eBPF are core v2 features: use the unified group for them when v1 lacks them.
      const coreFromV2 = wanted && ((wanted.has("freezer") && !h.v1.has("freezer")) || (wanted.has("devices") && !h.v1.has("devices")));
      if (!wanted || wanted.has("unified") || this.v2Used.length || coreFromV2) this.unifiedDir = cgroupDir(h.unified, path, self);
    }
  }

  private find = (controller: string): ControllerHome | undefined => {
    const v1 = this.v1Dirs.get(controller);
    if (v1) return { version: 1, dir: v1 };
    if (this.unifiedDir && this.v2Used.includes(controller)) return { version: 2, dir: this.unifiedDir };
    return undefined;
  };

  /** Homes for planning writes: a v2 controller is enabled in the parents the first time a limit needs it. */
  private homes(): Homes {
    const find = (controller: string) => {
      const home = this.find(controller);
      if (home?.version === 2 && existsSync(home.dir)) this.enableV2Controllers([controller]);
      return home;
    };
    return { find, unifiedDir: this.unifiedDir, describe: () => describeHierarchies(this.h) };
  }

  paths(): Record<string, string> {
    const out: Record<string, string> = Object.fromEntries(this.v1Dirs);
    if (this.unifiedDir) out.unified = this.unifiedDir;
    return out;
  }

  private dirs(): string[] {
    return [...new Set(Object.values(this.paths()))];
  }

  exists(): boolean {
    return this.dirs().every((d) => existsSync(d));
  }

  create(): void {
    this.createTracked();
  }

  /** Creates every directory; returns the ones made now (deepest last) so a failed apply can undo them. */
  private createTracked(): string[] {
    const made: string[] = [];
    try {
      for (const [c, dir] of this.v1Dirs) {
        const mount = this.v1Mounts.get(c)!;
        const fresh = this.mkdirs(dir, mount.mountPoint);
        made.push(...fresh);
        // A new v1 cpuset starts with no CPUs and no memory nodes, and refuses tasks until both are set.
        // (checked per mount, since cpuset may share a mount with other controllers).
        if (mount.controllers.includes("cpuset")) for (const d of fresh) this.inheritCpuset(d);
      }
      if (this.unifiedDir) {
        const mountPoint = this.h.unified!.mountPoint;
        made.push(...this.mkdirs(this.unifiedDir, mountPoint));
        if (this.enableOnCreate) this.enableV2Controllers(this.v2Used);
      }
    } catch (e) {
      this.removeDirs(made);
      throw e;
    }
    return made;
  }

  private mkdirs(dir: string, mountPoint: string): string[] {
    // Usually the parent is there: one mkdir, no walk.
    try {
      mkdirSync(dir);
      return [dir];
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return [];
      if (code !== "ENOENT") throw new CgroupError(`cannot create cgroup ${dir}: ${code}${code === "EACCES" || code === "EPERM" ? " (need root or a delegated cgroup)" : ""}`);
    }
    // A concurrent destroy may remove the shared, empty parent between our mkdirs (ENOENT):
    // start again from the top.
    for (let attempt = 0; ; attempt++) {
      const missing: string[] = [];
      for (let d = dir; d !== mountPoint && d.startsWith(mountPoint) && !existsSync(d); d = dirname(d)) missing.unshift(d);
      try {
        for (const d of missing) {
          try {
            mkdirSync(d);
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === "ENOENT" && attempt < 5) throw e;
            if (code !== "EEXIST") throw new CgroupError(`cannot create cgroup ${d}: ${code}${code === "EACCES" || code === "EPERM" ? " (need root or a delegated cgroup)" : ""}`);
          }
        }
        return missing;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
    }
  }

  /** The parent may be new and still empty too (another process made it a moment ago): it is
   *  filled first, the same way. */
  private inheritCpuset(dir: string, depth = 0): void {
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      if (readControl(join(dir, file)).trim() !== "") continue;
      let value = readControl(join(dirname(dir), file)).trim();
      if (value === "" && depth < 64) {
        this.inheritCpuset(dirname(dir), depth + 1);
        value = readControl(join(dirname(dir), file)).trim();
      }
      writeControl(join(dir, file), value);
    }
  }

  /** Enables v2 controllers in every ancestor's cgroup.subtree_control (as runc does). */
  private enableV2Controllers(controllers: string[]): void {
    if (!controllers.length || !this.unifiedDir) return;
    const dir = this.unifiedDir, mountPoint = this.h.unified!.mountPoint;
    const chain: string[] = [];
    for (let d = dirname(dir); d.startsWith(mountPoint); d = dirname(d)) {
      chain.unshift(d);
      if (d === mountPoint) break;
    }
    for (const d of chain) {
      const enabled = new Set((readOptional(join(d, "cgroup.subtree_control")) ?? "").trim().split(/\s+/));
      const missing = controllers.filter((c) => !enabled.has(c));
      // A group that holds processes cannot enable domain controllers ("no internal processes");
      // that surfaces later as a clear ENOENT on the controller's files, so it is not fatal here.
      // One controller per write: the kernel rejects the whole line if any one of them fails.
      for (const c of missing) try { writeControl(join(d, "cgroup.subtree_control"), `+${c}`); } catch { /* see above */ }
    }
  }

  apply(resources: LinuxResources): void {
    const made = this.createTracked();
    try {
      this.run(planResources(resources, this.homes()));
    } catch (e) {
      this.removeDirs(made);
      throw e;
    }
  }

  update(resources: LinuxResources): void {
    const missing = this.dirs().filter((d) => !existsSync(d));
    if (missing.length) throw new CgroupError(`cannot update: cgroup ${missing[0]} does not exist (is the container running?)`);
    const steps = planResources(resources, this.homes());
    const saved = snapshotValues(steps);
    try {
      this.run(steps);
    } catch (e) {
      // The kernel may refuse a later write (e.g. a cpuset outside the parent's): put back
      // what the earlier ones changed, so a failed update changes nothing, as runc does.
      restoreValues(saved);
      throw e;
    }
  }

  private run(steps: Step[]): void {
    const write = (x: Write) => {
      try {
        writeControl(x.file, x.value);
      } catch (e) {
        // v1 RT bandwidth is hierarchical: a child can never get more than its parent holds.
        const hint = x.file.endsWith("cpu.rt_runtime_us") && (e as { code?: string }).code === "EINVAL"
          ? `; a group's RT runtime cannot exceed its parent's, so raise ${join(dirname(dirname(x.file)), "cpu.rt_runtime_us")} first`
          : /cpuset\.(cpus|mems)$/.test(x.file) && ["ERANGE", "EINVAL"].includes((e as { code?: string }).code ?? "")
            ? `; the ${x.file.endsWith("cpus") ? "CPUs" : "memory nodes"} must be among the parent's (${readOptional(join(dirname(dirname(x.file)), x.file.endsWith("cpus") ? "cpuset.effective_cpus" : "cpuset.effective_mems"))?.trim() || "see its cpuset files"})`
            : "";
        const err = new CgroupError(`${x.field}: ${(e as Error).message}${hint}`);
        (err as { code?: string }).code = (e as { code?: string }).code;
        throw err;
      }
    };
    for (const step of steps) {
      switch (step.kind) {
        case "write": write(step); break;
        case "pair":
          // e.g. raising memory.limit above memsw must write memsw first, lowering must not.
          try {
            write(step.first);
            write(step.second);
          } catch (first) {
            try {
              write(step.second);
              write(step.first);
            } catch {
              throw first;
            }
          }
          break;
        case "check-usage": {
          const usage = Number(readControl(step.usageFile).trim());
          if (usage > step.limit) {
            throw new CgroupError(`${step.field}: the new limit ${step.limit} is below the current usage ${usage} (checkBeforeUpdate is set); free memory first or pick a higher limit`);
          }
          break;
        }
        case "bpf-devices":
          setDevicePrograms(step.dir, encodeProgram(deviceProgram(step.rules)));
          break;
      }
    }
  }

  addProcess(pid: number): void {
    if (!Number.isInteger(pid) || pid <= 0) throw new CgroupError(`invalid pid ${pid}: must be a positive integer`);
    if (!existsSync(`/proc/${pid}`)) throw new CgroupError(`no process with pid ${pid}`);
    for (const file of this.procsFiles()) {
      if (!existsSync(dirname(file))) throw new CgroupError(`cgroup ${dirname(file)} does not exist; create it first`);
      writeControl(file, String(pid));
    }
  }

  procsFiles(): string[] {
    return this.dirs().map((d) => join(d, "cgroup.procs"));
  }

  toMake(): CgroupMkdir[] | undefined {
    if (this.unifiedDir && this.enableOnCreate && this.v2Used.length) return undefined;
    const out: CgroupMkdir[] = [];
    for (const [c, dir] of this.v1Dirs) {
      const mount = this.v1Mounts.get(c)!;
      if (!out.some((m) => m.dir === dir)) out.push({ mountPoint: mount.mountPoint, dir, cpuset: mount.controllers.includes("cpuset") });
    }
    if (this.unifiedDir) out.push({ mountPoint: this.h.unified!.mountPoint, dir: this.unifiedDir, cpuset: false });
    return out;
  }

  entry(): CgroupEntry {
    const tasks: string[] = [], homeTasks: string[] = [];
    const seen = new Set<string>();
    for (const [c, dir] of this.v1Dirs) {
      if (seen.has(dir)) continue; // co-mounted controllers (cpu,cpuacct) share one directory
      seen.add(dir);
      const mount = this.v1Mounts.get(c)!;
      tasks.push(join(dir, "tasks"));
      homeTasks.push(join(mount.mountPoint, ownCgroup(mount, this.self), "tasks"));
    }
    return { tasks, homeTasks, ...(this.unifiedDir ? { cloneInto: this.unifiedDir } : {}) };
  }

  pids(): number[] {
    const all = new Set<number>();
    const walk = (dir: string) => {
      const text = readOptional(join(dir, "cgroup.procs"));
      if (text === undefined) return;
      for (const line of text.split("\n")) if (line) all.add(Number(line));
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name));
    };
    for (const d of this.dirs()) walk(d);
    return [...all].sort((a, b) => a - b);
  }

  /** Where freezing happens: the v1 freezer if mounted, else the unified group's cgroup.freeze. */
  private freezer(): ControllerHome {
    const v1 = this.v1Dirs.get("freezer");
    if (v1) return { version: 1, dir: v1 };
    if (this.unifiedDir) return { version: 2, dir: this.unifiedDir };
    throw new CgroupError(`cannot freeze: no freezer (v1) and no cgroup v2 group in use (${describeHierarchies(this.h)})`);
  }

  private setFrozen(want: boolean): void {
    const f = this.freezer();
    const deadline = Date.now() + WAIT_MS;
    for (let i = 0; ; i++) {
      // v1 may sit in FREEZING while tasks are busy in the kernel; re-asking nudges them again.
      if (i % 10 === 0) {
        if (f.version === 1) writeControl(join(f.dir, "freezer.state"), want ? "FROZEN" : "THAWED");
        else writeControl(join(f.dir, "cgroup.freeze"), want ? "1" : "0");
      }
      if (this.frozen() === want) return;
      if (Date.now() > deadline) {
        if (want) this.setFrozen(false);
        throw new CgroupError(`cgroup ${f.dir} did not ${want ? "freeze" : "thaw"} within ${WAIT_MS / 1000}s; a task may be stuck in the kernel (see /proc/PID/stack)`);
      }
      sleep(Math.min(1 + i, 20));
    }
  }

  freeze(): void {
    this.setFrozen(true);
  }

  thaw(): void {
    this.setFrozen(false);
  }

  frozen(): boolean {
    const f = this.freezer();
    if (f.version === 1) return readControl(join(f.dir, "freezer.state")).trim() === "FROZEN";
    return parseFlatKeyed(readControl(join(f.dir, "cgroup.events"))).frozen === 1;
  }

  stats(): CgroupStats {
    return readStats(this.find, this.unifiedDir);
  }

  oomKillCount(): number {
    const file = this.oomEventsFile();
    return file ? parseFlatKeyed(readControl(file)).oom_kill ?? 0 : 0;
  }

  oomEventsFile(): string | undefined {
    const home = this.find("memory");
    if (!home) return undefined;
    return join(home.dir, home.version === 1 ? "memory.oom_control" : "memory.events");
  }

  killAll(signal: number = SIGKILL): void {
    if (signal === SIGKILL && this.unifiedDir && existsSync(join(this.unifiedDir, "cgroup.kill"))) {
      writeControl(join(this.unifiedDir, "cgroup.kill"), "1");
    }
    let canFreeze = this.v1Dirs.has("freezer") || this.unifiedDir !== undefined;
    const deadline = Date.now() + WAIT_MS;
    for (let round = 0; ; round++) {
      const pids = this.pids();
      if (pids.length === 0) return;
      if (round > 0 && signal !== SIGKILL) return; // one delivery is enough for catchable signals
      // Freezing first stops a fork bomb from outrunning the loop; frozen tasks die when thawed.
      let froze = false;
      if (canFreeze) try { this.freeze(); froze = true; } catch { canFreeze = false; }
      for (const pid of this.pids()) kill(pid, signal);
      if (froze) this.thaw();
      if (signal !== SIGKILL) return;
      if (Date.now() > deadline) throw new CgroupError(`processes ${this.pids().join(" ")} survived SIGKILL for ${WAIT_MS / 1000}s (stuck in uninterruptible sleep?)`);
      sleep(Math.min(1 + round * 2, 20));
    }
  }

  destroy(): void {
    // An empty group goes with one rmdir per hierarchy; the kernel refuses it while processes
    // (EBUSY) or child groups (ENOTEMPTY) remain, and only those groups take the careful way.
    const present: string[] = [], rest: string[] = [];
    for (const d of this.dirs()) {
      try {
        rmdirSync(d);
        present.push(d);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
        present.push(d);
        rest.push(d);
      }
    }
    if (!present.length) return;
    if (rest.length && this.pids().length) this.killAll(SIGKILL);
    for (const d of rest) this.removeTree(d);
    // The default parent (/berth) goes with its last container; another container's create
    // that races with this rmdir sees ENOENT and makes it again (mkdirs).
    for (const d of present) {
      const parent = dirname(d);
      if (basename(parent) !== DEFAULT_PARENT) continue;
      try { rmdirSync(parent); } catch { /* still in use (EBUSY/ENOTEMPTY) or gone */ }
    }
  }

  /** rmdir children first; retry EBUSY while exiting tasks are still being released by the kernel. */
  private removeTree(dir: string): void {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) this.removeTree(join(dir, entry.name));
    for (let attempt = 0; ; attempt++) {
      try {
        rmdirSync(dir);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return;
        if ((code === "EBUSY" || code === "ENOTEMPTY") && attempt < 100) {
          sleep(Math.min(1 + attempt, 50));
          continue;
        }
        throw new CgroupError(`cannot remove cgroup ${dir}: ${code}${code === "EBUSY" ? " (it still has processes or sub-groups)" : ""}`);
      }
    }
  }

  private removeDirs(made: string[]): void {
    for (const d of [...made].reverse()) {
      try { if (statSync(d).isDirectory()) rmdirSync(d); } catch { /* best effort: undoing our own fresh mkdirs */ }
    }
  }
}

export function openCgroup(opts: OpenCgroupOptions): CgroupManager {
  const { h, self } = hostView(opts.root ?? DEFAULT_ROOT);
  const path = parseCgroupsPath(opts.cgroupsPath, opts.containerId);
  return new Manager(h, path, self, opts.controllers);
}

// The mounted hierarchies and our own groups, read once per command rather than per container
// operation (one `run` opens the same group several times); kept for a moment only, so a
// long-lived process (tests, the API service) sees a remount or a move.
const HOST_VIEW_TTL_MS = 1000;
const hostViews = new Map<string, { at: number; h: Hierarchies; self: ProcCgroup[] }>();

function hostView(root: string): { h: Hierarchies; self: ProcCgroup[] } {
  const now = performance.now();
  const cached = hostViews.get(root);
  if (cached && now - cached.at < HOST_VIEW_TTL_MS) return cached;
  const view = { at: now, h: discoverHierarchies(root), self: readProcCgroup("self") };
  hostViews.set(root, view);
  return view;
}

/** Files whose whole content can be written back as read (one value, one line). Rule lists and
 *  per-device files (devices.*, io.max, blkio throttles, ifpriomap, rdma) are not restorable this way. */
function restorable(file: string): boolean {
  const name = file.slice(file.lastIndexOf("/") + 1);
  return !/^devices\.|throttle|ifpriomap|^io\.max$|^rdma\./.test(name);
}

function snapshotValues(steps: Step[]): { file: string; value: string }[] {
  const files: string[] = [];
  for (const step of steps) {
    if (step.kind === "write") files.push(step.file);
    else if (step.kind === "pair") files.push(step.first.file, step.second.file);
  }
  const saved: { file: string; value: string }[] = [];
  for (const file of new Set(files)) {
    if (!restorable(file)) continue;
    const value = readOptional(file)?.trim();
    if (value !== undefined && !value.includes("\n")) saved.push({ file, value });
  }
  return saved;
}

function restoreValues(saved: { file: string; value: string }[]): void {
  // Twice, in reverse: pairs such as memory limit and memsw only accept one order at a time.
  for (let pass = 0; pass < 2; pass++) {
    for (const { file, value } of [...saved].reverse()) {
      try {
        writeControl(file, value);
      } catch { /* best effort; the original error is what the caller reports */ }
    }
  }
}
