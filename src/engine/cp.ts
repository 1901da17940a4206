// `berth cp`: files between the host and a container's root filesystem, in host code only.
// Every path inside the container is opened with openat2(RESOLVE_IN_ROOT) relative to an fd of
// the container's root, and each entry below it relative to its parent's fd with O_NOFOLLOW and
// RESOLVE_BENEATH: the kernel, not a userspace check, guarantees no symlink leads outside.
import {
  closeSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, symlinkSync, writeSync,
  constants, chmodSync, lchownSync, existsSync, statSync, utimesSync, type Stats,
} from "node:fs";
import { basename, dirname, join, normalize } from "node:path";
import { ptr } from "bun:ffi";
import { syscall, SyscallError } from "../sys/libc.ts";
import { mountContainerRootfs, unmountContainerRootfs, isMountPoint } from "../storage/overlay.ts";
import type { Engine } from "./engine.ts";
import type { ContainerRow } from "./types.ts";
import { EngineError } from "./errors.ts";

const SYS_OPENAT2 = 437;
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_BENEATH = 0x08;
const RESOLVE_IN_ROOT = 0x10;

function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const p = Buffer.from(path + "\0");
  try {
    return syscall(SYS_OPENAT2, dirfd, ptr(p), ptr(how), 24);
  } catch (e) {
    if (e instanceof SyscallError) throw new EngineError(`${path}: ${e.code === "ENOENT" ? "no such file or directory" : e.message} (in the container)`);
    throw e;
  }
}

const fdPath = (fd: number, name?: string) => (name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`);

/** A child of an open directory, never following a symlink, never leaving the directory. */
function openChild(dirfd: number, name: string, flags: number, mode = 0): number {
  return openat2(dirfd, name, flags | constants.O_NOFOLLOW | O_CLOEXEC, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
}

function copyFd(from: number, to: number): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (;;) {
    const n = readSync(from, buf, 0, buf.length, null);
    if (n === 0) return;
    let off = 0;
    while (off < n) off += writeSync(to, buf, off, n - off);
  }
}

interface CopyOptions {
  archive?: boolean;
  followLink?: boolean;
}

/** Runs fn with the container's merged root mounted (mounting a stopped container's for the call). */
/**
 * A path under one of the container's bind mounts or volumes lives in that mount's host
 * directory, not in the overlay: returns that directory (the root to resolve in) and the rest.
 */
function mountFor(engine: Engine, row: ContainerRow, path: string): { root: string; rest: string } | null {
  const p = normalize(`/${path}`).replace(/\/+$/, "") || "/";
  let best: { root: string; rest: string; len: number } | null = null;
  for (const m of row.config.mounts) {
    if (m.kind === "tmpfs") continue;
    if (p !== m.destination && !p.startsWith(`${m.destination}/`)) continue;
    if (best && best.len >= m.destination.length) continue;
    const root = m.kind === "bind" ? m.source : engine.paths.volumeData(m.source);
    best = { root, rest: p.slice(m.destination.length) || "/", len: m.destination.length };
  }
  return best && { root: best.root, rest: best.rest };
}

async function withRootfs<T>(engine: Engine, row: ContainerRow, inPath: string, fn: (rootfd: number, path: string) => T): Promise<T> {
  const mount = mountFor(engine, row, inPath);
  if (mount) {
    // Resolved inside the mount's own directory: a link there cannot leave it either.
    const fd = openSync(mount.root, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      return fn(fd, mount.rest + (inPath.endsWith("/") && mount.rest !== "/" ? "/" : ""));
    } finally {
      closeSync(fd);
    }
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
  const rootfd = openSync(rootfs, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return fn(rootfd, inPath);
  } finally {
    closeSync(rootfd);
    if (mountedHere && !engine.observe(engine.store.get(row.id) ?? row).running) unmountContainerRootfs(dir);
  }
}

function copyOutTree(fd: number, st: Stats, dest: string, archive: boolean): void {
  if (st.isDirectory()) {
    mkdirSync(dest, { recursive: true, mode: st.mode & 0o7777 });
    for (const name of readdirSync(fdPath(fd))) {
      const cst = lstatSync(fdPath(fd, name));
      const target = join(dest, name);
      if (cst.isSymbolicLink()) {
        symlinkSync(readlinkSync(fdPath(fd, name)), target);
        if (archive) lchownSync(target, cst.uid, cst.gid);
        continue;
      }
      if (!cst.isDirectory() && !cst.isFile()) continue; // devices, fifos, sockets: skipped like docker's tar would not recreate them
      const child = openChild(fd, name, cst.isDirectory() ? constants.O_RDONLY | constants.O_DIRECTORY : constants.O_RDONLY);
      try {
        copyOutTree(child, fstatSync(child), target, archive);
      } finally {
        closeSync(child);
      }
    }
  } else {
    const out = openSync(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, st.mode & 0o7777);
    try {
      copyFd(fd, out);
    } finally {
      closeSync(out);
    }
    chmodSync(dest, st.mode & 0o7777);
  }
  if (archive) lchownSync(dest, st.uid, st.gid);
  utimesSync(dest, st.atime, st.mtime);
}

export async function copyFromContainer(engine: Engine, row: ContainerRow, srcPath: string, dest: string, opts: CopyOptions = {}): Promise<void> {
  await withRootfs(engine, row, srcPath, (rootfd, inner) => {
    const fd = openat2(rootfd, inner, constants.O_RDONLY | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    try {
      const st = fstatSync(fd);
      let target = dest;
      if (existsSync(dest) && statSync(dest).isDirectory()) target = join(dest, basename(srcPath.replace(/\/+$/, "")) || "root");
      else if (!existsSync(dirname(dest))) throw new EngineError(`destination directory ${dirname(dest)} does not exist`);
      copyOutTree(fd, st, target, opts.archive ?? false);
    } finally {
      closeSync(fd);
    }
  });
}

function copyInTree(hostPath: string, dirfd: number, name: string, archive: boolean, follow: boolean): void {
  const st = follow ? statSync(hostPath) : lstatSync(hostPath);
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(hostPath), fdPath(dirfd, name)); // creates the entry; never follows it
    return;
  }
  if (st.isDirectory()) {
    try {
      mkdirSync(fdPath(dirfd, name), { mode: st.mode & 0o7777 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const child = openChild(dirfd, name, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      for (const n of readdirSync(hostPath)) copyInTree(join(hostPath, n), child, n, archive, false);
      if (archive) lchownSync(fdPath(child), st.uid, st.gid);
    } finally {
      closeSync(child);
    }
    return;
  }
  if (!st.isFile()) return;
  const out = openChild(dirfd, name, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, st.mode & 0o7777);
  const src = openSync(hostPath, "r");
  try {
    copyFd(src, out);
    if (archive) lchownSync(fdPath(out), st.uid, st.gid);
  } finally {
    closeSync(src);
    closeSync(out);
  }
}

export async function copyToContainer(engine: Engine, row: ContainerRow, src: string, destPath: string, opts: CopyOptions = {}): Promise<void> {
  if (!existsSync(src)) throw new EngineError(`could not find the file ${src} in the host`);
  await withRootfs(engine, row, destPath, (rootfd, inner) => {
    const clean = inner.replace(/\/+$/, "") || "/";
    // If DEST is an existing directory, copy into it; otherwise DEST names the new entry.
    let parentPath = clean, name = basename(src.replace(/\/+$/, ""));
    let isDir = false;
    try {
      const probe = openat2(rootfd, clean, O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
      isDir = fstatSync(probe).isDirectory();
      closeSync(probe);
    } catch { /* does not exist */ }
    if (!isDir) {
      if (inner.endsWith("/")) throw new EngineError(`destination directory ${destPath} does not exist in the container`);
      parentPath = dirname(clean);
      name = basename(clean);
    }
    const dirfd = openat2(rootfd, parentPath, constants.O_RDONLY | constants.O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    try {
      copyInTree(src, dirfd, name, opts.archive ?? false, opts.followLink ?? false);
    } finally {
      closeSync(dirfd);
    }
  });
}
