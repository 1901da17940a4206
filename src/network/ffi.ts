// Socket syscalls for rtnetlink, through bun:ffi. Kept apart from src/sys/libc.ts (shared) because
// only networking needs them. Each wrapper throws SyscallError so callers can say what failed.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { errno, SyscallError } from "../sys/libc.ts";

const lib = dlopen("libc.so.6", {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
});
const c = lib.symbols;

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0x80000;
export const NETLINK_ROUTE = 0;
export const AF_INET = 2;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const IPPROTO_SCTP = 132;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const EADDRINUSE = 98;
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

/**
 * Whether some socket of this network namespace holds `port` on IPv4 (any address): a bind probe,
 * as cheap as one syscall, where reading /proc/net/tcp costs tens of ms on a busy host. SO_REUSEADDR
 * on TCP so connections in TIME_WAIT do not count, only listeners and bound sockets.
 */
export function portBound(port: number, type: typeof SOCK_STREAM | typeof SOCK_DGRAM, protocol = 0): boolean {
  const fd = socket(AF_INET, type | SOCK_CLOEXEC, protocol);
  try {
    if (type === SOCK_STREAM) {
      const one = new Int32Array([1]);
      if (c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, ptr(one), 4) < 0) throw new SyscallError("setsockopt", errno(), "SO_REUSEADDR");
    }
    const sa = new Uint8Array(16);
    const v = new DataView(sa.buffer);
    v.setUint16(0, AF_INET, true);
    v.setUint16(2, port, false); // network byte order; address 0.0.0.0
    if (c.bind(fd, ptr(sa), sa.length) === 0) return false;
    const e = errno();
    if (e === EADDRINUSE) return true;
    throw new SyscallError("bind", e, `0.0.0.0:${port}`);
  } finally {
    c.close(fd);
  }
}
