// How a new container process gets its cgroups from the C core (native/init/cgroups.c): the lines
// that make the groups, and the plan records that put it in them, skipping the kernel's slow
// cgroup.procs path (see CgroupEntry).
import type { CgroupManager } from "../cgroups/index.ts";
import type { PlanRecord } from "../sys/plan-encoding.ts";

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
