// Single syscalls for TypeScript, through bun:ffi (no process per call). Each wrapper throws
// a SyscallError carrying errno and the call's target, so callers can say what failed.
import { dlopen, FFIType, ptr, read } from "bun:ffi";

// dlopen compiles a trampoline per symbol: do it on first use, not at import, so commands
// that never make a syscall start faster.
const SYMBOLS = {
  __errno_location: { args: [], returns: FFIType.ptr },
  mount: { args: [FFIType.cstring, FFIType.cstring, FFIType.cstring, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  umount2: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
  mknod: { args: [FFIType.cstring, FFIType.u32, FFIType.u64], returns: FFIType.i32 },
  lsetxattr: { args: [FFIType.cstring, FFIType.cstring, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  lchown: { args: [FFIType.cstring, FFIType.u32, FFIType.u32], returns: FFIType.i32 },
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  kill: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  setns: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  unshare: { args: [FFIType.i32], returns: FFIType.i32 },
  mkfifo: { args: [FFIType.cstring, FFIType.u32], returns: FFIType.i32 },
  syscall: { args: [FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64], returns: FFIType.i64 },
  readlinkat: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  strerror: { args: [FFIType.i32], returns: FFIType.cstring },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  _exit: { args: [FFIType.i32], returns: FFIType.void },
} as const;
type Libc = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];
let loaded: Libc | undefined;
const c: Libc = new Proxy({} as Libc, {
  get(_t, name: string) {
    loaded ??= dlopen("libc.so.6", SYMBOLS).symbols;
    return loaded[name as keyof Libc];
  },
});

export class SyscallError extends Error {
  constructor(readonly call: string, readonly errno: number, readonly target: string) {
    super(`${call}(${target}): ${String(c.strerror(errno))}`);
  }
  get code(): string {
    return ERRNO_NAMES[this.errno] ?? `E${this.errno}`;
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES",
  16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 28: "ENOSPC", 30: "EROFS",
  36: "ENAMETOOLONG", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 61: "ENODATA", 95: "EOPNOTSUPP",
};

export function errno(): number {
  return read.i32(c.__errno_location()!, 0);
}

function cstr(s: string): Buffer {
  return Buffer.from(s + "\0");
}

function check(rc: number | bigint, call: string, target: string): void {
  if (Number(rc) < 0) throw new SyscallError(call, errno(), target);
}

export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, SYNCHRONOUS: 0x10, REMOUNT: 0x20, MANDLOCK: 0x40,
  DIRSYNC: 0x80, NOSYMFOLLOW: 0x100, NOATIME: 0x400, NODIRATIME: 0x800, BIND: 0x1000, MOVE: 0x2000,
  REC: 0x4000, SILENT: 0x8000, UNBINDABLE: 0x20000, PRIVATE: 0x40000, SLAVE: 0x80000, SHARED: 0x100000,
  RELATIME: 0x200000, STRICTATIME: 0x1000000, LAZYTIME: 0x2000000,
} as const;

/** mount_setattr(2)'s attributes (struct mount_attr attr_set/attr_clr). The atime mode is the
 *  three bits of _ATIME, one value among RELATIME (0), NOATIME, STRICTATIME. */
export const MOUNT_ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, _ATIME: 0x70, RELATIME: 0x0, NOATIME: 0x10, STRICTATIME: 0x20,
  NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000,
} as const;

export function mount(source: string, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  const rc = c.mount(cstr(source), cstr(target), fstype === null ? null : cstr(fstype), BigInt(flags), data === null ? null : ptr(cstr(data)));
  check(rc, "mount", target);
}

export const MNT_DETACH = 2;
export function umount(target: string, flags = 0): void {
  check(c.umount2(cstr(target), flags), "umount2", target);
}

export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  check(c.mknod(cstr(path), mode, makedev(major, minor)), "mknod", path);
}

export function mkfifo(path: string, mode: number): void {
  check(c.mkfifo(cstr(path), mode), "mkfifo", path);
}

export function lsetxattr(path: string, name: string, value: Uint8Array): void {
  check(c.lsetxattr(cstr(path), cstr(name), value.length ? ptr(value) : null, BigInt(value.length), 0), "lsetxattr", `${path}, ${name}`);
}

export function lchown(path: string, uid: number, gid: number): void {
  check(c.lchown(cstr(path), uid, gid), "lchown", path);
}

export const LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
export function flock(fd: number, op: number): void {
  check(c.flock(fd, op), "flock", `fd ${fd}`);
}

/** Sends a signal; returns false when the process does not exist (ESRCH). */
export function kill(pid: number, signal: number): boolean {
  if (c.kill(pid, signal) === 0) return true;
  const e = errno();
  if (e === 3) return false;
  throw new SyscallError("kill", e, `pid ${pid}`);
}

export function setns(fd: number, nstype: number): void {
  check(c.setns(fd, nstype), "setns", `fd ${fd}`);
}

export function unshare(flags: number): void {
  check(c.unshare(flags), "unshare", `0x${flags.toString(16)}`);
}

/** Raw syscall for calls glibc does not wrap (pidfd_open, …). Returns the result or throws. */
export function syscall(nr: number, a1: number | bigint = 0, a2: number | bigint = 0, a3: number | bigint = 0, a4: number | bigint = 0): number {
  const rc = Number(c.syscall(BigInt(nr), BigInt(a1), BigInt(a2), BigInt(a3), BigInt(a4)));
  if (rc < 0) throw new SyscallError("syscall", errno(), String(nr));
  return rc;
}

export const AT_FDCWD = -100;
export const O_PATH = 0o10000000;
export const RESOLVE = { NO_XDEV: 0x01, NO_MAGICLINKS: 0x02, NO_SYMLINKS: 0x04, BENEATH: 0x08, IN_ROOT: 0x10 } as const;
const SYS_OPENAT2 = 437; // the same number on every architecture (a syscall added after the table was unified)

/** openat2(2): `path` relative to `dirfd`, resolved as `resolve` (RESOLVE.*) says. Returns the fd. */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  const how = Buffer.alloc(24); // struct open_how { u64 flags; u64 mode; u64 resolve; }
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const p = cstr(path);
  const rc = Number(c.syscall(BigInt(SYS_OPENAT2), BigInt(dirfd), BigInt(ptr(p)), BigInt(ptr(how)), 24n));
  check(rc, "openat2", path);
  return rc;
}

/** The target of the symlink `fd` was opened on (O_PATH | O_NOFOLLOW): readlinkat(fd, ""). */
export function readlinkFd(fd: number): string {
  const buf = Buffer.alloc(4096), empty = cstr("");
  const n = Number(c.readlinkat(fd, ptr(empty), ptr(buf), BigInt(buf.length)));
  check(n, "readlinkat", `fd ${fd}`);
  return buf.toString("utf8", 0, n);
}

const POLLIN = 0x1, POLLHUP = 0x10;
/** Waits until fd is readable (or hung up), up to timeoutMs (-1: forever). True when it is. */
export function waitReadable(fd: number, timeoutMs: number): boolean {
  const pfd = new Int32Array(2); // struct pollfd { int fd; short events; short revents; }
  pfd[0] = fd;
  pfd[1] = POLLIN;
  for (;;) {
    const n = c.poll(ptr(pfd), 1n, timeoutMs);
    if (n >= 0) return n > 0 && ((pfd[1]! >>> 16) & (POLLIN | POLLHUP)) !== 0;
    if (errno() !== 4) throw new SyscallError("poll", errno(), `fd ${fd}`); // EINTR: wait again
  }
}

/** Ends the process now (_exit(2)): no exit handlers, no runtime shutdown. Output written with
 *  writeSync is already the kernel's; anything still buffered in the process is lost. */
export function exitNow(code: number): never {
  c._exit(code);
  throw new Error("_exit returned");
}
