// Syscalls the store needs that src/sys/libc.ts does not wrap. Each group is bound on first use:
// every dlopen compiles its call stubs (~0.5 ms), and most commands need none of them.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { errno, SyscallError } from "../sys/libc.ts";

function lazy<T>(bind: () => T): () => T {
  let bound: T | undefined;
  return () => (bound ??= bind());
}

const lib = lazy(() => dlopen("libc.so.6", {
  syncfs: { args: [FFIType.i32], returns: FFIType.i32 },
  sync_file_range: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.u32], returns: FFIType.i32 },
}).symbols);
const SYNC_FILE_RANGE_WRITE = 2;

/**
 * Starts writeback of a file's dirty pages and returns without waiting (sync_file_range with
 * SYNC_FILE_RANGE_WRITE, as dpkg does): the disk writes while we unpack the next files, so the
 * one syncfs at the end has little left. Advisory: errors are ignored (the syncfs reports them).
 */
export function startWriteback(fd: number): void {
  lib().sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

/** Flushes the file system holding fd to disk: one call instead of an fsync per unpacked file. */
export function syncfs(fd: number): void {
  if (lib().syncfs(fd) < 0) throw new SyscallError("syncfs", errno(), `fd ${fd}`);
}

const xlib = lazy(() => dlopen("libc.so.6", {
  llistxattr: { args: [FFIType.cstring, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  lgetxattr: { args: [FFIType.cstring, FFIType.cstring, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
}).symbols);
// One reused buffer: walking thousands of files must not allocate 64 KiB per call.
const xbuf = new Uint8Array(65536);
const xdec = new TextDecoder();

/** All extended attributes of a path (not following symlinks); empty when the fs has none. */
export function readXattrs(p: string): Map<string, Uint8Array> | null {
  const cp = Buffer.from(p + "\0");
  const n = Number(xlib().llistxattr(cp, ptr(xbuf), BigInt(xbuf.length)));
  if (n <= 0) {
    if (n < 0 && errno() !== 95 /* EOPNOTSUPP */ && errno() !== 61) throw new SyscallError("llistxattr", errno(), p);
    return null;
  }
  const names = xdec.decode(xbuf.subarray(0, n)).split("\0").filter(Boolean);
  const out = new Map<string, Uint8Array>();
  for (const name of names) {
    const v = Number(xlib().lgetxattr(cp, Buffer.from(name + "\0"), ptr(xbuf), BigInt(xbuf.length)));
    if (v < 0) {
      if (errno() === 61) continue; // removed meanwhile
      throw new SyscallError("lgetxattr", errno(), `${p}, ${name}`);
    }
    out.set(name, xbuf.slice(0, v));
  }
  return out;
}

// The new mount API (fsopen/fsconfig/fsmount/move_mount), for overlays whose lowerdir list does not
// fit the one page that mount(2) options get: "lowerdir+" adds one layer per call (Linux ≥ 6.8).
const mlib = lazy(() => dlopen("libc.so.6", {
  syscall: { args: [FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
}).symbols);
const SYS_move_mount = 429, SYS_fsopen = 430, SYS_fsconfig = 431, SYS_fsmount = 432;
const FSOPEN_CLOEXEC = 1, FSMOUNT_CLOEXEC = 1, FSCONFIG_SET_FLAG = 0, FSCONFIG_SET_STRING = 1, FSCONFIG_CMD_CREATE = 6;
const MOVE_MOUNT_F_EMPTY_PATH = 4, AT_FDCWD = -100;

function sys(what: string, nr: number, ...args: Array<number | bigint>): number {
  return sysOn("overlay", what, nr, ...args);
}

function sysOn(target: string, what: string, nr: number, ...args: Array<number | bigint>): number {
  const a = [...args, 0, 0, 0, 0, 0].slice(0, 5).map((x) => BigInt(x));
  const rc = Number(mlib().syscall(BigInt(nr), a[0]!, a[1]!, a[2]!, a[3]!, a[4]!));
  if (rc < 0) throw new SyscallError(what, errno(), target);
  return rc;
}

const SYS_open_tree = 428, SYS_mount_setattr = 442;
const OPEN_TREE_CLONE = 1, OPEN_TREE_CLOEXEC = 0o2000000, AT_EMPTY_PATH = 0x1000, MOUNT_ATTR_IDMAP = 0x00100000;

/**
 * Binds `source` at `target` as an idmapped mount (open_tree, mount_setattr with
 * MOUNT_ATTR_IDMAP, move_mount): a file owned by id N on disk appears owned by whatever the user
 * namespace `usernsFd` maps N to, and nothing on disk changes. The mount keeps the namespace
 * alive; the caller may close its fd afterwards.
 */
export function bindIdmapped(source: string, target: string, usernsFd: number): void {
  const keep: Buffer[] = [];
  const p = (s: string) => {
    const b = Buffer.from(s + "\0");
    keep.push(b);
    return BigInt(ptr(b));
  };
  const tree = sysOn(source, "open_tree", SYS_open_tree, AT_FDCWD, p(source), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  try {
    // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd }
    const attr = new BigUint64Array([BigInt(MOUNT_ATTR_IDMAP), 0n, 0n, BigInt(usernsFd)]);
    sysOn(source, "mount_setattr(MOUNT_ATTR_IDMAP)", SYS_mount_setattr, tree, p(""), AT_EMPTY_PATH, BigInt(ptr(attr)), 32);
    sysOn(target, "move_mount", SYS_move_mount, tree, p(""), AT_FDCWD, p(target), MOVE_MOUNT_F_EMPTY_PATH);
  } finally {
    mlib().close(tree);
  }
  void keep;
}

/** Mounts an overlay at target with the new mount API; options as [key, value] pairs (keys may repeat; an empty value sets a flag such as volatile). */
export function mountOverlayFsconfig(target: string, options: Array<[string, string]>): void {
  const keep: Buffer[] = []; // pointers stay valid while the buffers are referenced
  const p = (s: string) => {
    const b = Buffer.from(s + "\0");
    keep.push(b);
    return BigInt(ptr(b));
  };
  const fsfd = sys("fsopen", SYS_fsopen, p("overlay"), FSOPEN_CLOEXEC);
  try {
    for (const [k, v] of options) {
      if (v === "") sys(`fsconfig(${k})`, SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, p(k), 0, 0);
      else sys(`fsconfig(${k})`, SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, p(k), p(v), 0);
    }
    sys("fsconfig(create)", SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, 0, 0, 0);
    const mfd = sys("fsmount", SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
    try {
      sys("move_mount", SYS_move_mount, mfd, p(""), AT_FDCWD, p(target), MOVE_MOUNT_F_EMPTY_PATH);
    } finally {
      mlib().close(mfd);
    }
  } finally {
    mlib().close(fsfd);
  }
  void keep;
}
