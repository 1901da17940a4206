// A network as Docker shows it (`docker network inspect`, GET /networks/{id}): the one builder of
// that record, for `berth network inspect|ls` and the API alike, and the IDs it carries.
// node:crypto loads on first use (as in manager.ts): most commands never show a network.
const sha256 = (s: string) => (require("node:crypto") as typeof import("node:crypto")).createHash("sha256").update(s).digest("hex");

/**
 * A network's ID as shown: 64 hex digits, as docker's. Networks made before IDs had 64 digits
 * keep their stored 32 and are shown extended by their own hash, so the old ID (and any prefix
 * of it: `ls -q` printed 12 digits) is a prefix of the shown one and finds it still.
 */
export function networkId(storedId: string): string {
  return storedId.length >= 64 ? storedId.slice(0, 64) : (storedId + sha256(storedId)).slice(0, 64);
}

/** One endpoint per network and container (docker's is random; nothing keys on it): the same in
 *  the network's Containers and the container's NetworkSettings. */
export function endpointId(networkFullId: string, containerId: string): string {
  return sha256(`${networkFullId}/${containerId}`);
}

/** The networks docker predefines beside `bridge`; berth has no store rows for them. */
export const PREDEFINED_NETWORKS = ["host", "none"] as const;

export interface NetworkRecordEndpoint {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  /** Address with prefix length, as docker: "10.88.0.2/16". */
  IPv4Address: string;
  IPv6Address: string;
}

/** docker's NetworkResource (api/types/network.Inspect), the fields the bridge driver fills. */
export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: "local";
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: "default"; Options: Record<string, string> | null; Config: { Subnet: string; Gateway?: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  /** Keyed by full container ID; docker's list (GET /networks) leaves them out (empty). */
  Containers: Record<string, NetworkRecordEndpoint>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** What a record is built from: manager.ts `NetworkInfo` (a list's entry) or `NetworkDetails`
 *  (inspect, with its members) — declared here as the fields read, since the manager imports
 *  this file for its IDs. */
/** What the engine knows of a network (manager.ts's NetworkInfo is this type). */
export interface NetworkFields {
  name: string;
  /** 64 hex digits (`networkId`; older roots stored 32, extended when shown). */
  id: string;
  driver: "bridge";
  subnet: string;
  gateway: string;
  bridge: string;
  internal: boolean;
  outbound: boolean;
  created: string;
  /** given at create (docker's `--label`) */
  labels: Record<string, string>;
}

export interface RecordSource extends NetworkFields {
  containers?: { containerId: string; name: string; mac: string; ip: string; prefixLen: number }[];
}

/** An RFC3339 time as Go's RFC3339Nano prints it: the fraction without trailing zeros. */
export function rfc3339Nano(iso: string): string {
  return iso.replace(/\.(\d*?)0*(Z|[+-]\d\d:\d\d)$/, (_m, digits: string, zone: string) => (digits ? `.${digits}` : "") + zone);
}

/**
 * The record of one bridge network. `details` (NetworkManager.inspect) adds its members; without
 * them (a list) Containers is empty, as docker's list shows it.
 */
export function networkRecord(n: RecordSource): NetworkRecord {
  const id = networkId(n.id);
  const containers: Record<string, NetworkRecordEndpoint> = {};
  for (const e of n.containers ?? []) {
    containers[e.containerId] = { Name: e.name, EndpointID: endpointId(id, e.containerId), MacAddress: e.mac, IPv4Address: `${e.ip}/${e.prefixLen}`, IPv6Address: "" };
  }
  return {
    Name: n.name, Id: id, Created: rfc3339Nano(n.created), Scope: "local", Driver: n.driver, EnableIPv6: false,
    IPAM: { Driver: "default", Options: {}, Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
    Internal: n.internal, Attachable: false, Ingress: false, ConfigFrom: { Network: "" }, ConfigOnly: false,
    Containers: containers,
    Options: {
      "com.docker.network.bridge.name": n.bridge,
      // berth masquerades a network's traffic to the outside only when created --outbound
      "com.docker.network.bridge.enable_ip_masquerade": String(n.outbound),
    },
    Labels: { ...n.labels },
  };
}

const LIST_FILTERS = ["name", "id", "driver", "label", "type", "scope"];

/**
 * docker's `network ls` filters (GET /networks?filters=…): values of one key are alternatives,
 * keys must all match. name: part of the name; id: a prefix of the ID; driver; label: KEY or
 * KEY=VALUE; type: custom (made by a user) or builtin (bridge, host, none); scope: local.
 */
export function filterNetworkRecords(records: NetworkRecord[], filters: Record<string, string[]>): NetworkRecord[] {
  for (const k of Object.keys(filters)) {
    if (!LIST_FILTERS.includes(k)) throw new Error(`invalid filter '${k}' (network filters: ${LIST_FILTERS.join(", ")})`);
  }
  const any = (k: string, ok: (v: string) => boolean) => !filters[k]?.length || filters[k]!.some(ok);
  return records.filter((r) =>
    any("name", (v) => r.Name.includes(v)) &&
    any("id", (v) => r.Id.startsWith(v)) &&
    any("driver", (v) => r.Driver === v) &&
    any("scope", (v) => r.Scope === v) &&
    any("type", (v) => {
      if (v !== "custom" && v !== "builtin") throw new Error(`invalid filter 'type=${v}' (custom or builtin)`);
      return (v === "builtin") === ["bridge", "host", "none"].includes(r.Name);
    }) &&
    any("label", (v) => {
      const at = v.indexOf("=");
      return at < 0 ? v in r.Labels : r.Labels[v.slice(0, at)] === v.slice(at + 1);
    }));
}

/** `host` or `none`, as docker shows them (a fixed ID: they exist on every root). */
export function predefinedNetworkRecord(name: (typeof PREDEFINED_NETWORKS)[number]): NetworkRecord {
  return {
    Name: name, Id: sha256(`berth predefined network ${name}`), Created: "0001-01-01T00:00:00Z", Scope: "local", Driver: name === "host" ? "host" : "null",
    EnableIPv6: false, IPAM: { Driver: "default", Options: null, Config: [] }, Internal: false, Attachable: false, Ingress: false,
    ConfigFrom: { Network: "" }, ConfigOnly: false, Containers: {}, Options: {}, Labels: {},
  };
}
