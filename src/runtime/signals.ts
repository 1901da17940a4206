// Signal names as users type them (TERM, SIGTERM, 15, RTMIN+3, SIGRTMAX-1): one table and one
// rule for the runtime's `kill` and the engine's --stop-signal, `kill -s` and stop. A fixed
// table (Linux's numbers) rather than node:os, which the engine's short commands do not load.

/** Linux signal numbers (x86, arm, and every architecture Berth builds for). */
export const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13,
  ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25,
  VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

/** glibc's SIGRTMIN (the kernel's 32 and 33 are its own) and the kernel's SIGRTMAX. */
const RTMIN = 34, RTMAX = 64;

/**
 * The signal's number, or undefined when `text` names none. 0 (no signal: only checks that the
 * process exists, as kill(1) does) is returned for "0"; callers that need a real signal refuse it.
 */
export function signalNumber(text: string): number | undefined {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n <= RTMAX ? n : undefined;
  }
  const name = t.startsWith("SIG") ? t.slice(3) : t;
  if (Object.hasOwn(SIGNALS, name)) return SIGNALS[name];
  const rt = /^RTM(IN|AX)(?:([+-])(\d+))?$/.exec(name);
  if (!rt) return undefined;
  const offset = Number(rt[3] ?? 0);
  // RTMIN+n counts up and RTMAX-n down, both within the real-time range only.
  if (rt[1] === "IN" && rt[2] !== "-" && RTMIN + offset <= RTMAX) return RTMIN + offset;
  if (rt[1] === "AX" && rt[2] !== "+" && RTMAX - offset >= RTMIN) return RTMAX - offset;
  return undefined;
}

export function parseSignal(text: string): number {
  const n = signalNumber(text);
  if (n === undefined) throw new Error(`unknown signal ${JSON.stringify(text)}: use a name like TERM or KILL, or a number`);
  return n;
}
