// How a new container process gets its cgroups from the C core (native/init/cgroups.c): the lines
// that make the groups, and the plan records that put it in them, skipping the kernel's slow
// cgroup.procs path (see CgroupEntry).
import type { CgroupManager } from "../cgroups/index.ts";
import type { PlanRecord } from "../sys/plan-encoding.ts";
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/** `stayingParent`: stage 0 remains the process's parent (foreground run) and must go back to
 *  the caller's own groups once the process is cloned. */
export function cgroupEntryRecords(cgroup: CgroupManager, stayingParent: boolean): PlanRecord[] {
  const entry = cgroup.entry();
  const records: PlanRecord[] = entry.tasks.map((file) => ["cgroup_enter", file]);
  if (entry.cloneInto) records.push(["cgroup_clone_into", entry.cloneInto]);
  if (stayingParent) for (const file of entry.homeTasks) records.push(["cgroup_leave", file]);
  return records;
}

/** "cgroup CPUSET MOUNT DIR" lines: stage 0 makes the groups (native/init/cgroups.c) while the
 *  plan is built. Undefined when create() must make them here (v2 controllers to enable in the
 *  parents, or a path with blanks, which a line cannot carry). */
export function cgroupMkdirLines(cgroup: CgroupManager): string[] | undefined {
  const dirs = cgroup.toMake();
  if (!dirs || dirs.some((d) => /\s/.test(d.mountPoint + d.dir) || d.dir.length > 4000)) return undefined;
  return dirs.map((d) => `cgroup ${d.cpuset ? 1 : 0} ${d.mountPoint} ${d.dir}`);
}

/**
 * runc's `exec --cgroup`: the process joins existing sub-groups of the container's groups instead.
 * `sub` maps a controller (as CgroupManager.paths() names them, "unified" for the v2 group) to a
 * path below the container's group there; the key "" means every hierarchy (the only form on a
 * v2-only host). A path that climbs out of the container's group, a controller the container
 * does not have, and a sub-group that does not exist are refused before anything runs, in runc's
 * words.
 */
export function subCgroupEntryRecords(cgroup: CgroupManager, sub: Record<string, string>): PlanRecord[] {
  const paths = cgroup.paths();
  const dirOf = new Map<string, string>(); // the container's directory -> the one to join instead
  const below = (base: string, add: string): string => {
    const dir = resolve(base, `./${add}`);
    if (dir !== base && !dir.startsWith(base + "/")) throw new Error(`${add} is not a sub cgroup path`);
    return dir;
  };
  if ("" in sub) {
    for (const base of Object.values(paths)) dirOf.set(base, below(base, sub[""]!));
  } else {
    for (const [controller, add] of Object.entries(sub)) {
      const base = paths[controller];
      if (!base) throw new Error(`unknown controller ${controller} in --cgroup (this container's: ${Object.keys(paths).sort().join(", ")})`);
      dirOf.set(base, below(base, add));
    }
  }
  for (const dir of new Set(dirOf.values())) {
    if (!existsSync(join(dir, "cgroup.procs"))) throw new Error(`error adding pid to cgroups: ${join(dir, "cgroup.procs")}: no such file or directory (make the sub-cgroup first)`);
  }
  const entry = cgroup.entry();
  const swap = (file: string) => {
    const dir = dirname(file);
    return join(dirOf.get(dir) ?? dir, basename(file));
  };
  const records: PlanRecord[] = entry.tasks.map((file) => ["cgroup_enter", swap(file)]);
  if (entry.cloneInto) records.push(["cgroup_clone_into", dirOf.get(entry.cloneInto) ?? entry.cloneInto]);
  return records;
}
