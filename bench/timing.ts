// What the command-timing benchmarks share (runtime-run.ts, engine-run.ts): running one command
// with its CPU time, medians and quantiles of the samples, and the plain-text table.
import { closeSync, openSync, readFileSync } from "node:fs";

export interface Outcome {
  exitCode: number | null;
  ms: number;
  /** user + system CPU of the command and every descendant it waited for */
  cpuMs: number;
  output: string;
}

/**
 * Runs argv to completion. Output goes to a file, not a pipe: a container started by the command
 * may hold the stdio it was given, and a pipe would not reach EOF until the container ends.
 */
export function execute(argv: string[], logFile: string, env?: Record<string, string>): Outcome {
  const fd = openSync(logFile, "w");
  try {
    const start = performance.now();
    const proc = Bun.spawnSync(argv, { stdin: "ignore", stdout: fd, stderr: fd, env: env ? { ...process.env, ...env } : undefined });
    const ms = performance.now() - start;
    const cpu = proc.resourceUsage.cpuTime;
    return { exitCode: proc.exitCode, ms, cpuMs: Number(cpu.user + cpu.system) / 1000, output: readFileSync(logFile, "utf8").trim() };
  } finally {
    closeSync(fd);
  }
}

/** Why a run failed (its exit status and first line of output), or undefined when it exited `expected`. */
export function errorOf(o: Outcome, expected = 0): string | undefined {
  const first = o.output.split("\n")[0];
  return o.exitCode === expected ? undefined : `exit ${o.exitCode ?? "by signal"}${first ? `: ${first}` : ""}`;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);

/** One subject's (or command's) figures. */
export interface Timing {
  name: string;
  runs: number;
  failures: number;
  firstError?: string;
  medianMs: number;
  p90Ms: number;
  minMs: number;
  cpuMedianMs: number;
}

/** Collects the samples and failures of one row. */
export class Tally {
  readonly samples: { ms: number; cpuMs: number }[] = [];
  failures = 0;
  firstError?: string;

  constructor(readonly name: string) {}

  fail(error: string): void {
    this.failures++;
    this.firstError ??= error;
  }

  timing(): Timing {
    const ms = this.samples.map((s) => s.ms).sort((a, b) => a - b);
    return {
      name: this.name, runs: this.samples.length, failures: this.failures, firstError: this.firstError,
      medianMs: quantile(ms, 0.5), p90Ms: quantile(ms, 0.9), minMs: ms[0] ?? NaN,
      cpuMedianMs: median(this.samples.map((s) => s.cpuMs)),
    };
  }
}

/** Left-aligned first column, right-aligned numbers. */
export function printTable(rows: string[][], header: string[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((l) => l[i]!.length)));
  const show = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(show(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of rows) console.log(show(l));
}
