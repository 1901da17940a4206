// Facts about host processes read from /proc: liveness that survives pid reuse, zombies.
// Read through rawfile.ts: the runtime's start, state, kill and delete ask these and load no node:fs.
import { readText } from "./rawfile.ts";

function statFields(pid: number): string[] | null {
  let text: string | undefined;
  try {
    text = readText(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  if (text === undefined) return null;
  // comm may contain spaces and parentheses: split after the last ')'.
  const close = text.lastIndexOf(")");
  return [text.slice(0, close + 1), ...text.slice(close + 2).split(" ")];
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
export function processStartTime(pid: number): string | null {
  const f = statFields(pid);
  return f ? f[20] ?? null : null;
}

/** True when pid is the same process we recorded and has not exited. */
export function isAlive(pid: number, startTime: string): boolean {
  if (pid <= 0) return false;
  const f = statFields(pid);
  return f !== null && f[1] !== "Z" && f[1] !== "X" && f[20] === startTime;
}

/** True while some process has this pid and has not exited (a zombie has). */
export function isRunning(pid: number): boolean {
  const f = pid > 0 ? statFields(pid) : null;
  return f !== null && f[1] !== "Z" && f[1] !== "X";
}


export function parentPid(pid: number): number {
  const f = statFields(pid);
  return f ? Number(f[2]) : 0;
}

export function commandLine(pid: number): string {
  try {
    return (readText(`/proc/${pid}/cmdline`) ?? "").split("\0").filter(Boolean).join(" ");
  } catch {
    return "";
  }
}

export async function waitForExit(pid: number, startTime: string, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid, startTime)) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(2);
  }
  return true;
}
