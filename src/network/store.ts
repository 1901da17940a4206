// Persistent network state in bun:sqlite: networks, address leases, endpoints, port bindings,
// per-container name-resolution settings, and the root's own settings (its kernel-name prefix).
// Primary keys are the invariants: an address is leased once per network, a host port once per host address and protocol.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";

export interface NetworkRow {
  name: string;
  id: string;
  driver: "bridge";
  subnet: string;
  gateway: string;
  bridge: string;
  internal: number;
  outbound: number;
  created: string;
  /** Cursor for round-robin allocation: the next address to try (so freed addresses are not reused at once). */
  next_ip: number;
  /** JSON object of the labels given at create (docker's `--label`). */
  labels: string;
}

export interface EndpointRow {
  container_id: string;
  network: string;
  ifname: string;
  host_veth: string;
  ip: number;
  mac: string;
  netns_path: string;
  name: string;
  aliases: string; // JSON string[]
  attached: number; // 0 while the kernel side is being set up
  seq: number;
}

export interface PortRow {
  container_id: string;
  host_ip: string; // "" = every host address
  host_port: number;
  proto: "tcp" | "udp" | "sctp";
  container_ip: string;
  container_port: number;
  network: string;
}

export interface ContainerFilesRow {
  container_id: string;
  dir: string;
  hostname: string;
  domainname: string;
  extra_hosts: string; // JSON {ip, names}[]
  dns: string; // JSON string[]
  searches: string; // JSON string[]
  options: string; // JSON string[]
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS networks (
  name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, driver TEXT NOT NULL, subnet TEXT NOT NULL UNIQUE,
  gateway TEXT NOT NULL, bridge TEXT NOT NULL UNIQUE, internal INTEGER NOT NULL, outbound INTEGER NOT NULL,
  created TEXT NOT NULL, next_ip INTEGER NOT NULL, labels TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS leases (
  network TEXT NOT NULL REFERENCES networks(name), ip INTEGER NOT NULL, container_id TEXT NOT NULL,
  PRIMARY KEY (network, ip)
);
CREATE TABLE IF NOT EXISTS endpoints (
  container_id TEXT NOT NULL, network TEXT NOT NULL REFERENCES networks(name), ifname TEXT NOT NULL,
  host_veth TEXT NOT NULL UNIQUE, ip INTEGER NOT NULL, mac TEXT NOT NULL, netns_path TEXT NOT NULL,
  name TEXT NOT NULL, aliases TEXT NOT NULL, attached INTEGER NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (container_id, network)
);
CREATE TABLE IF NOT EXISTS ports (
  container_id TEXT NOT NULL, host_ip TEXT NOT NULL, host_port INTEGER NOT NULL, proto TEXT NOT NULL,
  container_ip TEXT NOT NULL, container_port INTEGER NOT NULL, network TEXT NOT NULL,
  PRIMARY KEY (host_ip, host_port, proto)
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS container_files (
  container_id TEXT PRIMARY KEY, dir TEXT NOT NULL, hostname TEXT NOT NULL, domainname TEXT NOT NULL,
  extra_hosts TEXT NOT NULL, dns TEXT NOT NULL, searches TEXT NOT NULL, options TEXT NOT NULL
);
`;

export function openStore(dir: string): Database {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = new Database(`${dir}/network.db`, { create: true, strict: true });
  // WAL + busy_timeout: several berth processes may share the state root; writers queue instead of failing.
  db.exec("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
  db.exec(SCHEMA);
  // a store made before networks kept their labels
  const cols = db.query<{ name: string }, []>("PRAGMA table_info(networks)").all();
  if (!cols.some((c) => c.name === "labels")) db.exec("ALTER TABLE networks ADD COLUMN labels TEXT NOT NULL DEFAULT '{}'");
  return db;
}
