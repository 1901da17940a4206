// The bpf() syscall for cgroup device programs: load, attach (replacing Berth's previous program
// without a window where none is attached), query. One syscall per operation, via bun:ffi.
import { closeSync, openSync, constants } from "node:fs";
import { ptr } from "bun:ffi";
import { syscall, SyscallError } from "../sys/libc.ts";
import { CgroupError } from "./files.ts";

const SYS_BPF = 321; // x86_64
const BPF_PROG_LOAD = 5, BPF_PROG_ATTACH = 8, BPF_PROG_DETACH = 9, BPF_PROG_GET_FD_BY_ID = 13, BPF_PROG_QUERY = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15, BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;
const ATTR_SIZE = 128;

function bpf(cmd: number, attr: Uint8Array, what: string): number {
  try {
    return syscall(SYS_BPF, cmd, ptr(attr), ATTR_SIZE);
  } catch (e) {
    if (e instanceof SyscallError) throw new CgroupError(`bpf(${what}) failed: ${e.code} (${e.message})`);
    throw e;
  }
}

/** Loads a BPF_PROG_TYPE_CGROUP_DEVICE program; returns its fd. The verifier log goes into the error. */
export function loadDeviceProgram(code: Uint8Array): number {
  const license = Buffer.from("Apache\0");
  const log = new Uint8Array(65536);
  const attr = new Uint8Array(ATTR_SIZE);
  const v = new DataView(attr.buffer);
  v.setUint32(0, BPF_PROG_TYPE_CGROUP_DEVICE, true);
  v.setUint32(4, code.length / 8, true);
  v.setBigUint64(8, BigInt(ptr(code)), true);
  v.setBigUint64(16, BigInt(ptr(license)), true);
  v.setUint32(24, 1, true); // log_level
  v.setUint32(28, log.length, true);
  v.setBigUint64(32, BigInt(ptr(log)), true);
  attr.set(new TextEncoder().encode("berth_devices"), 48); // prog_name (≤15 chars)
  try {
    return bpf(BPF_PROG_LOAD, attr, "PROG_LOAD");
  } catch (e) {
    const text = new TextDecoder().decode(log.subarray(0, log.indexOf(0) < 0 ? log.length : log.indexOf(0))).trim();
    throw new CgroupError(`${(e as Error).message}${text ? `; verifier said: ${text.split("\n").slice(-3).join(" | ")}` : ""}`);
  }
}

function withDir<T>(dir: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (e) {
    throw new CgroupError(`cannot open cgroup ${dir}: ${(e as NodeJS.ErrnoException).code}`);
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** Ids of the device programs attached to a cgroup. */
export function queryDevicePrograms(dir: string): number[] {
  return withDir(dir, (cg) => {
    const ids = new Uint32Array(64);
    const attr = new Uint8Array(ATTR_SIZE);
    const v = new DataView(attr.buffer);
    v.setUint32(0, cg, true);
    v.setUint32(4, BPF_CGROUP_DEVICE, true);
    v.setBigUint64(16, BigInt(ptr(ids)), true);
    v.setUint32(24, ids.length, true);
    bpf(BPF_PROG_QUERY, attr, "PROG_QUERY");
    return Array.from(ids.subarray(0, v.getUint32(24, true)));
  });
}

/**
 * Attaches prog to the cgroup with BPF_F_ALLOW_MULTI, then detaches the programs that were there
 * before — so the group is never without a filter while it is replaced.
 */
export function attachDeviceProgram(dir: string, progFd: number): void {
  withDir(dir, (cg) => {
    const old = queryDevicePrograms(dir);
    const attr = new Uint8Array(ATTR_SIZE);
    const v = new DataView(attr.buffer);
    v.setUint32(0, cg, true);
    v.setUint32(4, progFd, true);
    v.setUint32(8, BPF_CGROUP_DEVICE, true);
    v.setUint32(12, BPF_F_ALLOW_MULTI, true);
    bpf(BPF_PROG_ATTACH, attr, "PROG_ATTACH");
    for (const id of old) {
      const idAttr = new Uint8Array(ATTR_SIZE);
      new DataView(idAttr.buffer).setUint32(0, id, true);
      const oldFd = bpf(BPF_PROG_GET_FD_BY_ID, idAttr, "PROG_GET_FD_BY_ID");
      try {
        const d = new Uint8Array(ATTR_SIZE);
        const dv = new DataView(d.buffer);
        dv.setUint32(0, cg, true);
        dv.setUint32(4, oldFd, true);
        dv.setUint32(8, BPF_CGROUP_DEVICE, true);
        bpf(BPF_PROG_DETACH, d, "PROG_DETACH");
      } finally {
        closeSync(oldFd);
      }
    }
  });
}

/** Generates, loads and attaches; the attachment keeps the program alive, so its fd is closed. */
export function setDevicePrograms(dir: string, code: Uint8Array): void {
  const fd = loadDeviceProgram(code);
  try {
    attachDeviceProgram(dir, fd);
  } finally {
    closeSync(fd);
  }
}
