// `kill`: a signal to the container's init, or with --all to every process in its cgroup.
import type { StateStore } from "./state-store.ts";
import { statusOf, containerCgroup } from "./status.ts";
import { signalPid } from "../sys/rawfile.ts";

export function killContainer(store: StateStore, id: string, signal: number, all = false): void {
  const rec = store.read(id);
  const status = statusOf(store, rec);
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
