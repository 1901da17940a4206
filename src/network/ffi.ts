// Socket syscalls for rtnetlink, through bun:ffi. Kept apart from src/sys/libc.ts (shared) because
// only networking needs them. Each wrapper throws SyscallError so callers can say what failed.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { errno, SyscallError } from "../sys/libc.ts";

const lib = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
});
const c = lib.symbols;

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0x80000;
export const NETLINK_ROUTE = 0;
const EINTR = 4;

export function socket(domain: number, type: number, protocol: number): number {
  const fd = c.socket(domain, type, protocol);
  if (fd < 0) throw new SyscallError("socket", errno(), `domain ${domain}`);
  return fd;
}

export function send(fd: number, data: Uint8Array): void {
  for (;;) {
    const n = Number(c.send(fd, ptr(data), BigInt(data.length), 0));
    if (n >= 0) {
      if (n !== data.length) throw new Error(`netlink send: short write (${n} of ${data.length} bytes)`);
      return;
    }
    if (errno() !== EINTR) throw new SyscallError("send", errno(), `fd ${fd}`);
  }
}

export function recv(fd: number, buf: Uint8Array): number {
  for (;;) {
    const n = Number(c.recv(fd, ptr(buf), BigInt(buf.length), 0));
    if (n >= 0) return n;
    if (errno() !== EINTR) throw new SyscallError("recv", errno(), `fd ${fd}`);
  }
}

export function close(fd: number): void {
  c.close(fd);
}
