// The few file and process syscalls of the runtime's short commands (start, delete, state, kill:
// read a state or /proc file, open and poll exec.fifo, unlink, rmdir, kill), made through libc's
// syscall(2) alone. Why not node:fs and libc.ts: this module loads neither node:fs nor node:path
// (~1.5 ms of start-up per process) and compiles two bun:ffi trampolines where libc.ts's table
// compiles seventeen (~3 ms) — and those commands run several times per container start.
import { dlopen, FFIType, ptr, read } from "bun:ffi";

// Syscall numbers: the *at variants, which x86_64 and arm64 both have.
const NR = process.arch === "arm64"
  ? { read: 63, write: 64, close: 57, openat: 56, unlinkat: 35, faccessat: 48, kill: 129, ppoll: 73 }
  : { read: 0, write: 1, close: 3, openat: 257, unlinkat: 263, faccessat: 269, kill: 62, ppoll: 271 };

const SYMBOLS = {
  syscall: { args: [FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64], returns: FFIType.i64 },
  __errno_location: { args: [], returns: FFIType.ptr },
} as const;
let lib: ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"] | undefined;

/** One syscall: its result, or -errno. */
function sys(nr: number, a1: number | bigint = 0, a2: number | bigint = 0, a3: number | bigint = 0, a4: number | bigint = 0, a5: number | bigint = 0): number {
  lib ??= dlopen("libc.so.6", SYMBOLS).symbols;
  const rc = Number(lib.syscall(BigInt(nr), BigInt(a1), BigInt(a2), BigInt(a3), BigInt(a4), BigInt(a5)));
  return rc === -1 ? -read.i32(lib.__errno_location()!, 0) : rc;
}

const AT_FDCWD = -100, AT_REMOVEDIR = 0x200;
export const O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0o100, O_APPEND = 0o2000, O_NONBLOCK = 0o4000, O_CLOEXEC = 0o2000000;
export const ENOENT = 2, ESRCH = 3, EINTR = 4, EAGAIN = 11, ENOTDIR = 20, ENOTEMPTY = 39;

const NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 9: "EBADF", 11: "EAGAIN", 13: "EACCES", 16: "EBUSY",
  17: "EEXIST", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 24: "EMFILE", 28: "ENOSPC", 30: "EROFS", 36: "ENAMETOOLONG", 39: "ENOTEMPTY", 40: "ELOOP",
};

/** A failed call, with errno's name as `code` (as node:fs errors have it). */
export class RawError extends Error {
  readonly code: string;
  constructor(readonly call: string, readonly errno: number, readonly target: string) {
    const code = NAMES[errno] ?? `errno ${errno}`;
    super(`${call} ${target}: ${code}`);
    this.code = code;
  }
}

function cstr(s: string): Buffer {
  return Buffer.from(s + "\0");
}

/** open(2); throws RawError. */
export function openFile(path: string, flags: number, mode = 0o666): number {
  const p = cstr(path);
  const fd = sys(NR.openat, AT_FDCWD, ptr(p), flags | O_CLOEXEC, mode);
  if (fd < 0) throw new RawError("open", -fd, path);
  return fd;
}

/** read(2) into buf: bytes read (0 at end of file), or -errno. */
export function readFd(fd: number, buf: Uint8Array): number {
  return sys(NR.read, fd, ptr(buf), buf.length);
}

export function closeFd(fd: number): void {
  sys(NR.close, fd);
}

/** The whole file as UTF-8; undefined when it (or a directory on its path) does not exist. */
export function readText(path: string): string | undefined {
  const p = cstr(path);
  const fd = sys(NR.openat, AT_FDCWD, ptr(p), O_RDONLY | O_CLOEXEC, 0);
  if (fd === -ENOENT || fd === -ENOTDIR) return undefined;
  if (fd < 0) throw new RawError("open", -fd, path);
  try {
    const chunks: Buffer[] = [];
    for (let size = 16384; ; size = Math.min(size * 4, 1 << 22)) {
      const buf = Buffer.allocUnsafe(size);
      const n = readFd(fd, buf);
      if (n === -EINTR) continue;
      if (n < 0) throw new RawError("read", -n, path);
      if (n === 0) break;
      chunks.push(n === size ? buf : buf.subarray(0, n));
    }
    return (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8");
  } finally {
    closeFd(fd);
  }
}

/** Whether the path exists (a dangling symlink does not). */
export function exists(path: string): boolean {
  const p = cstr(path);
  return sys(NR.faccessat, AT_FDCWD, ptr(p), 0 /* F_OK */, 0) === 0;
}

/** unlink(2): 0, or the errno. */
export function removeFile(path: string): number {
  const p = cstr(path);
  return -Math.min(0, sys(NR.unlinkat, AT_FDCWD, ptr(p), 0));
}

/** rmdir(2): 0, or the errno (ENOTEMPTY and EBUSY tell the caller to take the careful way). */
export function removeDir(path: string): number {
  const p = cstr(path);
  return -Math.min(0, sys(NR.unlinkat, AT_FDCWD, ptr(p), AT_REMOVEDIR));
}

/** kill(2); false when no such process (ESRCH), a RawError for anything else. */
export function signalPid(pid: number, signal: number): boolean {
  const rc = sys(NR.kill, pid, signal);
  if (rc === 0) return true;
  if (rc === -ESRCH) return false;
  throw new RawError("kill", -rc, `pid ${pid}`);
}

/** Waits until fd is readable or hung up, up to timeoutMs. True when it is. */
export function waitReadable(fd: number, timeoutMs: number): boolean {
  const pfd = new Int32Array(2); // struct pollfd { int fd; short events; short revents; }
  pfd[0] = fd;
  pfd[1] = 0x1; // POLLIN
  const ts = new BigInt64Array([BigInt(Math.floor(timeoutMs / 1000)), BigInt((timeoutMs % 1000) * 1_000_000)]);
  for (;;) {
    const n = sys(NR.ppoll, ptr(pfd), 1, ptr(ts), 0, 8);
    if (n >= 0) return n > 0 && ((pfd[1]! >>> 16) & (0x1 | 0x10 /* POLLHUP */)) !== 0;
    if (n !== -EINTR) throw new RawError("poll", -n, `fd ${fd}`);
  }
}

/** Writes all of text to fd (stderr, a log file); false when the kernel refused. */
export function writeText(fd: number, text: string): boolean {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length;) {
    const n = sys(NR.write, fd, ptr(buf, off), buf.length - off);
    if (n === -EINTR) continue;
    if (n <= 0) return false;
    off += n;
  }
  return true;
}

/** Appends text to a file, creating it (0666 less the umask, as node:fs does); false when that failed. */
export function appendText(path: string, text: string): boolean {
  let fd;
  try {
    fd = openFile(path, O_WRONLY | O_APPEND | O_CREAT);
  } catch {
    return false;
  }
  try {
    return writeText(fd, text);
  } finally {
    closeFd(fd);
  }
}
