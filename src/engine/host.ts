// What this host can give a container, asked without building a spec (create checks the flags
// against it, spec.ts builds from it): the capabilities in our own bounding set, the device nodes
// --privileged passes through, and tini for --init.
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import type { Device } from "../oci/spec.ts";
import { CAPABILITY_NAMES, capabilitiesFromMask } from "../security/capabilities.ts";

/** A host binary usable as --init (docker ships tini as docker-init). */
// Static builds first: the binary runs inside the image, which may have no libc.
export const INIT_CANDIDATES = ["/usr/bin/tini-static", "/usr/libexec/docker/docker-init", "/usr/bin/docker-init", "/usr/bin/tini"];

/** --privileged: the host's top-level device nodes (docker gives them all), minus the ones the
 *  runtime makes itself or that belong to the host's terminals. */
export function hostDevices(dir = "/dev"): Device[] {
  const skip = /^(console|ptmx|tty\d*|null|zero|full|random|urandom|fuse)$/;
  const out: Device[] = [];
  for (const name of readdirSync(dir)) {
    if (skip.test(name)) continue;
    let st;
    try {
      st = lstatSync(`${dir}/${name}`);
    } catch {
      continue;
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) continue;
    const rdev = Number(st.rdev);
    out.push({
      type: st.isCharacterDevice() ? "c" : "b", path: `/dev/${name}`,
      // glibc's dev_t layout; devices here fit in 32 bits (JS shifts are 32-bit).
      major: (rdev >>> 8) & 0xfff, minor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00),
      fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid,
    });
  }
  return out;
}

export function hostInitBinary(): string | null {
  return INIT_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** The capabilities this process may hand out: its bounding set (this host lacks CAP_SYS_RESOURCE). */
export function hostCapabilities(status = readFileSync("/proc/self/status", "utf8")): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1];
  return hex ? capabilitiesFromMask(BigInt(`0x${hex}`)) : [...CAPABILITY_NAMES];
}
