// A container's status is read from the world, never trusted from a file: is the recorded
// init alive (same start time), is exec.fifo still waiting, is the cgroup frozen.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ContainerStatus, State } from "../oci/spec.ts";
import { OCI_VERSION } from "../oci/version.ts";
import type { ContainerRecord, StateStore } from "./state-store.ts";
import { isAlive } from "./proc.ts";
import { openCgroup, type CgroupManager } from "../cgroups/index.ts";

export function containerCgroup(rec: ContainerRecord): CgroupManager {
  if (rec.noCgroup) throw new Error(`container ${rec.id} has no cgroup of its own (rootless without cgroup delegation)`);
  return openCgroup({ cgroupsPath: rec.cgroupsPath, containerId: rec.id });
}

export function statusOf(store: StateStore, rec: ContainerRecord): ContainerStatus {
  if (!rec.pid) return "creating";
  if (!isAlive(rec.pid, rec.pidStartTime)) return "stopped";
  if (existsSync(join(store.dir(rec.id), "exec.fifo"))) return "created";
  try {
    if (containerCgroup(rec).frozen()) return "paused";
  } catch {
    /* no freezer: cannot be paused */
  }
  return "running";
}

export function stateOf(store: StateStore, rec: ContainerRecord): State & { rootfs: string; created: string; owner: string } {
  const status = statusOf(store, rec);
  return {
    ociVersion: OCI_VERSION,
    id: rec.id,
    pid: status === "stopped" ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
    ...(rec.annotations ? { annotations: rec.annotations } : {}),
  };
}

/** The spec's State (what hooks get): no runtime extras. */
export function hookState(store: StateStore, rec: ContainerRecord, status?: ContainerStatus): State {
  return { ociVersion: OCI_VERSION, id: rec.id, status: status ?? statusOf(store, rec), pid: rec.pid, bundle: rec.bundle, ...(rec.annotations ? { annotations: rec.annotations } : {}) };
}
