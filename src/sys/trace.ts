// BERTH_TRACE=1: milliseconds since the process started at each step of a command, on stderr
// (for finding where `run` spends its time; silent otherwise).
const enabled = !!process.env.BERTH_TRACE;
const t0 = performance.timeOrigin;

export function trace(step: string): void {
  if (!enabled) return;
  const cpu = process.cpuUsage();
  // writeSync, not process.stderr: that getter loads Node's stream library and would be timed too.
  (require("node:fs") as typeof import("node:fs")).writeSync(2, `[trace ${(performance.timeOrigin + performance.now() - t0).toFixed(1)}ms cpu ${((cpu.user + cpu.system) / 1000).toFixed(1)}ms] ${step}\n`);
}
