// `delete`: removes a stopped container (with --force, stops it first): its cgroup, its state,
// then the poststop hooks.
import type { ContainerRecord, StateStore } from "./state-store.ts";
import { ContainerNotFound } from "./state-store.ts";
import { statusOf, containerCgroup, hookState } from "./status.ts";
import { waitForExit } from "./proc.ts";
import { runHooksWarnOnly } from "./hooks.ts";
import { signalPid } from "../sys/rawfile.ts";
import { removeEmptyGroups } from "../cgroups/empty-groups.ts";
import { trace } from "../sys/trace.ts";

/** `known`: the record as create returned it, when the caller still has it (see startContainer). */
export async function deleteContainer(store: StateStore, id: string, force: boolean, warn: (msg: string) => void, known?: ContainerRecord): Promise<void> {
  let rec;
  try {
    rec = known ?? store.read(id);
  } catch (e) {
    if (e instanceof ContainerNotFound && force) {
      store.remove(id); // leftovers of a half-written state, if any
      return;
    }
    throw e;
  }
  const status = statusOf(store, rec);
  trace("delete: state read");
  // runtime-spec: deleting a container that is not stopped must fail and change nothing
  // (runc kills a created one; we follow the spec, --force does the killing).
  if ((status === "running" || status === "paused" || status === "created") && !force) {
    throw new Error(`cannot delete container ${id} that is not stopped: it is ${status} (stop it, or use --force)`);
  }
  // A live container needs the cgroup manager (kill everything, thaw); a stopped one whose create
  // recorded its groups is removed by rmdir alone, the manager only if that is not enough.
  const live = status !== "stopped" && status !== "creating";
  const cg = rec.noCgroup || (!live && rec.cgroupDirs) ? undefined : containerCgroup(rec);
  if (live) {
    try {
      cg?.killAll(9);
    } catch { /* fall through to killing the init */ }
    signalPid(rec.pid, 9);
    if (status === "paused") cg?.thaw();
    if (!(await waitForExit(rec.pid, rec.pidStartTime))) throw new Error(`container ${id}: init ${rec.pid} did not die after SIGKILL`);
  }
  const state = hookState(store, rec, "stopped");
  if (cg) cg.destroy();
  else if (!rec.noCgroup && !removeEmptyGroups(rec.cgroupDirs!)) containerCgroup(rec).destroy();
  trace("delete: cgroup destroyed");
  store.remove(id);
  trace("delete: state removed");
  await runHooksWarnOnly("poststop", rec.config.hooks?.poststop, state, warn);
}
