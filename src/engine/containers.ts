// Which containers a listing shows and which a prune removes (`berth ps`, `container prune`, and
// the API's container list): docker's filters and ps's --all/--last, one rule each.
import type { ContainerView, Engine } from "./engine.ts";
import { UsageError } from "./errors.ts";

/** A filter as docker takes it: KEY=VALUE (label=KEY or label=KEY=VALUE). */
export interface ContainerFilter {
  key: "id" | "name" | "status" | "exited" | "ancestor" | "label" | "volume" | "network";
  value: string;
}

const KEYS = ["id", "name", "status", "exited", "ancestor", "label", "volume", "network"] as const;

/** "KEY=VALUE" strings (--filter) into filters; an unknown key or a missing "=" is refused. */
export function parseContainerFilters(filters: readonly string[]): ContainerFilter[] {
  return filters.map((f) => {
    const at = f.indexOf("=");
    if (at < 0) throw new UsageError(`bad format of filter (expected name=value): ${f}`);
    const key = f.slice(0, at);
    if (!(KEYS as readonly string[]).includes(key)) throw new UsageError(`invalid filter '${key}' (supported: ${KEYS.join(", ")})`);
    return { key: key as ContainerFilter["key"], value: f.slice(at + 1) };
  });
}

export function matchesFilters(v: ContainerView, filters: readonly ContainerFilter[]): boolean {
  const r = v.row;
  return filters.every(({ key, value: val }) => {
    switch (key) {
      case "id": return r.id.startsWith(val);
      case "name": return r.name.includes(val);
      case "status": return v.status === val;
      case "exited": return v.status === "exited" && String(v.exitCode) === val;
      case "ancestor": return r.config.image === val || r.config.imageId.includes(val);
      case "label": {
        const eq = val.indexOf("=");
        const k = eq < 0 ? val : val.slice(0, eq);
        return k in r.config.labels && (eq < 0 || r.config.labels[k] === val.slice(eq + 1));
      }
      case "volume": return r.config.mounts.some((m) => m.source === val || m.destination === val);
      case "network": return r.config.network === val;
    }
  });
}

export interface ListRequest {
  /** Stopped containers too (ps -a). */
  all?: boolean;
  /** Only the N most recently created, in any state (ps -n; ps -l is 1). */
  last?: number;
  filters?: readonly ContainerFilter[];
}

/** ps's selection, newest first. */
export function listContainers(engine: Engine, req: ListRequest = {}): ContainerView[] {
  let views = engine.list().reverse();
  const last = req.last ?? -1;
  if (!req.all && last < 0) views = views.filter((v) => v.running);
  views = views.filter((v) => matchesFilters(v, req.filters ?? []));
  return last >= 0 ? views.slice(0, last) : views;
}

/** `container prune`: removes every stopped container the filters match (docker prunes by label only). */
export async function pruneContainers(engine: Engine, filters: readonly ContainerFilter[] = []): Promise<{ deleted: string[]; reclaimed: number }> {
  const labels = filters.filter((f) => f.key === "label");
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const v of engine.list()) {
    if (v.running || v.status === "removing" || !matchesFilters(v, labels)) continue;
    const size = engine.diskUsage(v.row.id);
    if (!(await engine.removeIfIdle(v.row.id))) continue; // started or in use meanwhile
    deleted.push(v.row.id);
    reclaimed += size;
  }
  return { deleted, reclaimed };
}
