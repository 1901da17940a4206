// --pid, --ipc, --uts and --cgroupns at create (names resolved to IDs, as for --network
// container:X) and at each start (the spec's namespaces and /dev/shm); parsing is in
// namespace-modes.ts. A shareable IPC namespace keeps its /dev/shm as a tmpfs mounted on the
// host (containers/ID/shm), as docker does, so that a container joining it binds the same one.
import { mkdirSync, rmdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { MNT_DETACH, MS, mount, umount } from "../sys/libc.ts";
import { EngineError } from "./errors.ts";
import type { Engine } from "./handle.ts";
import type { Namespace } from "../oci/spec.ts";
import type { ContainerRow, JoinedNamespace, NamespaceModes } from "./types.ts";
import { PRIVATE_NAMESPACES, type NamespaceSpec } from "./namespace-modes.ts";

/** container:NAME → container:ID (create): the other container must exist now. */
export function resolveNamespaceJoins(engine: Engine, modes: NamespaceModes): void {
  for (const key of ["pid", "ipc"] as const) {
    const mode = modes[key];
    if (!mode.startsWith("container:")) continue;
    const other = engine.find(mode.slice("container:".length));
    if (key === "ipc" && other.config.namespaces?.ipc !== "shareable" && other.config.namespaces?.ipc !== "host") {
      throw new EngineError(`cannot join IPC of container ${other.name}: non-shareable IPC (hint: use --ipc shareable for the donor container)`);
    }
    modes[key] = `container:${other.id}`;
  }
}

/** Where a shareable IPC namespace's /dev/shm is mounted on the host. */
export function shmDir(engine: Engine, id: string): string {
  return join(engine.paths.container(id), "shm");
}

function runningOther(engine: Engine, mode: JoinedNamespace, what: string): ContainerRow {
  const id = mode.slice("container:".length);
  const other = engine.store.get(id);
  if (!other || !engine.observe(other).running) throw new EngineError(`cannot join ${what} of a non running container: ${id.slice(0, 12)}`);
  return other;
}

/** The spec's side of the modes for one start (the containers joined must be running). */
export function namespaceSpec(engine: Engine, row: ContainerRow): NamespaceSpec {
  const modes = row.config.namespaces ?? PRIVATE_NAMESPACES;
  const namespaces: Namespace[] = [];
  let shm: string | null | undefined;
  if (modes.pid === "private") namespaces.push({ type: "pid" });
  else if (modes.pid !== "host") namespaces.push({ type: "pid", path: `/proc/${runningOther(engine, modes.pid, "PID").pid}/ns/pid` });
  if (modes.ipc === "host") shm = "/dev/shm";
  else if (modes.ipc.startsWith("container:")) {
    const other = runningOther(engine, modes.ipc as JoinedNamespace, "IPC");
    if (other.config.namespaces?.ipc === "host") shm = "/dev/shm";
    else {
      namespaces.push({ type: "ipc", path: `/proc/${other.pid}/ns/ipc` });
      shm = shmDir(engine, other.id);
    }
  } else {
    namespaces.push({ type: "ipc" });
    if (modes.ipc === "none") shm = null;
    else if (modes.ipc === "shareable") shm = mountShm(shmDir(engine, row.id));
  }
  if (modes.uts === "private") namespaces.push({ type: "uts" });
  if (modes.cgroup === "private") namespaces.push({ type: "cgroup" });
  return { namespaces, ...(shm !== undefined ? { shm } : {}) };
}

/** docker's /dev/shm of a shareable container: 64 MiB tmpfs on the host, bound into it. */
function mountShm(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!isMountPoint(dir)) mount("shm", dir, "tmpfs", MS.NOSUID | MS.NODEV | MS.NOEXEC, "mode=1777,size=65536k");
  return dir;
}

function isMountPoint(dir: string): boolean {
  try {
    return statSync(dir).dev !== statSync(dirname(dir)).dev;
  } catch {
    return false;
  }
}

/** Teardown: a shareable container's /dev/shm goes with its run (idempotent). */
export function releaseShm(engine: Engine, id: string): void {
  const dir = shmDir(engine, id);
  if (isMountPoint(dir)) umount(dir, MNT_DETACH);
  try {
    rmdirSync(dir);
  } catch { /* none */ }
}
