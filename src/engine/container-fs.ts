// A container's file tree as its processes see it (the root filesystem with every bind mount,
// volume and tmpfs on top, each with its read-only flag), for `berth cp`. Two ways in:
//  - live, while the container runs: /proc/PID/root, the container's own mount namespace. The
//    kernel crosses every mount, a tmpfs included, and refuses writes to a read-only one.
//  - offline, when it does not: the root filesystem mounted on the host, each bind mount and
//    volume reached in its host directory. A tmpfs has no contents then (it starts empty at each
//    start) and proc or sysfs do not exist, so paths on them are refused with a reason.
// Paths are walked one component at a time from a directory fd (openat2 with O_NOFOLLOW and
// RESOLVE_BENEATH), and symlinks are resolved here against the container's root: no link, nor a
// race that swaps one in, leads outside. Whether a path may be written is one rule for both ways:
// the innermost mount covering the resolved path decides (docker's words for the refusals).
import { closeSync, fstatSync, openSync, constants } from "node:fs";
import { join, posix } from "node:path";
import { AT_FDCWD, O_PATH, RESOLVE, SyscallError, openat2, readlinkFd } from "../sys/libc.ts";
import { isAlive } from "../runtime/proc.ts";
import { mountContainerRootfs, unmountContainerRootfs, isMountPoint } from "../storage/overlay.ts";
import { baseMounts } from "./base-mounts.ts";
import type { Engine } from "./engine.ts";
import type { ContainerConfig, ContainerRow } from "./types.ts";
import type { EnginePaths } from "./paths.ts";
import { EngineError } from "./errors.ts";

const O_CLOEXEC = 0o2000000;
const MAX_LINKS = 40; // the kernel's own limit (ELOOP)

export type MountKind = "root" | "bind" | "volume" | "tmpfs" | "kernel";

/** One mount of the container as its config says: where, what, and whether read-only. */
export interface TreeMount {
  destination: string;
  kind: MountKind;
  readOnly: boolean;
  /** The file system type (proc, sysfs, tmpfs…) or "bind"/"volume"/"rootfs". */
  fstype: string;
  /** Offline: the host directory (or file) holding a bind mount's or volume's contents. */
  host?: string;
}

/** Every mount of the container, in the order the runtime makes them (a later one covers an earlier one at the same place). */
export function mountTable(cfg: ContainerConfig, paths: EnginePaths): TreeMount[] {
  const out: TreeMount[] = [{ destination: "/", kind: "root", readOnly: cfg.readOnly, fstype: "rootfs" }];
  for (const m of baseMounts(cfg)) {
    out.push({ destination: m.destination, kind: m.type === "tmpfs" ? "tmpfs" : "kernel", readOnly: (m.options ?? []).includes("ro"), fstype: m.type ?? "" });
  }
  for (const m of cfg.mounts) {
    if (m.kind === "tmpfs") out.push({ destination: m.destination, kind: "tmpfs", readOnly: m.readOnly, fstype: "tmpfs" });
    else out.push({ destination: m.destination, kind: m.kind, readOnly: m.readOnly, fstype: m.kind, host: m.kind === "bind" ? m.source : paths.volumeData(m.source) });
  }
  return out;
}

const covers = (dest: string, path: string) => dest === "/" || path === dest || path.startsWith(`${dest}/`);

/** The innermost mount covering a resolved container path (the last one made, at equal depth). */
export function mountAt(mounts: readonly TreeMount[], path: string): TreeMount {
  let best = mounts[0]!;
  for (const m of mounts) if (covers(m.destination, path) && m.destination.length >= best.destination.length) best = m;
  return best;
}

/** Why a path may not be written, or null when it may: one rule for a running and a stopped container. */
export function writeRefusal(mounts: readonly TreeMount[], live: boolean, path: string): string | null {
  const m = mountAt(mounts, path);
  if (m.kind === "kernel") return kernelFs(m, path);
  if (m.kind === "tmpfs" && !live) return tmpfsOffline(m, path);
  if (!m.readOnly) return null;
  return m.kind === "root"
    ? `container rootfs is marked read-only: cannot copy to ${path} (--read-only; a volume or tmpfs mounted there can be written)`
    : `mounted volume is marked read-only: cannot copy to ${path} (${m.destination} is mounted read-only)`;
}

/** Why a path cannot be read, or null when it can. */
export function readRefusal(mounts: readonly TreeMount[], live: boolean, path: string): string | null {
  const m = mountAt(mounts, path);
  if (m.kind === "kernel") return kernelFs(m, path);
  if (m.kind === "tmpfs" && !live) return tmpfsOffline(m, path);
  return null;
}

function kernelFs(m: TreeMount, path: string): string {
  return `${path} is on the container's ${m.fstype} file system (${m.destination}): berth cp does not copy to or from it`;
}

function tmpfsOffline(m: TreeMount, path: string): string {
  return `${path} is on a tmpfs mount (${m.destination}), which exists only while the container runs: start the container to copy there`;
}

/** An open directory of the tree (O_RDONLY | O_DIRECTORY) and its resolved path in the container. */
export interface Dir {
  readonly fd: number;
  readonly path: string;
}

const fdPath = (fd: number) => `/proc/self/fd/${fd}`;

/** Reopens an O_PATH fd as a real one on the very same inode (never by name, so nothing can be swapped in). */
export function reopen(pathFd: number, flags: number): number {
  return openSync(fdPath(pathFd), flags | O_CLOEXEC);
}

function inContainer(path: string, e: unknown): never {
  if (e instanceof SyscallError) {
    const why = { ENOENT: "no such file or directory", ENOTDIR: "not a directory", ELOOP: "too many levels of symbolic links", EROFS: "read-only file system", EACCES: "permission denied", ENAMETOOLONG: "file name too long" }[e.code];
    throw new EngineError(`${path}: ${why ?? e.message} (in the container)`);
  }
  throw e;
}

export class ContainerTree {
  private constructor(
    /** True when reached through the running container's own mount namespace. */
    readonly live: boolean,
    private readonly rootDir: Dir,
    readonly mounts: readonly TreeMount[],
    private readonly onClose: () => void,
  ) {}

  /** The container's tree: live while it runs, else its root filesystem mounted for the call. */
  static open(engine: Engine, row: ContainerRow): ContainerTree {
    const mounts = mountTable(row.config, engine.paths);
    if (engine.observe(row).running) {
      let fd = -1;
      try {
        fd = openat2(AT_FDCWD, `/proc/${row.pid}/root`, constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC, 0, 0);
      } catch { /* it has just exited: offline below */ }
      // Checked after opening: if the recorded init still lives now, the fd is its root.
      if (fd >= 0 && isAlive(row.pid, row.pidStart)) return new ContainerTree(true, { fd, path: "/" }, mounts, () => closeSync(fd));
      if (fd >= 0) closeSync(fd);
    }
    const dir = engine.paths.container(row.id);
    const rootfs = join(dir, "rootfs");
    let mountedHere = false;
    if (!isMountPoint(rootfs)) {
      const img = engine.images.get(row.config.imageId as `sha256:${string}`);
      if (!img) throw new EngineError(`the image of container ${row.name} is gone`);
      mountContainerRootfs(engine.images.snapshotDirs(img), dir);
      mountedHere = true;
    }
    const fd = openSync(rootfs, constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC);
    return new ContainerTree(false, { fd, path: "/" }, mounts, () => {
      closeSync(fd);
      // A start meanwhile mounted it for itself: leave it.
      if (mountedHere && !engine.observe(engine.store.get(row.id) ?? row).running) unmountContainerRootfs(dir);
    });
  }

  close(): void {
    this.onClose();
  }

  root(): Dir {
    return this.rootDir;
  }

  /** Closes a directory from resolve() or openDir() (the root stays open until close()). */
  release(dir: Dir): void {
    if (dir !== this.rootDir) closeSync(dir.fd);
  }

  writeRefusal(path: string): string | null {
    return writeRefusal(this.mounts, this.live, path);
  }

  readRefusal(path: string): string | null {
    return readRefusal(this.mounts, this.live, path);
  }

  /** Throws when `path` (resolved) may not be written. */
  assertWritable(path: string): void {
    const why = this.writeRefusal(path);
    if (why) throw new EngineError(why);
  }

  /** Whether `path` is where a mount (other than the root) is attached. */
  isMountPoint(path: string): boolean {
    return path !== "/" && this.mounts.some((m) => m.destination === path);
  }

  /**
   * An O_PATH fd of dir/name, never following a final symlink, crossing into a mount attached
   * there (offline: its host directory); null when there is no such entry.
   */
  lookup(dir: Dir, name: string): number | null {
    const path = posix.join(dir.path, name);
    const why = this.readRefusal(path);
    if (why) throw new EngineError(why);
    try {
      if (!this.live) {
        const m = this.mounts.findLast((x) => x.destination === path && x.host !== undefined);
        if (m && mountAt(this.mounts, path) === m) return openat2(AT_FDCWD, m.host!, O_PATH | O_CLOEXEC, 0, 0);
      }
      return openat2(dir.fd, name, O_PATH | constants.O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE.BENEATH | RESOLVE.NO_MAGICLINKS);
    } catch (e) {
      if (e instanceof SyscallError && e.code === "ENOENT") return null;
      return inContainer(path, e);
    }
  }

  /** The directory dir/name (an existing directory, not a symlink), opened for listing and creating in. */
  openDir(dir: Dir, name: string): Dir {
    const path = posix.join(dir.path, name);
    const fd = this.lookup(dir, name);
    if (fd === null) inContainer(path, new SyscallError("openat2", 2, path));
    try {
      if (!fstatSync(fd).isDirectory()) inContainer(path, new SyscallError("openat2", 20, path));
      return { fd: reopen(fd, constants.O_RDONLY | constants.O_DIRECTORY), path };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Resolves `path` inside the container: every symlink on the way is followed relative to the
   * container's root ("/.." stays at the root), the last one only with followLast. Returns the
   * directory holding the entry and its name (which may not exist), or name null when the path
   * is that directory itself (the root, or a path ending in "..").
   */
  resolve(path: string, followLast: boolean): { dir: Dir; name: string | null } {
    const stack: Dir[] = [this.rootDir];
    const top = () => stack[stack.length - 1]!;
    const todo = path.split("/").filter((c) => c !== "" && c !== ".");
    let links = 0;
    try {
      while (todo.length > 0) {
        const c = todo.shift()!;
        if (c === "..") {
          if (stack.length > 1) this.release(stack.pop()!);
          continue;
        }
        const last = todo.length === 0;
        const fd = this.lookup(top(), c);
        if (fd === null) {
          if (last) return { dir: top(), name: c };
          inContainer(posix.join(top().path, c), new SyscallError("openat2", 2, c));
        }
        let st;
        try {
          st = fstatSync(fd);
          if (st.isSymbolicLink() && (!last || followLast)) {
            if (++links > MAX_LINKS) inContainer(path, new SyscallError("openat2", 40, path));
            const target = readlinkFd(fd);
            if (target.startsWith("/")) while (stack.length > 1) this.release(stack.pop()!);
            todo.unshift(...target.split("/").filter((x) => x !== "" && x !== "."));
            continue;
          }
        } finally {
          closeSync(fd);
        }
        if (last) return { dir: top(), name: c };
        stack.push(this.openDir(top(), c));
      }
      return { dir: top(), name: null };
    } finally {
      // Everything but the directory handed back.
      const keep = top();
      for (const d of stack) if (d !== keep) this.release(d);
    }
  }
}
