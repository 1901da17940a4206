// Signal names as users type them to `kill`: TERM, SIGTERM, 15, RTMIN+3.
import { constants } from "node:os";

const SIGNALS = constants.signals as Record<string, number>;

export function parseSignal(text: string): number {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n >= 0 && n <= 64) return n; // 0: only checks that the process exists, as kill(1) does
  } else {
    const name = t.startsWith("SIG") ? t : `SIG${t}`;
    if (SIGNALS[name] !== undefined) return SIGNALS[name]!;
    const rt = /^SIGRTM(IN|AX)([+-]\d+)?$/.exec(name);
    if (rt) return (rt[1] === "IN" ? 34 : 64) + Number(rt[2] ?? 0);
  }
  throw new Error(`unknown signal ${JSON.stringify(text)}: use a name like TERM or KILL, or a number`);
}
