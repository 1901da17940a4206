// Go's duration syntax ("30s", "1m30s", "500ms", "1.5h"), as docker's --health-* flags, the
// Dockerfile's HEALTHCHECK options and compose files write durations.

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds (rounded), or null when the text is not a duration. */
export function parseGoDuration(value: string): number | null {
  const v = value.trim();
  if (v === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0, end = 0;
  for (let m = re.exec(v); m !== null; m = re.exec(v)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    end = re.lastIndex;
  }
  return end === 0 || end !== v.length ? null : Math.round(total);
}
