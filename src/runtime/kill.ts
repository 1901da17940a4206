// `kill`: a signal to the container's init, or with --all to every process in its cgroup.
import type { StateStore } from "./state-store.ts";
import { statusOf, containerCgroup } from "./status.ts";
import { signalPid } from "../sys/rawfile.ts";

export function killContainer(store: StateStore, id: string, signal: number, all = false): void {
  const rec = store.read(id);
  const status = statusOf(store, rec);
  // runc 1.2: without a pid namespace of its own, killing the init does not take the container's
  // other processes with it (only a namespace's pid 1 does that), so KILL goes to every process
  // of its cgroup, even once the init is gone.
  const ownPidns = (rec.config.linux?.namespaces ?? []).some((n) => n.type === "pid" && !n.path);
  if (signal === 9 && !ownPidns && !all && !rec.noCgroup) {
    const cg = containerCgroup(rec);
    if (!cg.exists() && status === "stopped") throw new Error(`container not running: ${id} has stopped`);
    cg.killAll(signal);
    return;
  }
  // "container not running" is runc's text: containerd's shim matches it (process already finished).
  if (status === "stopped" && !all) throw new Error(`container not running: ${id} has stopped`);
  if (all && !rec.noCgroup) {
    const cg = containerCgroup(rec);
    cg.killAll(signal);
    return;
  }
  if (!signalPid(rec.pid, signal)) throw new Error(`container not running: ${id} has stopped`);
  if (status === "paused" && signal === 9) containerCgroup(rec).thaw();
}
