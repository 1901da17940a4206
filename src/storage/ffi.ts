// Syscalls the store needs that src/sys/libc.ts does not wrap.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { errno, SyscallError } from "../sys/libc.ts";

const lib = dlopen("libc.so.6", {
  syncfs: { args: [FFIType.i32], returns: FFIType.i32 },
});

/** Flushes the file system holding fd to disk: one call instead of an fsync per unpacked file. */
export function syncfs(fd: number): void {
  if (lib.symbols.syncfs(fd) < 0) throw new SyscallError("syncfs", errno(), `fd ${fd}`);
}

const xlib = dlopen("libc.so.6", {
  llistxattr: { args: [FFIType.cstring, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
  lgetxattr: { args: [FFIType.cstring, FFIType.cstring, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
});
// One reused buffer: walking thousands of files must not allocate 64 KiB per call.
const xbuf = new Uint8Array(65536);
const xdec = new TextDecoder();

/** All extended attributes of a path (not following symlinks); empty when the fs has none. */
export function readXattrs(p: string): Map<string, Uint8Array> | null {
  const cp = Buffer.from(p + "\0");
  const n = Number(xlib.symbols.llistxattr(cp, ptr(xbuf), BigInt(xbuf.length)));
  if (n <= 0) {
    if (n < 0 && errno() !== 95 /* EOPNOTSUPP */ && errno() !== 61) throw new SyscallError("llistxattr", errno(), p);
    return null;
  }
  const names = xdec.decode(xbuf.subarray(0, n)).split("\0").filter(Boolean);
  const out = new Map<string, Uint8Array>();
  for (const name of names) {
    const v = Number(xlib.symbols.lgetxattr(cp, Buffer.from(name + "\0"), ptr(xbuf), BigInt(xbuf.length)));
    if (v < 0) {
      if (errno() === 61) continue; // removed meanwhile
      throw new SyscallError("lgetxattr", errno(), `${p}, ${name}`);
    }
    out.set(name, xbuf.slice(0, v));
  }
  return out;
}
