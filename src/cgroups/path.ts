// linux.cgroupsPath, resolved the way runc does for cgroupfs:
//   "/a/b"  — absolute: the same path under every hierarchy's root;
//   "a/b"   — relative: under the caller's own cgroup in each hierarchy;
//   unset   — "/berth/<containerId>".
// ".." is refused outright rather than normalised: a path that climbs is a mistake or an attack.
import { join } from "node:path";
import { CgroupError } from "./files.ts";
import type { CgroupMount, ProcCgroup } from "./mountinfo.ts";

export interface CgroupPath {
  absolute: boolean;
  /** normalised, without leading slash for relative paths; always non-empty */
  path: string;
}

import { DEFAULT_PARENT } from "./empty-groups.ts";
export { DEFAULT_PARENT };

export function parseCgroupsPath(cgroupsPath: string | undefined, containerId: string): CgroupPath {
  if (cgroupsPath === undefined || cgroupsPath === "") {
    if (!containerId || containerId.includes("/") || containerId === "." || containerId === "..") {
      throw new CgroupError(`container id ${JSON.stringify(containerId)} cannot name a cgroup: it must be non-empty, without "/" and not "." or ".."`);
    }
    return { absolute: true, path: `/${DEFAULT_PARENT}/${containerId}` };
  }
  if (/^[^/]*:[^/]*:[^/]*$/.test(cgroupsPath)) {
    throw new CgroupError(`cgroupsPath ${JSON.stringify(cgroupsPath)} is in systemd "slice:prefix:name" form; Berth manages cgroupfs paths only — give a path like /berth/NAME`);
  }
  if (cgroupsPath.includes("\0") || cgroupsPath.includes("\n")) {
    throw new CgroupError(`cgroupsPath ${JSON.stringify(cgroupsPath)} contains a NUL or newline`);
  }
  const segments = cgroupsPath.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) {
    throw new CgroupError(`cgroupsPath ${JSON.stringify(cgroupsPath)} contains "..", which could escape the cgroup root; use a path without ".."`);
  }
  if (segments.length === 0) {
    throw new CgroupError(`cgroupsPath ${JSON.stringify(cgroupsPath)} names the hierarchy root itself; give a sub-path such as /berth/NAME`);
  }
  const absolute = cgroupsPath.startsWith("/");
  return { absolute, path: (absolute ? "/" : "") + segments.join("/") };
}

/** A systemd cgroupsPath ("slice:prefix:name", runc's --systemd-cgroup form) resolved as runc does. */
export interface SystemdCgroupPath {
  slice: string;
  /** the unit systemd would create: "prefix-name.scope", or the name itself when it is a slice */
  unit: string;
  /** the cgroup the unit would get, below each hierarchy's root: the slice's expansion + unit */
  path: string;
}

/**
 * Parses the cgroupsPath of a container created with --systemd-cgroup. An empty path means
 * "system.slice:runc:<id>"; an empty slice means system.slice. Slice names expand like systemd's
 * ("a-b.slice" lives in "/a.slice/a-b.slice"). Errors use runc's wording.
 */
export function parseSystemdCgroupsPath(cgroupsPath: string | undefined, containerId: string): SystemdCgroupPath {
  const parts = cgroupsPath ? cgroupsPath.split(":") : ["", "runc", containerId];
  if (parts.length !== 3) {
    throw new CgroupError(`expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got ${JSON.stringify(cgroupsPath)} instead`);
  }
  const [parent, prefix, name] = parts as [string, string, string];
  if (!name) throw new CgroupError(`cgroupsPath ${JSON.stringify(cgroupsPath)} has no name: "slice:prefix:name" needs a name`);
  const slice = parent || "system.slice";
  const unit = name.endsWith(".slice") ? name : `${prefix}-${name}.scope`;
  if (unit.includes("/")) throw new CgroupError(`invalid unit name ${JSON.stringify(unit)}: "/" is not allowed`);
  return { slice, unit, path: `${expandSlice(slice)}/${unit}`.replace(/^\/\//, "/") };
}

/** systemd's slice expansion: "a-b-c.slice" is "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root. */
export function expandSlice(slice: string): string {
  const suffix = ".slice";
  if (slice.length <= suffix.length || !slice.endsWith(suffix) || slice.includes("/")) throw new CgroupError(`invalid slice name: ${slice}`);
  const base = slice.slice(0, -suffix.length);
  if (base === "-") return "/";
  let path = "", prefix = "";
  for (const component of base.split("-")) {
    if (component === "") throw new CgroupError(`invalid slice name: ${slice}`);
    path += `/${prefix}${component}${suffix}`;
    prefix += `${component}-`;
  }
  return path;
}

/** The caller's own cgroup in a hierarchy, as a path below that hierarchy's mount point. */
export function ownCgroup(mount: CgroupMount, self: ProcCgroup[]): string {
  const line = mount.version === 2
    ? self.find((l) => l.id === 0 && l.controllers.length === 0)
    : self.find((l) => mount.controllers.some((c) => l.controllers.includes(c)) || (mount.name !== undefined && l.controllers.includes(mount.name)));
  const full = line?.path ?? "/";
  // Inside a bind-mounted subtree, the mount's root is a prefix of the path the kernel reports.
  if (mount.root !== "/" && (full === mount.root || full.startsWith(mount.root + "/"))) return full.slice(mount.root.length) || "/";
  return full;
}

/** The directory of the cgroup in one hierarchy. */
export function cgroupDir(mount: CgroupMount, p: CgroupPath, self: ProcCgroup[]): string {
  return p.absolute ? join(mount.mountPoint, p.path) : join(mount.mountPoint, ownCgroup(mount, self), p.path);
}
