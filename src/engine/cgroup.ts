// A container's cgroup, opened where the container's config put it (--cgroup-parent), for every
// engine operation that reads or changes it (pause, kill, stats, update, teardown…).
import { openCgroup, type CgroupManager } from "../cgroups/index.ts";
import { cgroupsPathOf } from "./limits.ts";
import type { ContainerRow } from "./types.ts";

export function containerCgroup(row: Pick<ContainerRow, "id" | "config">): CgroupManager {
  return openCgroup({ cgroupsPath: cgroupsPathOf(row.config, row.id), containerId: row.id });
}
