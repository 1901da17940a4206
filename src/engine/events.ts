// The engine's event log: one JSON line per container lifecycle change (create, start, die,
// kill, stop, destroy, pause, unpause, rename), appended by whichever berth process made the
// change (a CLI command, the exit hook, the API service), so `docker events` through the API
// service sees what plain `berth` commands did too. One O_APPEND write per event (atomic
// against other writers, no lock); past LOG_LIMIT the log moves to events.log.1.
import { closeSync, fstatSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { ContainerRow } from "./types.ts";

/** One event as written: Docker's names, time in ns since the epoch. */
export interface EngineEvent {
  type: "container" | "image" | "network" | "volume";
  action: string;
  id: string;
  attributes: Record<string, string>;
  timeNano: number;
}

export const EVENTS_LOG = "events.log";
const LOG_LIMIT = 1024 * 1024;

export function eventsLog(root: string): string {
  return join(root, EVENTS_LOG);
}

/** Appends an event; never throws (an event log that cannot be written loses the event only). */
export function recordEvent(root: string, type: EngineEvent["type"], action: string, id: string, attributes: Record<string, string> = {}): void {
  const e: EngineEvent = { type, action, id, attributes, timeNano: Date.now() * 1_000_000 };
  try {
    const path = eventsLog(root);
    const fd = openSync(path, "a", 0o600);
    try {
      writeSync(fd, JSON.stringify(e) + "\n");
      if (fstatSync(fd).size > LOG_LIMIT) renameSync(path, `${path}.1`);
    } finally {
      closeSync(fd);
    }
  } catch { /* the event is lost, the operation is not */ }
}

/** A container's event, with the attributes Docker gives (name, image, labels). */
export function recordContainerEvent(root: string, action: string, row: ContainerRow, extra: Record<string, string> = {}): void {
  recordEvent(root, "container", action, row.id, { ...row.config.labels, image: row.config.image, name: row.name, ...extra });
}

/** Parses the events in a chunk of the log (whole lines; a torn last line is skipped). */
export function parseEvents(text: string): EngineEvent[] {
  const out: EngineEvent[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      const e = JSON.parse(line) as EngineEvent;
      if (e && typeof e.action === "string" && typeof e.id === "string" && typeof e.timeNano === "number") out.push(e);
    } catch { /* torn or foreign line */ }
  }
  return out;
}

/** Every event still in the log (the rotated part first). */
export function readEvents(root: string): EngineEvent[] {
  const read = (p: string) => { try { return readFileSync(p, "utf8"); } catch { return ""; } };
  return parseEvents(read(`${eventsLog(root)}.1`) + read(eventsLog(root)));
}
