// Docker's event stream (/events): what this service did, as Docker names it (create, start,
// die, destroy…). Kept in memory (the last EVENTS_KEPT) for `since` replays.
export interface DockerEvent {
  Type: "container" | "image" | "network" | "volume";
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: "local";
  time: number;
  timeNano: number;
  // The pre-1.22 fields the CLI still reads for containers.
  status?: string;
  id?: string;
  from?: string;
}

const EVENTS_KEPT = 1000;

export type EventFilter = Record<string, string[]>;

export function matchesEvent(e: DockerEvent, f: EventFilter): boolean {
  const any = (key: string, test: (v: string) => boolean) => !f[key]?.length || f[key]!.some(test);
  const attr = e.Actor.Attributes;
  return any("type", (v) => v === e.Type)
    && any("event", (v) => v === e.Action || e.Action.startsWith(`${v}:`))
    && any("container", (v) => e.Type === "container" && (e.Actor.ID.startsWith(v) || attr.name === v))
    && any("image", (v) => attr.image === v || e.from === v || (e.Type === "image" && (e.Actor.ID === v || attr.name === v)))
    && any("network", (v) => e.Type === "network" && (e.Actor.ID.startsWith(v) || attr.name === v))
    && any("volume", (v) => e.Type === "volume" && e.Actor.ID === v)
    && any("label", (v) => {
      const eq = v.indexOf("=");
      return eq < 0 ? v in attr : attr[v.slice(0, eq)] === v.slice(eq + 1);
    });
}

export class Events {
  private log: DockerEvent[] = [];
  private subs = new Set<(e: DockerEvent) => void>();

  emit(type: DockerEvent["Type"], action: string, id: string, attributes: Record<string, string> = {}): void {
    const nowNs = BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor(performance.now() * 1000) % 1000000);
    const e: DockerEvent = {
      Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: "local",
      time: Number(nowNs / 1_000_000_000n), timeNano: Number(nowNs),
      ...(type === "container" ? { status: action, id, from: attributes.image ?? "" } : {}),
    };
    this.log.push(e);
    if (this.log.length > EVENTS_KEPT) this.log.splice(0, this.log.length - EVENTS_KEPT);
    for (const s of this.subs) s(e);
  }

  /** Events since `sinceSec` (replayed), then live ones until unsubscribed. */
  subscribe(sinceSec: number | undefined, fn: (e: DockerEvent) => void): () => void {
    if (sinceSec !== undefined) for (const e of this.log) if (e.time >= sinceSec) fn(e);
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }

  /** The events between two instants (a `since`+`until` replay). */
  between(sinceSec: number, untilSec: number): DockerEvent[] {
    return this.log.filter((e) => e.time >= sinceSec && e.time <= untilSec);
  }
}
