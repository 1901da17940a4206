// `berth kill`: a signal to the container's init (SIGKILL thaws a paused container so it dies).
import { containerCgroup } from "./cgroup.ts";
import { kill } from "../sys/libc.ts";
import type { Engine } from "./handle.ts";
import { EngineError } from "./errors.ts";
import type { ContainerRow } from "./types.ts";
import { recordContainerEvent } from "./events.ts";

const SIGKILL = 9;

export function killContainer(engine: Engine, ref: string, signal: number): ContainerRow {
  const row = engine.find(ref);
  if (!engine.observe(row).running) throw new EngineError(`Cannot kill container: ${ref}: container ${row.id} is not running`);
  if (signal === SIGKILL || signal === 15) engine.store.update(row.id, { stoppedByUser: true });
  if (!kill(row.pid, signal)) throw new EngineError(`Cannot kill container: ${ref}: the process is gone`);
  if (row.state === "paused" && signal === SIGKILL) containerCgroup(row).thaw();
  recordContainerEvent(engine.root, "kill", row, { signal: String(signal) });
  return row;
}
