// `compose cp` (through the engine's copy, as `berth cp`) and `compose events` (the engine's event
// log, filtered to the project's containers).
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { type ContainerView, type Engine, type EngineEvent, copyFromContainer, copyToContainer, eventsLog, parseEvents } from "../engine/index.ts";
import { L } from "./labels.ts";
import { ComposeError, type ProjectModel } from "./model.ts";
import { projectContainers } from "./project.ts";

/** SERVICE:PATH, or a local path (absolute, ./…, or without a colon), as docker compose reads them. */
function split(x: string): { service: string; path: string } | null {
  const at = x.indexOf(":");
  return at > 0 && !x.startsWith("/") && !x.startsWith(".") ? { service: x.slice(0, at), path: x.slice(at + 1) } : null;
}

function replicas(engine: Engine, p: ProjectModel, service: string): ContainerView[] {
  if (!p.services.some((s) => s.name === service)) throw new ComposeError(`no such service: ${service}`);
  return projectContainers(engine, p.name, { oneoff: false }).filter((v) => v.row.config.labels[L.service] === service)
    .sort((a, b) => Number(a.row.config.labels[L.number]) - Number(b.row.config.labels[L.number]));
}

/**
 * `compose cp [SERVICE:]SRC [SERVICE:]DEST`: from a service's container (--index, default 1); to a
 * service: the --index one, else every replica (docker compose's rule).
 */
export async function copy(engine: Engine, p: ProjectModel, src: string, dest: string, opts: { index?: number; archive?: boolean; followLink?: boolean }): Promise<void> {
  const from = split(src), to = split(dest);
  if (from && to) throw new ComposeError("copying between services is not supported");
  if (!from && !to) throw new ComposeError("one of the source or the destination must be a service (SERVICE:PATH)");
  const copyOpts = { archive: opts.archive, followLink: opts.followLink };
  const side = (from ?? to)!;
  const all = replicas(engine, p, side.service);
  const index = opts.index ?? (from ? 1 : undefined);
  const targets = index === undefined ? all : all.filter((v) => Number(v.row.config.labels[L.number]) === index);
  if (targets.length === 0) throw new ComposeError(`service "${side.service}" has no container${index === undefined ? "" : ` with index ${index}`}: run \`berth compose up\` first`);
  if (from) await copyFromContainer(engine, targets[0]!.row, from.path, dest, copyOpts);
  else for (const v of targets) await copyToContainer(engine, v.row, src, to!.path, copyOpts);
}

/** An event of one of the project's containers (its labels travel with every container event). */
export function projectEvent(e: EngineEvent, project: string, services: string[]): boolean {
  return e.type === "container" && e.attributes[L.project] === project && (services.length === 0 || services.includes(e.attributes[L.service] ?? ""));
}

/** docker compose's --json line: time, type, action, id, service, attributes. */
export function eventJson(e: EngineEvent): Record<string, unknown> {
  const { [L.service]: service, ...rest } = e.attributes;
  return { time: new Date(e.timeNano / 1e6).toISOString(), type: e.type, action: e.action, id: e.id, service: service ?? "", attributes: { name: rest.name ?? "", image: rest.image ?? "" } };
}

/** docker compose's text line: `TIME container ACTION ID (image=…, name=…)`. */
export function eventText(e: EngineEvent): string {
  return `${new Date(e.timeNano / 1e6).toISOString()} ${e.type} ${e.action} ${e.id} (image=${e.attributes.image ?? ""}, name=${e.attributes.name ?? ""})`;
}

/**
 * `compose events [SERVICE...]`: the project's container events from now on, as they are appended
 * to the engine's log (a re-read every 200 ms: another process writes it), until signal aborts.
 */
export async function followEvents(engine: Engine, p: ProjectModel, services: string[], signal: AbortSignal, emit: (e: EngineEvent) => void): Promise<void> {
  for (const s of services) if (!p.services.some((x) => x.name === s)) throw new ComposeError(`no such service: ${s}`);
  const path = eventsLog(engine.root);
  const size = () => { try { return statSync(path).size; } catch { return 0; } };
  let offset = size();
  while (!signal.aborted) {
    const now = size();
    if (now < offset) offset = 0; // rotated: the new log from its start
    if (now > offset) {
      const fd = openSync(path, "r");
      try {
        const buf = Buffer.alloc(now - offset);
        const text = buf.subarray(0, readSync(fd, buf, 0, buf.length, offset)).toString("utf8");
        const end = text.lastIndexOf("\n");
        if (end >= 0) {
          offset += Buffer.byteLength(text.slice(0, end + 1));
          for (const e of parseEvents(text.slice(0, end + 1))) if (projectEvent(e, p.name, services)) emit(e);
        }
      } finally {
        closeSync(fd);
      }
    }
    await new Promise<void>((r) => {
      const t = setTimeout(r, 200);
      signal.addEventListener("abort", () => { clearTimeout(t); r(); }, { once: true });
    });
  }
}
