// `berth cp`: files between the host and a container, with docker's semantics:
//  - a symlink named as the source is copied as a link; -L follows it (inside the container's
//    root for CONTAINER:SRC, on the host for a host SRC). A source ending in "/" or "/." is a
//    directory, followed either way; "/." copies the directory's contents, not the directory.
//  - a symlink named as the destination is followed (inside the container's root), as docker's
//    client does; into an existing directory, the copy takes the source's name.
//  - an existing non-directory is replaced; a directory is merged with a directory, never
//    replaced by a file, nor a file by a directory.
//  - nothing is written where the container could not write: the innermost mount covering each
//    written path decides (read-only bind mounts and volumes, --read-only), and a stopped
//    container's tmpfs is refused rather than written underneath (container-fs.ts).
// The container side goes through ContainerTree: fd-relative, never following a link the kernel
// could take outside. A file is opened O_PATH first and reopened through its own fd only once it
// is known to be a regular file, so a device node or fifo swapped in is never opened.
import {
  closeSync, existsSync, fchmodSync, fchownSync, fstatSync, futimesSync, lchownSync, lstatSync, lutimesSync, mkdirSync,
  openSync, readdirSync, readlinkSync, readSync, statSync, symlinkSync, unlinkSync, utimesSync, writeSync, chmodSync,
  constants, type Stats,
} from "node:fs";
import { basename, dirname, join, posix } from "node:path";
import { O_PATH, RESOLVE, SyscallError, openat2, readlinkFd } from "../sys/libc.ts";
import type { Engine } from "./engine.ts";
import type { ContainerRow } from "./types.ts";
import { EngineError } from "./errors.ts";
import { ContainerTree, reopen, type Dir } from "./container-fs.ts";
import { containerIdsOf, hostId } from "./userns.ts";

const O_CLOEXEC = 0o2000000;

export interface CopyOptions {
  archive?: boolean;
  followLink?: boolean;
}

/** A path that names a directory by its form ("…/" or "…/."): resolved to the end, links and all. */
const namesDirectory = (p: string) => p.endsWith("/") || p.endsWith("/.") || p === ".";
/** "…/." (or "/"): the directory's contents, not the directory itself. */
const contentsOnly = (p: string) => p.endsWith("/.") || p === "." || /^\/+$/.test(p);
const nameOf = (p: string) => basename(p.replace(/\/+$/, ""));

const entryPath = (dir: Dir, name: string) => `/proc/self/fd/${dir.fd}/${name}`;

/** Who a copied file belongs to: null leaves it to whoever writes it (berth, the host's root). */
type Owner = ((uid: number, gid: number) => [number, number]) | null;

/** Into the container: -a keeps the source's ids, as container ids; without -a the file is the
 *  container root's, as docker does. In a user namespace both are host ids of its maps. */
function ownerIn(row: ContainerRow, archive: boolean): Owner {
  const userns = row.config.userns;
  if (!userns) return archive ? (uid, gid) => [uid, gid] : null;
  const root: [number, number] = [hostId(userns.uidMap, 0)!, hostId(userns.gidMap, 0)!];
  if (!archive) return () => root;
  return (uid, gid) => [hostId(userns.uidMap, uid) ?? root[0], hostId(userns.gidMap, gid) ?? root[1]];
}

/** Out of the container with -a: the ids the container sees (its own, not the host's subordinate ones). */
function ownerOut(row: ContainerRow, archive: boolean): Owner {
  if (!archive) return null;
  return containerIdsOf(row.config.userns) ?? ((uid, gid) => [uid, gid]);
}

/** Runs an operation on a container path, saying which path when the kernel refuses. */
function at<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const code = e instanceof SyscallError ? e.code : (e as NodeJS.ErrnoException).code;
    const why: Record<string, string> = {
      EROFS: "read-only file system", ENOSPC: "no space left on device", EACCES: "permission denied", EPERM: "operation not permitted",
      EBUSY: "it is a mount point", ENOTDIR: "not a directory", EEXIST: "appeared meanwhile", ELOOP: "became a symbolic link meanwhile",
    };
    if (code && why[code]) throw new EngineError(`${path}: ${why[code]} (in the container)`);
    throw e;
  }
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

// --- out of the container -------------------------------------------------------------------

/** Makes room at a host path for a directory (true: one is there to merge into) or anything else. */
function makeRoomOnHost(target: string, isDir: boolean, from: string): boolean {
  let st: Stats;
  try {
    st = lstatSync(target);
  } catch {
    return false;
  }
  if (st.isDirectory()) {
    if (isDir) return true;
    throw new EngineError(`cannot overwrite directory ${target} with non-directory ${from}`);
  }
  if (isDir) throw new EngineError(`cannot overwrite non-directory ${target} with directory ${from}`);
  unlinkSync(target);
  return false;
}

/** Copies the container entry `fd` (O_PATH, or a directory fd) at container path `path` to host path `target`. */
function copyOut(tree: ContainerTree, fd: number, path: string, st: Stats, target: string, owner: Owner, top: boolean): void {
  if (st.isSymbolicLink()) {
    makeRoomOnHost(target, false, path);
    symlinkSync(readlinkFd(fd), target);
    if (owner) lchownSync(target, ...owner(st.uid, st.gid));
    lutimesSync(target, st.atime, st.mtime);
    return;
  }
  if (st.isDirectory()) {
    const merge = makeRoomOnHost(target, true, path);
    if (!merge) mkdirSync(target, { mode: 0o700 });
    const dir: Dir = { fd: reopen(fd, constants.O_RDONLY | constants.O_DIRECTORY), path };
    try {
      for (const name of readdirSync(`/proc/self/fd/${dir.fd}`)) {
        const childPath = posix.join(path, name), childTarget = join(target, name);
        // proc, sysfs, a stopped container's tmpfs: only the (empty) mount point comes along.
        if (tree.readRefusal(childPath)) {
          if (!existsSync(childTarget)) mkdirSync(childTarget, { mode: 0o755 });
          continue;
        }
        const child = tree.lookup(dir, name);
        if (child === null) continue; // gone meanwhile
        try {
          const cst = fstatSync(child);
          // Devices, fifos, sockets are not copied (docker's archive would not recreate them either).
          if (cst.isDirectory() || cst.isFile() || cst.isSymbolicLink()) copyOut(tree, child, childPath, cst, childTarget, owner, false);
        } finally {
          closeSync(child);
        }
      }
    } finally {
      closeSync(dir.fd);
    }
    if (!merge) chmodSync(target, st.mode & 0o7777);
    if (owner) lchownSync(target, ...owner(st.uid, st.gid));
    utimesSync(target, st.atime, st.mtime);
    return;
  }
  const src = reopen(fd, constants.O_RDONLY);
  let out: number;
  try {
    // The destination named on the command line is written through (docker's client follows a
    // link there); inside a copied tree an existing entry is replaced, never written through.
    if (top && existsSync(target) && !statSync(target).isDirectory()) out = openSync(target, constants.O_WRONLY | constants.O_TRUNC);
    else {
      makeRoomOnHost(target, false, path);
      out = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, st.mode & 0o7777);
    }
  } catch (e) {
    closeSync(src);
    throw e;
  }
  try {
    copyFd(src, out);
    fchmodSync(out, st.mode & 0o7777);
    if (owner) fchownSync(out, ...owner(st.uid, st.gid));
    futimesSync(out, st.atime, st.mtime);
  } finally {
    closeSync(src);
    closeSync(out);
  }
}

export async function copyFromContainer(engine: Engine, row: ContainerRow, srcPath: string, dest: string, opts: CopyOptions = {}): Promise<void> {
  const tree = ContainerTree.open(engine, row);
  try {
    const { dir, name } = tree.resolve(srcPath, (opts.followLink ?? false) || namesDirectory(srcPath));
    try {
      const path = name === null ? dir.path : posix.join(dir.path, name);
      const fd = name === null ? reopen(dir.fd, O_PATH) : tree.lookup(dir, name);
      if (fd === null) throw new EngineError(`could not find the file ${srcPath} in container ${row.name}`);
      try {
        const st = fstatSync(fd);
        if (srcPath.endsWith("/") && !st.isDirectory()) throw new EngineError(`${srcPath}: not a directory (in the container)`);
        const destIsDir = existsSync(dest) && statSync(dest).isDirectory();
        let target = dest;
        if (destIsDir && !contentsOnly(srcPath)) target = join(dest, nameOf(srcPath));
        else if (!destIsDir) {
          if (dest.endsWith("/")) throw new EngineError(`destination directory ${dest} does not exist`);
          if (!existsSync(dirname(dest))) throw new EngineError(`destination directory ${dirname(dest)} does not exist`);
          if (st.isDirectory() && existsSync(dest)) throw new EngineError(`cannot copy directory ${srcPath} onto the file ${dest}`);
        }
        copyOut(tree, fd, path, st, target, ownerOut(row, opts.archive ?? false), true);
      } finally {
        closeSync(fd);
      }
    } finally {
      tree.release(dir);
    }
  } finally {
    tree.close();
  }
}

// --- into the container ---------------------------------------------------------------------

/** Copies host path `src` (of stat `st`) to `name` in the container directory `dir`. */
function copyIn(tree: ContainerTree, src: string, st: Stats, dir: Dir, name: string, owner: Owner): void {
  const path = posix.join(dir.path, name);
  tree.assertWritable(path);
  const existingFd = tree.lookup(dir, name);
  let existing: Stats | null = null;
  try {
    if (existingFd !== null) existing = fstatSync(existingFd);
    if (st.isDirectory()) {
      if (existing && !existing.isDirectory()) throw new EngineError(`cannot overwrite non-directory ${path} with directory ${src}`);
      if (!existing) at(path, () => mkdirSync(entryPath(dir, name), { mode: 0o700 }));
      const child = tree.openDir(dir, name);
      try {
        copyContentsIn(tree, src, child, owner);
        if (!existing) at(path, () => {
          fchmodSync(child.fd, st.mode & 0o7777);
          if (owner) fchownSync(child.fd, ...owner(st.uid, st.gid));
          futimesSync(child.fd, st.atime, st.mtime);
        });
      } finally {
        tree.release(child);
      }
      return;
    }
    if (existing?.isDirectory()) throw new EngineError(`cannot overwrite directory ${path} with non-directory ${src}`);
    if (st.isSymbolicLink()) {
      if (existing && tree.isMountPoint(path)) throw new EngineError(`${path} is a mount point: it cannot be replaced by a symbolic link`);
      at(path, () => {
        if (existing) unlinkSync(entryPath(dir, name));
        symlinkSync(readlinkSync(src), entryPath(dir, name)); // makes the entry; never follows it
        if (owner) lchownSync(entryPath(dir, name), ...owner(st.uid, st.gid));
        lutimesSync(entryPath(dir, name), st.atime, st.mtime);
      });
      return;
    }
    if (!st.isFile()) return; // devices, fifos, sockets are not copied
    const out = at(path, () => {
      // A regular file is written in place (a bind-mounted file included); anything else there is replaced.
      if (existing?.isFile()) return reopen(existingFd!, constants.O_WRONLY | constants.O_TRUNC);
      if (existing) {
        if (tree.isMountPoint(path)) throw new EngineError(`${path} is a mount point: it cannot be replaced`);
        unlinkSync(entryPath(dir, name));
      }
      return openat2(dir.fd, name, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | O_CLOEXEC, st.mode & 0o7777, RESOLVE.BENEATH | RESOLVE.NO_MAGICLINKS);
    });
    const from = openSync(src, constants.O_RDONLY);
    try {
      at(path, () => {
        copyFd(from, out);
        fchmodSync(out, st.mode & 0o7777);
        if (owner) fchownSync(out, ...owner(st.uid, st.gid));
        futimesSync(out, st.atime, st.mtime);
      });
    } finally {
      closeSync(from);
      closeSync(out);
    }
  } finally {
    if (existingFd !== null) closeSync(existingFd);
  }
}

/** Refuses before anything is written when any path the copy would write is refused (a read-only
 *  mount nested in the destination, say), so a refused copy leaves nothing half-done. */
function assertWritableTree(tree: ContainerTree, src: string, st: Stats, path: string): void {
  tree.assertWritable(path);
  if (!st.isDirectory()) return;
  for (const n of readdirSync(src)) assertWritableTree(tree, join(src, n), lstatSync(join(src, n)), posix.join(path, n));
}

/** Copies the entries of host directory `src` into the container directory `dir`. */
function copyContentsIn(tree: ContainerTree, src: string, dir: Dir, owner: Owner): void {
  for (const n of readdirSync(src)) {
    const p = join(src, n);
    copyIn(tree, p, lstatSync(p), dir, n, owner);
  }
}

export async function copyToContainer(engine: Engine, row: ContainerRow, src: string, destPath: string, opts: CopyOptions = {}): Promise<void> {
  let st: Stats;
  try {
    st = (opts.followLink ?? false) || namesDirectory(src) ? statSync(src) : lstatSync(src);
  } catch {
    throw new EngineError(`could not find the file ${src} in the host`);
  }
  if (namesDirectory(src) && !st.isDirectory()) throw new EngineError(`${src}: not a directory`);
  const tree = ContainerTree.open(engine, row);
  try {
    // A link at DEST is followed, inside the container's root (docker's client does the same).
    const { dir, name } = tree.resolve(destPath, true);
    let opened: Dir | null = null;
    try {
      let existing: Stats | null = null;
      if (name === null) existing = fstatSync(dir.fd);
      else {
        const fd = tree.lookup(dir, name);
        if (fd !== null) {
          existing = fstatSync(fd);
          closeSync(fd);
        }
      }
      if (existing?.isDirectory()) {
        opened = name === null ? null : tree.openDir(dir, name);
        const into = opened ?? dir;
        if (contentsOnly(src)) {
          for (const n of readdirSync(src)) assertWritableTree(tree, join(src, n), lstatSync(join(src, n)), posix.join(into.path, n));
          copyContentsIn(tree, src, into, ownerIn(row, opts.archive ?? false));
        } else {
          assertWritableTree(tree, src, st, posix.join(into.path, nameOf(src)));
          copyIn(tree, src, st, into, nameOf(src), ownerIn(row, opts.archive ?? false));
        }
        return;
      }
      if (destPath.endsWith("/")) throw new EngineError(`destination directory ${destPath} does not exist in the container`);
      if (existing && st.isDirectory()) throw new EngineError(`cannot copy directory ${src} onto the file ${destPath} in the container`);
      assertWritableTree(tree, src, st, posix.join(dir.path, name!));
      copyIn(tree, src, st, dir, name!, ownerIn(row, opts.archive ?? false));
    } finally {
      if (opened) tree.release(opened);
      tree.release(dir);
    }
  } finally {
    tree.close();
  }
}
