// The cgroup layout under a root directory (default /sys/fs/cgroup), detected from mountinfo:
//   v2     — root itself is a cgroup2 mount (unified only);
//   v1     — cgroup (v1) hierarchies under root, no cgroup2 mount there;
//   hybrid — v1 hierarchies plus a cgroup2 mount under root (e.g. root/unified).
// A controller lives where it is bound: a v1 mount, or the unified hierarchy's cgroup.controllers.
import { join } from "node:path";
import { type CgroupMount, readMountinfo } from "./mountinfo.ts";
import { CgroupError, readOptional } from "./files.ts";

export type CgroupLayout = "v1" | "v2" | "hybrid";

export const DEFAULT_ROOT = "/sys/fs/cgroup";

export interface Hierarchies {
  layout: CgroupLayout;
  root: string;
  /** v1 controller -> its mount (several controllers may share one mount, e.g. cpu,cpuacct). */
  v1: Map<string, CgroupMount>;
  /** the cgroup2 mount, if any. */
  unified?: CgroupMount;
  /** controllers available on the unified hierarchy (its root's cgroup.controllers). */
  v2Controllers: Set<string>;
}

function within(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : root + "/");
}

export function discoverHierarchies(root: string = DEFAULT_ROOT, mounts: CgroupMount[] = readMountinfo()): Hierarchies {
  const clean = root.replace(/\/+$/, "") || "/";
  const v1 = new Map<string, CgroupMount>();
  let unified: CgroupMount | undefined;
  for (const m of mounts) {
    if (!within(m.mountPoint, clean)) continue;
    if (m.version === 2) {
      // The root itself wins over a nested cgroup2 mount; otherwise take the first one found.
      if (!unified || m.mountPoint === clean) unified = m;
    } else {
      for (const c of m.controllers) if (!v1.has(c)) v1.set(c, m);
      // A named hierarchy without controllers (name=systemd on a hybrid host) is joined too, as
      // runc joins it: a container's processes then show its path on every line of /proc/PID/cgroup.
      if (m.name && m.controllers.length === 0 && !v1.has(m.name)) v1.set(m.name, m);
    }
  }
  if (unified && unified.mountPoint === clean) v1.clear(); // a pure v2 root cannot also hold v1 mounts
  if (!unified && v1.size === 0) {
    throw new CgroupError(`no cgroup hierarchy is mounted at or under ${clean} (see /proc/self/mountinfo); mount cgroup2 or the v1 controllers there`);
  }
  const layout: CgroupLayout = !unified ? "v1" : v1.size === 0 ? "v2" : "hybrid";
  const v2Controllers = new Set<string>();
  if (unified) {
    const text = readOptional(join(unified.mountPoint, "cgroup.controllers")) ?? "";
    for (const c of text.trim().split(/\s+/)) if (c) v2Controllers.add(c);
  }
  return { layout, root: clean, v1, unified, v2Controllers };
}

export function detectLayout(root: string = DEFAULT_ROOT): CgroupLayout {
  return discoverHierarchies(root).layout;
}
