// A container's status is read from the world, never trusted from a file: is the recorded
// init alive (same start time), is exec.fifo still waiting, is the cgroup frozen.
// No node:fs, and the cgroup manager only when a running container's freezer must be asked:
// start, state, kill and delete load this (see src/sys/rawfile.ts).
import type { ContainerStatus, State } from "../oci/spec.ts";
import { OCI_VERSION } from "../oci/version.ts";
import type { ContainerRecord, StateStore } from "./state-store.ts";
import { isAlive } from "./proc.ts";
import type { CgroupManager } from "../cgroups/index.ts";
import { exists } from "../sys/rawfile.ts";

export function containerCgroup(rec: ContainerRecord): CgroupManager {
  if (rec.noCgroup) throw new Error(`container ${rec.id} has no cgroup of its own (rootless without cgroup delegation)`);
  // require, not import: loading the cgroup package (and reading the host's mounts) is a cost
  // only the commands that touch a live group should pay.
  const { openCgroup } = require("../cgroups/index.ts") as typeof import("../cgroups/index.ts");
  return openCgroup({ cgroupsPath: rec.cgroupsPath, containerId: rec.id });
}

export function statusOf(store: StateStore, rec: ContainerRecord): ContainerStatus {
  if (!rec.pid) return "creating";
  if (!isAlive(rec.pid, rec.pidStartTime)) return "stopped";
  if (exists(`${store.dir(rec.id)}/exec.fifo`)) return "created";
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
