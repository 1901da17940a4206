// Healthchecks without a daemon: the container's monitor keeps the clock (--periodic-command,
// native/monitor/periodic.c) and runs `berth internal health ID` every interval, which execs the
// probe in the container through the engine's exec path and records the result in the
// container's health.json (atomically: readers never see half a file). What the check is, create
// decided (health-config.ts). A container without one has no periodic command: its run path is
// unchanged.
import { closeSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { recordContainerEvent } from "./events.ts";
import type { Engine } from "./handle.ts";
import type { HealthLogEntry, HealthState } from "./health-config.ts";

/** docker keeps the last five probes and at most 4 KiB of each one's output. */
const LOG_ENTRIES = 5;
const OUTPUT_MAX = 4096;

function healthFile(engine: Engine, id: string): string {
  return engine.paths.healthFile(id);
}

/** The recorded health; a container with a check that has no result yet is "starting". */
export function readHealth(engine: Engine, id: string): HealthState {
  try {
    return JSON.parse(readFileSync(healthFile(engine, id), "utf8")) as HealthState;
  } catch {
    return { Status: "starting", FailingStreak: 0, Log: [] };
  }
}

/** A new run starts over as "starting" (start.ts). */
export function resetHealth(engine: Engine, id: string): void {
  rmSync(healthFile(engine, id), { force: true });
}

/** One probe: exec the test in the container (killed after the timeout), record the outcome. */
export async function runHealthcheck(engine: Engine, id: string): Promise<HealthState> {
  const row = engine.find(id);
  const h = row.config.healthcheck;
  if (!h) return readHealth(engine, row.id);
  const view = engine.observe(row);
  if (!view.running || view.status === "paused") return readHealth(engine, row.id);
  const { execProcess } = await import("./exec.ts");
  const outPath = join(engine.paths.container(row.id), `health-${process.pid}.out`);
  const fd = openSync(outPath, "w+", 0o600);
  const start = new Date();
  let code: number;
  let timedOut = false;
  let pid = 0;
  const timer = setTimeout(() => {
    timedOut = true;
    if (pid > 0) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
  }, h.timeoutMs);
  try {
    const cmd = h.test[0] === "CMD-SHELL" ? ["/bin/sh", "-c", h.test[1]!] : h.test.slice(1);
    code = await execProcess(engine, row.id, { cmd, output: fd, onPid: (p) => { pid = p; if (timedOut) try { process.kill(p, "SIGKILL"); } catch { /* gone */ } } });
  } catch (e) {
    code = (e as { exitCode?: number }).exitCode ?? 1;
    writeFileSync(fd, (e as Error).message);
  } finally {
    clearTimeout(timer);
  }
  const buf = Buffer.alloc(OUTPUT_MAX);
  const n = readSync(fd, buf, 0, OUTPUT_MAX, 0);
  closeSync(fd);
  rmSync(outPath, { force: true });
  let output = buf.toString("utf8", 0, n);
  if (timedOut) {
    code = -1;
    output = `Health check exceeded timeout (${h.timeoutMs / 1000}s)`;
  }
  const prev = readHealth(engine, row.id);
  const entry: HealthLogEntry = { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: code, Output: output };
  const next: HealthState = { Status: prev.Status, FailingStreak: prev.FailingStreak, Log: [...prev.Log, entry].slice(-LOG_ENTRIES) };
  if (code === 0) {
    next.Status = "healthy";
    next.FailingStreak = 0;
  } else if (!(prev.Status === "starting" && Date.now() - row.startedAt < h.startPeriodMs)) {
    // docker: failures during the start period do not count (unless a probe already succeeded).
    next.FailingStreak = prev.FailingStreak + 1;
    if (next.FailingStreak >= h.retries) next.Status = "unhealthy";
  }
  // The container may have been restarted meanwhile: its new run starts over.
  const now = engine.store.get(row.id);
  if (!now || now.startedAt !== row.startedAt) return next;
  const file = healthFile(engine, row.id);
  writeFileSync(file + ".tmp", JSON.stringify(next));
  renameSync(file + ".tmp", file);
  // docker's event on a change of status ("health_status: healthy"), which `docker events` and
  // compose's depends_on condition: service_healthy watch.
  if (next.Status !== prev.Status) recordContainerEvent(engine.root, `health_status: ${next.Status}`, now);
  return next;
}
