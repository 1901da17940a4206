// The healthcheck create records, from the image's HEALTHCHECK and the --health-* flags over it
// (compose's healthcheck keys map to the same request); health.ts runs it.
import { parseGoDuration } from "../image/duration.ts";
import type { ImageConfig } from "../image/oci.ts";
import { UsageError } from "./errors.ts";
import type { HealthConfig } from "./types.ts";

/** docker's defaults (api/types/container: DefaultHealthcheck*). */
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;

export type HealthStatus = "starting" | "healthy" | "unhealthy";

export interface HealthLogEntry { Start: string; End: string; ExitCode: number; Output: string }

/** State.Health as docker's inspect shows it. */
export interface HealthState { Status: HealthStatus; FailingStreak: number; Log: HealthLogEntry[] }

/** The --health-* flags (and compose's healthcheck keys), as given. */
export interface HealthRequest {
  /** --health-cmd: a shell command line (CMD-SHELL). */
  cmd?: string;
  /** compose's `test`: docker's list form (["CMD", …], ["CMD-SHELL", "…"], ["NONE"]). */
  test?: string[];
  interval?: string;
  timeout?: string;
  startPeriod?: string;
  retries?: string | number;
  /** --no-healthcheck, compose's `disable: true`. */
  disable?: boolean;
}

/** A Go duration ("30s", "1m30s", "500ms") in milliseconds; docker's flag syntax and wording. */
export function parseDuration(value: string, flag: string): number {
  const ms = parseGoDuration(value);
  if (ms === null) throw new UsageError(`invalid argument "${value}" for "${flag}" flag: time: invalid duration "${value}" (use e.g. 30s, 1m30s, 500ms)`);
  return ms;
}

function checkedDuration(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value, flag);
  // docker: "Interval in --health-interval must be at least 1ms" (0 means the default).
  if (ms !== 0 && ms < min) throw new UsageError(`${flag} must be at least ${min}ms (got ${value})`);
  return ms === 0 ? undefined : ms;
}

/** The healthcheck create records: the image's, each flag replacing its part; none when disabled. */
export function healthConfig(req: HealthRequest, image: ImageConfig["Healthcheck"]): HealthConfig | undefined {
  if (req.disable && (req.cmd !== undefined || req.test !== undefined)) throw new UsageError("--no-healthcheck conflicts with --health-* options");
  if (req.disable) return undefined;
  let test: string[] | undefined = req.cmd !== undefined ? ["CMD-SHELL", req.cmd] : req.test;
  if (test !== undefined) {
    if (test.length === 0) test = undefined; // compose: an empty test inherits the image's
    else if (test[0] === "NONE") return undefined;
    else if (test[0] !== "CMD" && test[0] !== "CMD-SHELL") test = ["CMD-SHELL", test.join(" ")];
    if (test && test.length < 2) throw new UsageError(`healthcheck test ${JSON.stringify(test)} names no command`);
  }
  test ??= image?.Test;
  // Tuning flags without a command and without an image check: nothing to run, as docker.
  if (!test || test.length === 0 || test[0] === "NONE") return undefined;
  const nsToMs = (ns: number | undefined) => (ns ? Math.round(ns / 1e6) : undefined);
  const retries = req.retries === undefined ? undefined : Number(req.retries);
  if (retries !== undefined && (!Number.isInteger(retries) || retries < 0)) throw new UsageError(`--health-retries cannot be negative or fractional (got ${req.retries})`);
  return {
    test,
    intervalMs: checkedDuration(req.interval, "--health-interval", 1) ?? nsToMs(image?.Interval) ?? DEFAULT_INTERVAL_MS,
    timeoutMs: checkedDuration(req.timeout, "--health-timeout", 1) ?? nsToMs(image?.Timeout) ?? DEFAULT_TIMEOUT_MS,
    startPeriodMs: checkedDuration(req.startPeriod, "--health-start-period", 1) ?? nsToMs(image?.StartPeriod) ?? 0,
    retries: retries || image?.Retries || DEFAULT_RETRIES,
  };
}

/** docker's Config.Healthcheck (nanoseconds). */
export function healthcheckObject(h: HealthConfig): Record<string, unknown> {
  return { Test: h.test, Interval: h.intervalMs * 1e6, Timeout: h.timeoutMs * 1e6, StartPeriod: h.startPeriodMs * 1e6, Retries: h.retries };
}

