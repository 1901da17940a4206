// Docker's event stream (/events) over the engine's event log (engine/events.ts): what any berth
// process did — this service, plain `berth` commands, the monitors' exit hooks — in Docker's
// shape. One tail of the log per service, shared by every subscriber.
import { closeSync, openSync, readFileSync, readSync, statSync, watch, type FSWatcher } from "node:fs";
import { dirname } from "node:path";
import { eventsLog, parseEvents, readEvents, recordEvent, type EngineEvent } from "../engine/index.ts";

export interface DockerEvent {
  Type: EngineEvent["type"];
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: "local";
  time: number;
  timeNano: number;
  // The pre-1.22 fields clients still read for containers.
  status?: string;
  id?: string;
  from?: string;
}

export type EventFilter = Record<string, string[]>;

export function toDocker(e: EngineEvent): DockerEvent {
  return {
    Type: e.type, Action: e.action, Actor: { ID: e.id, Attributes: e.attributes }, scope: "local",
    time: Math.floor(e.timeNano / 1e9), timeNano: e.timeNano,
    ...(e.type === "container" ? { status: e.action, id: e.id, from: e.attributes.image ?? "" } : {}),
  };
}

export function matchesEvent(e: DockerEvent, f: EventFilter): boolean {
  const any = (key: string, test: (v: string) => boolean) => !f[key]?.length || f[key]!.some(test);
  const attr = e.Actor.Attributes;
  return any("type", (v) => v === e.Type)
    && any("event", (v) => v === e.Action || e.Action.startsWith(`${v}:`))
    && any("container", (v) => e.Type === "container" && (e.Actor.ID.startsWith(v) || attr.name === v))
    && any("image", (v) => attr.image === v || (e.Type === "image" && (e.Actor.ID === v || attr.name === v)))
    && any("network", (v) => e.Type === "network" && (e.Actor.ID.startsWith(v) || attr.name === v))
    && any("volume", (v) => e.Type === "volume" && e.Actor.ID === v)
    // Labels must all match (Docker's rule), the other keys any of their values.
    && (f.label ?? []).every((v) => {
      const eq = v.indexOf("=");
      return eq < 0 ? v in attr : attr[v.slice(0, eq)] === v.slice(eq + 1);
    });
}

export class Events {
  private subs = new Set<(e: DockerEvent) => void>();
  private offset = 0;
  private watcher: FSWatcher | null = null;
  private poll: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly root: string) {}

  /** An event this service makes (attach, exec, images, volumes, networks): into the shared log. */
  emit(type: EngineEvent["type"], action: string, id: string, attributes: Record<string, string> = {}): void {
    recordEvent(this.root, type, action, id, attributes);
    this.drain();
  }

  /** Events since `sinceSec` (replayed), then live ones until unsubscribed. */
  subscribe(sinceSec: number | undefined, fn: (e: DockerEvent) => void): () => void {
    if (this.subs.size === 0) this.startTail();
    else this.drain();
    // The replay ends where the tail has read to; the tail delivers everything after.
    if (sinceSec !== undefined) for (const e of this.readUpTo(this.offset)) if (e.timeNano / 1e9 >= sinceSec) fn(toDocker(e));
    this.subs.add(fn);
    return () => {
      this.subs.delete(fn);
      if (this.subs.size === 0) this.stopTail();
    };
  }

  private readUpTo(offset: number): EngineEvent[] {
    const path = eventsLog(this.root);
    let old = "";
    try { old = readFileSync(`${path}.1`, "utf8"); } catch { /* none */ }
    let text = "";
    try {
      const fd = openSync(path, "r");
      try {
        const buf = Buffer.alloc(offset);
        text = buf.subarray(0, readSync(fd, buf, 0, offset, 0)).toString("utf8");
      } finally {
        closeSync(fd);
      }
    } catch { /* none */ }
    return parseEvents(old + text);
  }

  /** The events between two instants (a `since`+`until` replay). */
  between(sinceSec: number, untilSec: number): DockerEvent[] {
    return readEvents(this.root).filter((e) => e.timeNano / 1e9 >= sinceSec && e.timeNano / 1e9 <= untilSec).map(toDocker);
  }

  private size(): number {
    try { return statSync(eventsLog(this.root)).size; } catch { return 0; }
  }

  private startTail(): void {
    this.offset = this.size();
    try {
      this.watcher = watch(dirname(eventsLog(this.root)), (_ev, file) => { if (file === null || String(file).startsWith("events.log")) this.drain(); });
    } catch { this.watcher = null; }
    // Watches can miss a change (another mount namespace, a rotation): a slow re-read too.
    this.poll = setInterval(() => this.drain(), 500);
  }

  private stopTail(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
  }

  /** Delivers what was appended since the last read. */
  private drain(): void {
    if (this.subs.size === 0) return;
    const size = this.size();
    if (size < this.offset) this.offset = 0; // rotated: the new log from its start
    if (size === this.offset) return;
    let fd: number;
    try { fd = openSync(eventsLog(this.root), "r"); } catch { return; }
    try {
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      const text = buf.subarray(0, n).toString("utf8");
      const end = text.lastIndexOf("\n");
      if (end < 0) return;
      this.offset += Buffer.byteLength(text.slice(0, end + 1));
      for (const e of parseEvents(text.slice(0, end + 1))) {
        const d = toDocker(e);
        for (const s of this.subs) s(d);
      }
    } finally {
      closeSync(fd);
    }
  }
}
