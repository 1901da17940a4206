// A container's log as `berth logs` (and an API's logs route) reads it: -f follows only a running
// container, and ends when its exit file appears or the caller aborts.
import type { Engine } from "./engine.ts";
import { type LogSink, type LogWriteOptions, writeLogs } from "./logs.ts";
import { waitExitFile } from "./monitor.ts";

export interface LogsRequest extends Pick<LogWriteOptions, "tail" | "since" | "until" | "timestamps"> {
  /** Container name or ID. */
  container: string;
  follow?: boolean;
  /** Ends the read (and a follow) early. */
  signal?: AbortSignal;
}

export async function containerLogs(engine: Engine, req: LogsRequest, sink: LogSink): Promise<void> {
  const row = engine.find(req.container);
  const follow = !!req.follow && engine.observe(row).running;
  const ac = new AbortController();
  const abort = () => ac.abort();
  req.signal?.addEventListener("abort", abort);
  try {
    const stop = follow ? waitExitFile(engine.paths.exitFile(row.id), ac.signal).catch(() => {}) : undefined;
    await writeLogs(engine.paths.log(row.id), { tail: req.tail, since: req.since, until: req.until, timestamps: req.timestamps, follow, stop, signal: ac.signal }, sink);
  } finally {
    req.signal?.removeEventListener("abort", abort);
    ac.abort();
  }
}
