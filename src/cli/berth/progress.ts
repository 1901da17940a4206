// What a pull or push shows while it works. Without a terminal: docker's plain lines, one per
// layer event ("a1b2c3d4e5f6: Pull complete"), no byte counts. On a terminal: one live line per
// layer with its progress, redrawn in place by log-update (loaded only here, only on a terminal).
import type { PullEvent } from "../../image/registry/index.ts";
import { stdio } from "./io.ts";

export interface Display {
  event: (e: PullEvent) => void;
  done: () => void;
}

function size(n: number): string {
  const u = ["B", "kB", "MB", "GB"];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return `${i ? n.toFixed(n < 10 ? 2 : 1) : n}${u[i]}`;
}

function bar(current: number, total: number, width = 40): string {
  const f = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
  return `[${"=".repeat(Math.max(0, f - 1))}${f ? ">" : ""}${" ".repeat(width - f)}] ${size(current)}/${size(total)}`;
}

/** stream: stdout (pull, push) or stderr (the pull that run/create start). */
export function pullDisplay(stream: "out" | "err" = "out"): Display {
  const write = stream === "out" ? stdio.out : stdio.err;
  const s = stream === "out" ? process.stdout : process.stderr;
  const tty = s.isTTY && (s.columns ?? 0) > 0; // a terminal of no width (a bare pty) gets lines
  if (!tty) {
    return {
      event: (e) => {
        if (e.status === "Downloading" || e.status === "Pushing") return; // byte counts only on a terminal
        write(e.id ? `${e.id}: ${e.status}\n` : `${e.status}\n`);
      },
      done: () => {},
    };
  }
  // Synchronous require (Bun loads ES modules so): the display exists before the first event.
  const lu = require("log-update") as typeof import("log-update");
  const logUpdate = stream === "out" ? lu.default : lu.logUpdateStderr;
  const order: string[] = [];
  const lines = new Map<string, string>();
  let last = 0;
  let finished = false;
  const render = (force = false) => {
    const now = Date.now();
    if (!force && now - last < 80) return;
    last = now;
    logUpdate(order.map((id) => `${id}: ${lines.get(id)}`).join("\n"));
  };
  return {
    event: (e) => {
      if (finished) return;
      if (!e.id || e.id.length !== 12) {
        logUpdate.done();
        order.length = 0;
        lines.clear();
        write(e.id ? `${e.id}: ${e.status}\n` : `${e.status}\n`);
        return;
      }
      if (!lines.has(e.id)) order.push(e.id);
      lines.set(e.id, e.current !== undefined && e.total !== undefined ? `${e.status.padEnd(12)} ${bar(e.current, e.total)}` : e.status);
      render(e.current === undefined);
    },
    done: () => {
      if (finished) return;
      finished = true;
      if (order.length) render(true);
      logUpdate.done();
    },
  };
}
