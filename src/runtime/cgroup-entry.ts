// Plan records that put a new container process into its cgroups (native/init/cgroups.c does it,
// skipping the kernel's slow cgroup.procs path; see CgroupEntry).
import type { CgroupManager } from "../cgroups/index.ts";
import type { PlanRecord } from "./plan-encoding.ts";

/** `stayingParent`: stage 0 remains the process's parent (foreground run) and must go back to
 *  the caller's own groups once the process is cloned. */
export function cgroupEntryRecords(cgroup: CgroupManager, stayingParent: boolean): PlanRecord[] {
  const entry = cgroup.entry();
  const records: PlanRecord[] = entry.tasks.map((file) => ["cgroup_enter", file]);
  if (entry.cloneInto) records.push(["cgroup_clone_into", entry.cloneInto]);
  if (stayingParent) for (const file of entry.homeTasks) records.push(["cgroup_leave", file]);
  return records;
}
