// Which names a container's /etc/hosts lists: its own addresses, every member of each network it
// shares with others (name, aliases, hostname, short id), then --add-host. Pure: the manager loads
// one snapshot of the store and renders every member's file from it.
import { formatIPv4 } from "./cidr.ts";
import type { HostEntry } from "./files.ts";
import type { ContainerFilesRow, EndpointRow } from "./store.ts";

export interface HostsSnapshot {
  /** Endpoints by container, in attach order. */
  byContainer: Map<string, EndpointRow[]>;
  /** Endpoints by network, in attach order. */
  byNetwork: Map<string, EndpointRow[]>;
  files: Map<string, ContainerFilesRow>;
  /** Gateway per network, "" for internal networks (they have no route to the host). */
  gateways: Map<string, string>;
}

export function snapshotOf(endpoints: EndpointRow[], files: ContainerFilesRow[], gateways: Map<string, string>): HostsSnapshot {
  const byContainer = new Map<string, EndpointRow[]>();
  const byNetwork = new Map<string, EndpointRow[]>();
  for (const e of endpoints) {
    (byContainer.get(e.container_id) ?? byContainer.set(e.container_id, []).get(e.container_id)!).push(e);
    (byNetwork.get(e.network) ?? byNetwork.set(e.network, []).get(e.network)!).push(e);
  }
  return { byContainer, byNetwork, files: new Map(files.map((f) => [f.container_id, f])), gateways };
}

const aliases = (e: EndpointRow): string[] => JSON.parse(e.aliases) as string[];

export function hostEntries(f: ContainerFilesRow, snap: HostsSnapshot): HostEntry[] {
  const entries: HostEntry[] = [];
  const mine = snap.byContainer.get(f.container_id) ?? [];
  const fqdn = f.domainname ? `${f.hostname}.${f.domainname}` : "";
  for (const e of mine) entries.push({ ip: formatIPv4(e.ip), names: [fqdn, f.hostname, e.name, ...aliases(e)] });
  if (mine.length === 0) entries.push({ ip: "127.0.1.1", names: [fqdn, f.hostname] });
  for (const m of mine) {
    for (const p of snap.byNetwork.get(m.network) ?? []) {
      if (p.container_id === f.container_id) continue;
      const hostname = snap.files.get(p.container_id)?.hostname ?? "";
      entries.push({ ip: formatIPv4(p.ip), names: [p.name, ...aliases(p), hostname, p.container_id.slice(0, 12)] });
    }
  }
  // --add-host NAME:host-gateway means "the host, as this container reaches it" (Docker's spelling).
  const gateway = mine.map((m) => snap.gateways.get(m.network) ?? "").find(Boolean) ?? "";
  for (const h of JSON.parse(f.extra_hosts) as HostEntry[]) {
    if (h.ip !== "host-gateway") entries.push(h);
    else if (gateway) entries.push({ ip: gateway, names: h.names });
  }
  return entries;
}
