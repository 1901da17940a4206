// The network manager: bridge networks, address leases, container endpoints, published ports and
// managed hosts files, kept in one sqlite store and mirrored into the kernel.
//
// Crash safety comes from ordering: every kernel object is recorded in the store (in a transaction)
// *before* it is created, under a lock file shared by all berth processes using this state root.
// A crash therefore leaves rows that name their kernel objects, and reconcile() removes both.
import type { Database } from "bun:sqlite";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { flock, LOCK_EX, LOCK_UN } from "../sys/libc.ts";
import { broadcastOf, contains, formatIPv4, formatSubnet, hostRange, hostRoutes, macFor, overlaps, parseIPv4, parseSubnet, type Subnet } from "./cidr.ts";
import { type ContainerFilePaths, containerFilePaths, type HostEntry, renderHosts, writeContainerFiles, writeInPlace } from "./files.ts";
import { hostEntries, type HostsSnapshot, snapshotOf } from "./hosts.ts";
import { chooseAddress } from "./ipam.ts";
import { addAddress, addDefaultRoute, delLink, Netlink, newBridge, newVeth, noIPv6Addresses, setHairpin, setUp } from "./netlink.ts";
import { withNetns } from "./netns.ts";
import { applyRuleset, deleteTable, portsPublishedElsewhere, type PublishedPort } from "./nft.ts";
import { ephemeralRange, hostPortBusy, type PortBinding, type PortRequest, type Proto } from "./ports.ts";
import { claimPrefix, DEFAULT_SUBNET_POOL, HISTORIC_ROOT, HISTORIC_SUBNET, prefixForRoot, releasePrefix, withHostLock } from "./roots.ts";
import { type NetworkFields, networkId } from "./record.ts";
import { type ContainerFilesRow, type EndpointRow, type NetworkRow, openStore, type PortRow } from "./store.ts";
import { enableIpForward, setInterfaceSysctl } from "./sysctl.ts";

export const DEFAULT_NETWORK = "bridge";

/** A row's labels (a JSON object of strings; anything else reads as none). */
function storedLabels(json: string | undefined): Record<string, string> {
  try {
    const v: unknown = JSON.parse(json ?? "{}");
    if (typeof v !== "object" || v === null || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string"));
  } catch {
    return {};
  }
}

export interface OpenOptions {
  /**
   * Prefix of every kernel object name (at most 6 characters): the default bridge is PREFIX0, user
   * bridges PREFIX-<id>, host-side veths PREFIXv<hash>, the nftables table `ip PREFIX`.
   * Default: "berth" for /var/lib/berth, "b" + 5 hex digits of a hash of the root's path for any
   * other root. Fixed when the root's network store is made (stored there): a later value is ignored.
   */
  namePrefix?: string;
  /**
   * Subnet of the default network. Default: 10.88.0.0/16 for /var/lib/berth; for any other root the
   * first /16 of 10.90.0.0-10.127.255.255 that no host route and none of the root's networks covers,
   * chosen when the default network is made.
   */
  defaultSubnet?: string;
  /** Where /24s for networks created without --subnet come from. Default 10.89.0.0/16. */
  subnetPool?: string;
  /** Route table text to check new subnets against (tests); default /proc/net/route. */
  routesFile?: string;
  /**
   * Where managed hosts/hostname/resolv.conf live: <runDir>/network/<container id>. Default /run/berth,
   * a tmpfs: the files are runtime state (regenerated from the store), and every join/leave rewrites
   * the hosts file of each member, which costs milliseconds per file on a busy disk file system.
   */
  runDir?: string;
}

export interface CreateOptions {
  name: string;
  subnet?: string;
  gateway?: string;
  /** No route out, no forwarding, no published ports: members reach only each other. */
  internal?: boolean;
  /** docker's `--label`s: kept with the network, shown by inspect, matched by `label=` filters. */
  labels?: Record<string, string>;
  /**
   * Let containers reach the outside world (masquerade). This turns on the host-wide
   * net.ipv4.ip_forward, because replies from outside arrive on the host's uplink and must be
   * forwarded; Berth never turns it on otherwise, and never turns it off.
   */
  outbound?: boolean;
}

export type NetworkInfo = NetworkFields;

export interface EndpointInfo {
  containerId: string;
  network: string;
  name: string;
  aliases: string[];
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  ifname: string;
  hostVeth: string;
  netnsPath: string;
}

export interface NetworkDetails extends NetworkInfo {
  containers: EndpointInfo[];
}

export interface AttachOptions {
  containerId: string;
  /** The container's network namespace: /proc/PID/ns/net or a named netns under /run/netns. */
  netnsPath: string;
  /** Network name or id; default: the default bridge network. */
  network?: string;
  /** A fixed address inside the network's subnet (--ip). */
  ip?: string;
  /** Container name, resolvable by the other members. */
  name?: string;
  /** More names the other members can use (compose service names). */
  aliases?: string[];
  /** Interface name inside the container; default eth0, eth1, ... */
  ifname?: string;
}

export interface Attachment {
  network: string;
  ip: string;
  prefixLen: number;
  /** Empty for internal networks: they get no default route. */
  gateway: string;
  mac: string;
  ifname: string;
}

export interface FilesOptions {
  /** Directory for hosts/hostname/resolv.conf; default <runDir>/network/<id>. */
  dir?: string;
  hostname: string;
  domainname?: string;
  /** --add-host entries; ip "host-gateway" = the gateway of the container's first network. */
  extraHosts?: HostEntry[];
  /** --dns; empty = the host's non-loopback nameservers. */
  dns?: string[];
  searches?: string[];
  options?: string[];
}

export interface ReconcileReport {
  endpoints: number;
  leases: number;
  ports: number;
  files: number;
  veths: number;
  bridges: number;
}

const SYSFS_NET = "/sys/class/net";

// node:crypto on first use (~7 ms to load): commands that only release or list endpoints skip it.
const nodeCrypto = (): typeof import("node:crypto") => require("node:crypto");

function shortHash(s: string, n: number): string {
  return nodeCrypto().createHash("sha256").update(s).digest("hex").slice(0, n);
}

function validNetworkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new Error(`invalid network name ${JSON.stringify(name)}: use letters, digits, '_', '.', '-' (at most 64)`);
  }
  // These are --network modes, not networks a user may create.
  if (["bridge", "host", "none", "default"].includes(name)) throw new Error(`network name ${name} is reserved; pick another name`);
}

export class NetworkManager {
  readonly dir: string;
  /** Parent of the per-container files directories. */
  readonly filesRoot: string;
  readonly prefix!: string;
  readonly table!: string;
  private readonly db: Database;
  private readonly lockFd: number;
  private lockDepth = 0;
  private readonly defaultSubnet: Subnet | null;
  private readonly stateRoot: string;
  private readonly pool: Subnet;
  private readonly routesFile: string;
  private hostNl: Netlink | null = null;

  constructor(stateRoot: string, opts: OpenOptions = {}) {
    this.stateRoot = resolve(stateRoot);
    const historic = this.stateRoot === HISTORIC_ROOT;
    this.defaultSubnet = opts.defaultSubnet ? parseSubnet(opts.defaultSubnet) : historic ? parseSubnet(HISTORIC_SUBNET) : null;
    this.pool = parseSubnet(opts.subnetPool ?? "10.89.0.0/16");
    this.routesFile = opts.routesFile ?? "/proc/net/route";
    this.dir = `${stateRoot}/network`;
    this.filesRoot = `${opts.runDir ?? "/run/berth"}/network`;
    this.db = openStore(this.dir);
    this.lockFd = openSync(`${this.dir}/lock`, "a");
    try {
      this.prefix = this.locked(() => this.ownPrefix(opts.namePrefix));
    } catch (e) {
      this.close();
      throw e;
    }
    this.table = this.prefix;
  }

  /** The root's kernel-name prefix: the stored one, else chosen (given, or derived from the root), claimed and stored. */
  private ownPrefix(given: string | undefined): string {
    const stored = this.db.query<{ value: string }, []>("SELECT value FROM settings WHERE key = 'prefix'").get()?.value;
    if (stored) return stored;
    // A store made before prefixes were stored: keep the names its bridges already have.
    const old = this.allNetworks()[0]?.bridge;
    const inherited = old ? (old.includes("-") ? old.slice(0, old.indexOf("-")) : old.slice(0, -1)) : undefined;
    const prefix = inherited ?? given ?? prefixForRoot(this.stateRoot, (s) => shortHash(s, 5));
    if (!/^[a-z][a-z0-9]{0,5}$/.test(prefix)) throw new Error(`invalid network name prefix ${JSON.stringify(prefix)}: 1-6 lowercase letters/digits, starting with a letter`);
    claimPrefix(prefix, this.stateRoot);
    this.db.query("INSERT INTO settings (key, value) VALUES ('prefix', ?)").run(prefix);
    return prefix;
  }

  close(): void {
    this.hostNl?.close();
    this.hostNl = null;
    this.db.close();
    closeSync(this.lockFd);
  }

  // ---- locking and helpers ----

  /** Default directory of a container's hosts/hostname/resolv.conf. */
  filesDirFor(containerId: string): string {
    return `${this.filesRoot}/${containerId}`;
  }

  /** Serializes kernel + store changes across berth processes sharing this state root. */
  private locked<T>(fn: () => T): T {
    if (this.lockDepth++ === 0) flock(this.lockFd, LOCK_EX);
    try {
      return fn();
    } finally {
      if (--this.lockDepth === 0) flock(this.lockFd, LOCK_UN);
    }
  }

  private nl(): Netlink {
    return (this.hostNl ??= new Netlink());
  }

  /** A network by name, bridge device, ID or unique ID prefix (as `ls -q` prints it). The ID is
   *  the shown one (64 digits, record.ts `networkId`); a network stored with a 32-digit ID (older
   *  roots) is found by that too, since it is a prefix of the shown one. */
  private row(nameOrId: string): NetworkRow | null {
    const exact = this.db
      .query<NetworkRow, [string, string, string]>("SELECT * FROM networks WHERE name = ? OR id = ? OR bridge = ?")
      .get(nameOrId, nameOrId, nameOrId);
    if (exact || !/^[0-9a-f]{4,64}$/.test(nameOrId)) return exact;
    const byPrefix = this.allNetworks().filter((r) => networkId(r.id).startsWith(nameOrId));
    return byPrefix.length === 1 ? byPrefix[0]! : null;
  }

  private mustRow(nameOrId: string): NetworkRow {
    const r = this.row(nameOrId);
    if (!r) throw new Error(`network ${JSON.stringify(nameOrId)} not found; list networks with \`berth network ls\``);
    return r;
  }

  private info(r: NetworkRow): NetworkInfo {
    return { name: r.name, id: networkId(r.id), driver: r.driver, subnet: r.subnet, gateway: r.gateway, bridge: r.bridge, internal: !!r.internal, outbound: !!r.outbound, created: r.created, labels: storedLabels(r.labels) };
  }

  private endpointInfo(e: EndpointRow, r: NetworkRow): EndpointInfo {
    return {
      containerId: e.container_id, network: r.name, name: e.name, aliases: JSON.parse(e.aliases) as string[], ip: formatIPv4(e.ip),
      prefixLen: parseSubnet(r.subnet).prefixLen, gateway: r.internal ? "" : r.gateway, mac: e.mac, ifname: e.ifname, hostVeth: e.host_veth, netnsPath: e.netns_path,
    };
  }

  private allNetworks(): NetworkRow[] {
    return this.db.query<NetworkRow, []>("SELECT * FROM networks ORDER BY created, name").all();
  }

  private syncRules(): void {
    const networks = this.allNetworks().map((n) => ({ bridge: n.bridge, subnet: n.subnet, gateway: n.gateway, internal: !!n.internal, outbound: !!n.outbound }));
    const ports = this.db.query<PortRow, []>("SELECT * FROM ports ORDER BY host_port, proto, host_ip").all();
    applyRuleset({ table: this.table, networks, ports });
  }

  // ---- networks ----

  create(o: CreateOptions): NetworkInfo {
    validNetworkName(o.name);
    return this.locked(() => {
      if (this.row(o.name)) throw new Error(`network ${o.name} already exists; remove it first or pick another name`);
      const id = nodeCrypto().randomBytes(32).toString("hex"); // 64 digits, as docker's
      const bridge = `${this.prefix}-${id.slice(0, 14 - this.prefix.length)}`;
      // Host-wide: the subnet is checked against every route, and another root may be choosing now.
      return withHostLock(() => this.insertNetwork(o, id, bridge));
    });
  }

  private insertNetwork(o: CreateOptions, id: string, bridge: string, subnetOverride?: Subnet): NetworkInfo {
    const taken = this.allNetworks().map((n) => parseSubnet(n.subnet));
    let subnet: Subnet;
    if (subnetOverride || o.subnet) {
      subnet = subnetOverride ?? parseSubnet(o.subnet!);
      const clash = this.allNetworks().find((n) => overlaps(parseSubnet(n.subnet), subnet));
      if (clash) throw new Error(`subnet ${formatSubnet(subnet)} overlaps network ${clash.name} (${clash.subnet}); pick another --subnet`);
      const route = this.routes().find((r) => overlaps(r, subnet));
      if (route) throw new Error(`subnet ${formatSubnet(subnet)} overlaps the host route ${formatSubnet(route)}; pick another --subnet`);
    } else {
      subnet = this.pickSubnet(taken);
    }
    const { first, last } = hostRange(subnet);
    let gateway = first;
    if (o.gateway) {
      gateway = parseIPv4(o.gateway);
      if (!contains(subnet, gateway) || gateway < first || gateway > last) {
        throw new Error(`gateway ${o.gateway} is not a host address of ${formatSubnet(subnet)}`);
      }
    }
    const row: NetworkRow = {
      name: o.name, id, driver: "bridge", subnet: formatSubnet(subnet), gateway: formatIPv4(gateway), bridge,
      internal: o.internal ? 1 : 0, outbound: o.outbound && !o.internal ? 1 : 0, created: new Date().toISOString(), next_ip: first,
      labels: JSON.stringify(o.labels ?? {}),
    };
    this.db
      .query("INSERT INTO networks (name, id, driver, subnet, gateway, bridge, internal, outbound, created, next_ip, labels) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
      .run(row.name, row.id, row.driver, row.subnet, row.gateway, row.bridge, row.internal, row.outbound, row.created, row.next_ip, row.labels);
    try {
      this.ensureBridge(row, true);
    } catch (e) {
      this.db.query("DELETE FROM networks WHERE name = ?").run(row.name);
      this.nl().exec([delLink(bridge)], [19]);
      this.syncRules();
      throw e;
    }
    return this.info(row);
  }

  private routes(): Subnet[] {
    let text = "";
    try {
      text = readFileSync(this.routesFile, "utf8");
    } catch {
      return [];
    }
    const own = new Set(this.allNetworks().map((n) => n.bridge));
    const lines = text.split("\n");
    // Ignore routes of our own bridges: they are checked against the store instead.
    return hostRoutes([lines[0] ?? "", ...lines.slice(1).filter((l) => !own.has(l.split(/\s+/)[0] ?? ""))].join("\n"));
  }

  private pickSubnet(taken: Subnet[]): Subnet {
    const routes = this.routes();
    const size = Math.max(24, this.pool.prefixLen);
    const count = 2 ** (size - this.pool.prefixLen);
    for (let i = 0; i < count; i++) {
      const s = { base: (this.pool.base + i * 2 ** (32 - size)) >>> 0, prefixLen: size };
      if (!taken.some((t) => overlaps(t, s)) && !routes.some((r) => overlaps(r, s))) return s;
    }
    throw new Error(`no free /${size} left in the subnet pool ${formatSubnet(this.pool)}; give --subnet explicitly or remove unused networks (berth network prune)`);
  }

  /** The default network, created on first use. */
  ensureDefault(): NetworkInfo {
    return this.locked(() => {
      const r = this.row(DEFAULT_NETWORK);
      if (r) return this.info(r);
      return withHostLock(() => {
        const subnet = this.defaultSubnet ?? this.pickDefaultSubnet();
        return this.insertNetwork({ name: DEFAULT_NETWORK }, nodeCrypto().randomBytes(32).toString("hex"), `${this.prefix}0`, subnet);
      });
    });
  }

  /** A root other than /var/lib/berth: the first /16 of the pool that no route and no network of this root covers. */
  private pickDefaultSubnet(): Subnet {
    const routes = this.routes();
    const taken = this.allNetworks().map((n) => parseSubnet(n.subnet));
    for (let i = 0; i < DEFAULT_SUBNET_POOL.count; i++) {
      const s = { base: (DEFAULT_SUBNET_POOL.first + (i << 16)) >>> 0, prefixLen: 16 };
      if (!taken.some((t) => overlaps(t, s)) && !routes.some((r) => overlaps(r, s))) return s;
    }
    throw new Error(`no free /16 for the default network in 10.90.0.0-10.127.255.255 (every one is routed: other state roots' bridges or host networks); give one with BERTH_NETWORK_SUBNET, or reset unused roots (berth --root DIR system reset)`);
  }

  /** Creates the bridge if it is missing (first use, or after a reboot) and makes the rules match. */
  private ensureBridge(r: NetworkRow, forceRules = false): number {
    const nl = this.nl();
    let index = nl.linkIndex(r.bridge);
    if (index !== null && !forceRules) return index;
    if (index === null) {
      const subnet = parseSubnet(r.subnet);
      const gw = parseIPv4(r.gateway);
      nl.exec([newBridge(r.bridge, macFor(gw))], [17]);
      index = nl.linkIndex(r.bridge);
      if (index === null) throw new Error(`bridge ${r.bridge} vanished right after it was created`);
      nl.exec([addAddress(index, r.gateway, subnet.prefixLen, formatIPv4(broadcastOf(subnet))), setUp(index)], [17]);
      // Routing between the bridge and itself (hairpin) or other bridges (published ports) needs
      // forwarding on this interface only; loopback-published ports need route_localnet (see nft.ts).
      setInterfaceSysctl(r.bridge, "forwarding", !r.internal);
      setInterfaceSysctl(r.bridge, "route_localnet", !r.internal);
    }
    if (r.outbound) enableIpForward();
    this.syncRules();
    return index;
  }

  remove(nameOrId: string): void {
    this.locked(() => {
      const r = this.mustRow(nameOrId);
      const users = this.db.query<{ container_id: string }, [string]>("SELECT container_id FROM endpoints WHERE network = ?").all(r.name);
      if (users.length) {
        throw new Error(`network ${r.name} is in use by ${users.length} container(s) (${users.map((u) => u.container_id.slice(0, 12)).join(", ")}); disconnect or remove them first`);
      }
      this.db.transaction(() => {
        this.db.query("DELETE FROM leases WHERE network = ?").run(r.name);
        this.db.query("DELETE FROM networks WHERE name = ?").run(r.name);
      })();
      this.nl().exec([delLink(r.bridge)], [19]);
      this.syncRules();
    });
  }

  list(): NetworkInfo[] {
    return this.allNetworks().map((r) => this.info(r));
  }

  inspect(nameOrId: string): NetworkDetails {
    const r = this.mustRow(nameOrId);
    const eps = this.db.query<EndpointRow, [string]>("SELECT * FROM endpoints WHERE network = ? ORDER BY seq").all(r.name);
    return { ...this.info(r), containers: eps.map((e) => this.endpointInfo(e, r)) };
  }

  /** Removes every network without containers except the default one; returns their names. */
  prune(): string[] {
    return this.locked(() => {
      const unused = this.db
        .query<NetworkRow, [string]>("SELECT * FROM networks n WHERE name != ? AND NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.network = n.name)")
        .all(DEFAULT_NETWORK);
      for (const r of unused) this.remove(r.name);
      return unused.map((r) => r.name);
    });
  }

  // ---- endpoints ----

  attach(o: AttachOptions): Attachment {
    if (!existsSync(o.netnsPath)) throw new Error(`network namespace ${o.netnsPath} does not exist (is the container running?)`);
    return this.locked(() => {
      const isDefault = o.network === undefined || o.network === DEFAULT_NETWORK || o.network === `${this.prefix}0`;
      const net = isDefault ? this.row(this.ensureDefault().name)! : this.mustRow(o.network!);
      const subnet = parseSubnet(net.subnet);
      const hostVeth = `${this.prefix}v${shortHash(`${o.containerId}/${net.id}`, 14 - this.prefix.length)}`;
      const ep = this.db.transaction((): EndpointRow => {
        const exists = this.db.query("SELECT 1 FROM endpoints WHERE container_id = ? AND network = ?").get(o.containerId, net.name);
        if (exists) throw new Error(`container ${o.containerId.slice(0, 12)} is already connected to network ${net.name}`);
        const mine = this.db.query<EndpointRow, [string]>("SELECT * FROM endpoints WHERE container_id = ?").all(o.containerId);
        const ifname = o.ifname ?? this.nextIfname(mine);
        if (mine.some((m) => m.ifname === ifname)) throw new Error(`interface ${ifname} is already used by this container; pass another ifname`);
        if (!/^[A-Za-z0-9_.-]{1,15}$/.test(ifname)) throw new Error(`invalid interface name ${JSON.stringify(ifname)} (1-15 characters)`);
        const ip = this.lease(net, subnet, o.containerId, o.ip);
        const seq = (this.db.query<{ s: number | null }, []>("SELECT MAX(seq) AS s FROM endpoints").get()?.s ?? 0) + 1;
        const row: EndpointRow = {
          container_id: o.containerId, network: net.name, ifname, host_veth: hostVeth, ip, mac: macFor(ip), netns_path: o.netnsPath,
          name: o.name ?? "", aliases: JSON.stringify(o.aliases ?? []), attached: 0, seq,
        };
        this.db
          .query("INSERT INTO endpoints (container_id, network, ifname, host_veth, ip, mac, netns_path, name, aliases, attached, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
          .run(row.container_id, row.network, row.ifname, row.host_veth, row.ip, row.mac, row.netns_path, row.name, row.aliases, row.attached, row.seq);
        return row;
      }).immediate();
      try {
        const bridgeIndex = this.ensureBridge(net);
        const wantsRoute = !net.internal && !this.hasDefaultRoute(o.containerId, net.name);
        this.plumb(ep, bridgeIndex, subnet, wantsRoute ? net.gateway : null);
        this.db.query("UPDATE endpoints SET attached = 1 WHERE container_id = ? AND network = ?").run(o.containerId, net.name);
      } catch (e) {
        try {
          this.nl().exec([delLink(hostVeth)], [19]);
          this.forgetEndpoint(ep);
        } catch (cleanup) {
          // Keep the original error; the row (attached = 0) lets reconcile() finish the job.
          console.error(`berth: cleanup after a failed attach failed too: ${(cleanup as Error).message}`);
        }
        throw e;
      }
      this.refreshHosts(net.name);
      return { network: net.name, ip: formatIPv4(ep.ip), prefixLen: subnet.prefixLen, gateway: net.internal ? "" : net.gateway, mac: ep.mac, ifname: ep.ifname };
    });
  }

  private nextIfname(mine: EndpointRow[]): string {
    for (let i = 0; ; i++) if (!mine.some((m) => m.ifname === `eth${i}`)) return `eth${i}`;
  }

  private hasDefaultRoute(containerId: string, except: string): boolean {
    return !!this.db
      .query("SELECT 1 FROM endpoints e JOIN networks n ON n.name = e.network WHERE e.container_id = ? AND e.network != ? AND n.internal = 0")
      .get(containerId, except);
  }

  /** Takes an address in `net` for `containerId` (inside the caller's transaction). */
  private lease(net: NetworkRow, subnet: Subnet, containerId: string, wanted?: string): number {
    const taken = new Set(this.db.query<{ ip: number }, [string]>("SELECT ip FROM leases WHERE network = ?").all(net.name).map((r) => r.ip));
    const { ip, nextCursor } = chooseAddress(subnet, parseIPv4(net.gateway), taken, net.next_ip, wanted, net.name);
    this.db.query("UPDATE networks SET next_ip = ? WHERE name = ?").run(nextCursor, net.name);
    this.db.query("INSERT INTO leases (network, ip, container_id) VALUES (?, ?, ?)").run(net.name, ip, containerId);
    return ip;
  }

  /** The kernel side of an endpoint: veth pair, address, routes. One netlink round trip per namespace. */
  private plumb(ep: EndpointRow, bridgeIndex: number, subnet: Subnet, gateway: string | null): void {
    const nsFd = openSync(ep.netns_path, "r");
    try {
      // With br_netfilter (bridge-nf-call-iptables=1), DNAT to a container on the same bridge is
      // bridged, not routed: a container reaching its own published port needs the frame sent back
      // out of the port it came in on (hairpin).
      this.nl().exec([newVeth({ hostName: ep.host_veth, bridgeIndex, peerName: ep.ifname, peerNetnsFd: nsFd, peerMac: ep.mac }), setHairpin(ep.host_veth)]);
    } finally {
      closeSync(nsFd);
    }
    const inner = withNetns(ep.netns_path, () => new Netlink());
    try {
      const idx = inner.linkIndex(ep.ifname);
      if (idx === null) throw new Error(`interface ${ep.ifname} did not appear in ${ep.netns_path}`);
      // Berth networks are IPv4-only; no IPv6 link-local address also means no DAD tripping over
      // its own hairpin-reflected neighbour solicitations.
      const reqs = [setUp(1), noIPv6Addresses(idx), setUp(idx), addAddress(idx, formatIPv4(ep.ip), subnet.prefixLen, formatIPv4(broadcastOf(subnet)))];
      if (gateway) reqs.push(addDefaultRoute(gateway, idx));
      // EAFNOSUPPORT/EOPNOTSUPP: a kernel without IPv6 rejects the addr_gen_mode request; nothing to turn off then.
      inner.exec(reqs, [95, 97]);
    } finally {
      inner.close();
    }
  }

  private forgetEndpoint(ep: Pick<EndpointRow, "container_id" | "network" | "ip">): void {
    this.db.transaction(() => {
      this.db.query("DELETE FROM endpoints WHERE container_id = ? AND network = ?").run(ep.container_id, ep.network);
      this.db.query("DELETE FROM leases WHERE network = ? AND ip = ? AND container_id = ?").run(ep.network, ep.ip, ep.container_id);
    }).immediate();
  }

  /** Disconnects the container from one network, or from all of them. Unknown containers are a no-op. */
  detach(containerId: string, network?: string): void {
    this.locked(() => {
      const net = network === undefined ? null : this.mustRow(network);
      const eps = net
        ? this.db.query<EndpointRow, [string, string]>("SELECT * FROM endpoints WHERE container_id = ? AND network = ?").all(containerId, net.name)
        : this.db.query<EndpointRow, [string]>("SELECT * FROM endpoints WHERE container_id = ?").all(containerId);
      if (net && eps.length === 0) throw new Error(`container ${containerId.slice(0, 12)} is not connected to network ${net.name}`);
      this.removeEndpoints(eps);
    });
  }

  private removeEndpoints(eps: EndpointRow[]): void {
    if (eps.length === 0) return;
    // Deleting the host end removes the peer inside the container as well.
    this.nl().exec(eps.map((e) => delLink(e.host_veth)), [19]);
    let portsGone = 0;
    for (const e of eps) {
      portsGone += this.db.query("DELETE FROM ports WHERE container_id = ? AND network = ?").run(e.container_id, e.network).changes;
      this.forgetEndpoint(e);
    }
    if (portsGone) this.syncRules();
    const networks = new Set(eps.map((e) => e.network));
    const members = this.db.query<{ container_id: string; network: string }, []>("SELECT container_id, network FROM endpoints").all().filter((r) => networks.has(r.network));
    this.refreshHostsOf([...members.map((m) => m.container_id), ...eps.map((e) => e.container_id)]);
  }

  endpoints(containerId: string): EndpointInfo[] {
    const eps = this.db.query<EndpointRow, [string]>("SELECT * FROM endpoints WHERE container_id = ? ORDER BY seq").all(containerId);
    return eps.map((e) => this.endpointInfo(e, this.mustRow(e.network)));
  }

  // ---- ports ----

  /**
   * Publishes container ports on the host (DNAT, see nft.ts) and returns the actual bindings.
   * The target is the container's address on its first non-internal network. Host ports are chosen
   * under the host-wide lock, against this root's bindings, every other root's rules and the host's
   * sockets, so two roots (or two containers with one range) never get the same port.
   */
  publish(containerId: string, requests: PortRequest[]): PortBinding[] {
    return this.locked(() => {
      const ep = this.db
        .query<EndpointRow, [string]>("SELECT e.* FROM endpoints e JOIN networks n ON n.name = e.network WHERE e.container_id = ? AND n.internal = 0 AND e.attached = 1 ORDER BY e.seq LIMIT 1")
        .get(containerId);
      if (!ep) throw new Error(`container ${containerId.slice(0, 12)} has no address on a non-internal network; ports can only be published from bridge networks`);
      const containerIp = formatIPv4(ep.ip);
      return withHostLock(() => {
        const added: PortRow[] = [];
        const taken = this.takenPorts();
        this.db.transaction(() => {
          for (const r of requests) {
            const hostIp = r.hostIp && r.hostIp !== "0.0.0.0" ? r.hostIp : "";
            const hostPort = pickHostPort(r, hostIp, taken);
            taken.push({ hostIp, port: hostPort, proto: r.proto });
            const row: PortRow = { container_id: containerId, host_ip: hostIp, host_port: hostPort, proto: r.proto, container_ip: containerIp, container_port: r.containerPort, network: ep.network };
            this.db
              .query("INSERT INTO ports (container_id, host_ip, host_port, proto, container_ip, container_port, network) VALUES (?,?,?,?,?,?,?)")
              .run(row.container_id, row.host_ip, row.host_port, row.proto, row.container_ip, row.container_port, row.network);
            added.push(row);
          }
        }).immediate();
        try {
          this.syncRules();
        } catch (e) {
          for (const a of added) this.db.query("DELETE FROM ports WHERE host_ip = ? AND host_port = ? AND proto = ?").run(a.host_ip, a.host_port, a.proto);
          throw e;
        }
        return added.map(toBinding);
      });
    });
  }

  /**
   * Whether `requests` could be published now (at create, so an impossible -p fails before anything
   * is made): a fixed port must be free, a range must have a free port. Throws what publish would.
   */
  checkPublishable(requests: PortRequest[]): void {
    const taken = this.takenPorts();
    for (const r of requests) {
      const hostIp = r.hostIp && r.hostIp !== "0.0.0.0" ? r.hostIp : "";
      if (r.hostPort === undefined && !r.hostRange) continue; // random: the ephemeral range is large
      taken.push({ hostIp, port: pickHostPort(r, hostIp, taken), proto: r.proto });
    }
  }

  /** Host ports bound by this root's containers and published by other roots (their nftables tables). */
  private takenPorts(): PublishedPort[] {
    const own = this.db.query<PortRow, []>("SELECT * FROM ports").all().map((p) => ({ hostIp: p.host_ip, port: p.host_port, proto: p.proto }));
    return [...own, ...portsPublishedElsewhere(this.table)];
  }

  unpublish(containerId: string): void {
    this.locked(() => {
      const n = this.db.query("DELETE FROM ports WHERE container_id = ?").run(containerId).changes;
      if (n) this.syncRules();
    });
  }

  /** Published ports of a container (`berth port`). */
  ports(containerId: string): PortBinding[] {
    return this.db.query<PortRow, [string]>("SELECT * FROM ports WHERE container_id = ? ORDER BY host_port, proto").all(containerId).map(toBinding);
  }

  // ---- hosts, hostname, resolv.conf ----

  /**
   * Writes the container's hosts/hostname/resolv.conf (for the engine to bind-mount) and keeps the
   * hosts file managed: members of the container's networks are listed and refreshed on every change.
   */
  containerFiles(containerId: string, o: FilesOptions): ContainerFilePaths {
    return this.locked(() => {
      const row: ContainerFilesRow = {
        container_id: containerId, dir: o.dir ?? this.filesDirFor(containerId), hostname: o.hostname, domainname: o.domainname ?? "",
        extra_hosts: JSON.stringify(o.extraHosts ?? []), dns: JSON.stringify(o.dns ?? []), searches: JSON.stringify(o.searches ?? []), options: JSON.stringify(o.options ?? []),
      };
      this.db
        .query("INSERT OR REPLACE INTO container_files (container_id, dir, hostname, domainname, extra_hosts, dns, searches, options) VALUES (?,?,?,?,?,?,?,?)")
        .run(row.container_id, row.dir, row.hostname, row.domainname, row.extra_hosts, row.dns, row.searches, row.options);
      return this.renderFiles(row);
    });
  }

  /** Everything needed to compute hosts entries, loaded with three queries (refreshes touch every member). */
  private hostsSnapshot(): HostsSnapshot {
    const gateways = new Map(this.allNetworks().map((n) => [n.name, n.internal ? "" : n.gateway]));
    return snapshotOf(
      this.db.query<EndpointRow, []>("SELECT * FROM endpoints ORDER BY seq").all(),
      this.db.query<ContainerFilesRow, []>("SELECT * FROM container_files").all(),
      gateways,
    );
  }

  private renderFiles(f: ContainerFilesRow): ContainerFilePaths {
    return writeContainerFiles(f.dir, {
      hostname: f.hostname, domainname: f.domainname, hosts: hostEntries(f, this.hostsSnapshot()),
      dns: JSON.parse(f.dns) as string[], searches: JSON.parse(f.searches) as string[], options: JSON.parse(f.options) as string[],
    });
  }

  /** Rewrites the hosts files of the given containers (those with managed files). */
  private refreshHostsOf(containerIds: Iterable<string>): void {
    const snap = this.hostsSnapshot();
    for (const id of new Set(containerIds)) {
      const f = snap.files.get(id);
      if (!f) continue;
      try {
        writeInPlace(containerFilePaths(f.dir).hosts, renderHosts({ hosts: hostEntries(f, snap) }));
      } catch (e) {
        // The container's files directory is gone (container removed by the engine): nothing to refresh.
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
    }
  }

  private refreshHosts(network: string): void {
    const ids = this.db.query<{ container_id: string }, [string]>("SELECT container_id FROM endpoints WHERE network = ?").all(network);
    this.refreshHostsOf(ids.map((r) => r.container_id));
  }

  // ---- lifecycle ----

  /** Everything networking holds for a container (on `rm`): endpoints, ports, managed files. */
  release(containerId: string): void {
    this.locked(() => {
      this.unpublish(containerId);
      this.detach(containerId);
      const f = this.db.query<ContainerFilesRow, [string]>("SELECT * FROM container_files WHERE container_id = ?").get(containerId);
      if (f) {
        this.db.query("DELETE FROM container_files WHERE container_id = ?").run(containerId);
        if (f.dir === this.filesDirFor(containerId)) rmSync(f.dir, { recursive: true, force: true });
      }
    });
  }

  /**
   * Frees whatever belongs to containers that no longer exist (after a crash or a killed berth):
   * endpoints and their veths, leases, ports, managed files; also half-made endpoints and Berth-named
   * veths/bridges the store does not know. Then rewrites the nftables table from the store.
   */
  reconcile(live: Set<string>): ReconcileReport {
    return this.locked(() => {
      const report: ReconcileReport = { endpoints: 0, leases: 0, ports: 0, files: 0, veths: 0, bridges: 0 };
      const dead = this.db.query<EndpointRow, []>("SELECT * FROM endpoints").all().filter((e) => !live.has(e.container_id) || e.attached === 0);
      report.endpoints = dead.length;
      this.removeEndpoints(dead);
      this.db.transaction(() => {
        for (const l of this.db.query<{ network: string; ip: number; container_id: string }, []>("SELECT * FROM leases l WHERE NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.network = l.network AND e.ip = l.ip AND e.container_id = l.container_id)").all()) {
          this.db.query("DELETE FROM leases WHERE network = ? AND ip = ?").run(l.network, l.ip);
          report.leases++;
        }
        for (const p of this.db.query<PortRow, []>("SELECT * FROM ports").all()) {
          if (live.has(p.container_id)) continue;
          this.db.query("DELETE FROM ports WHERE host_ip = ? AND host_port = ? AND proto = ?").run(p.host_ip, p.host_port, p.proto);
          report.ports++;
        }
        for (const f of this.db.query<ContainerFilesRow, []>("SELECT * FROM container_files").all()) {
          if (live.has(f.container_id)) continue;
          this.db.query("DELETE FROM container_files WHERE container_id = ?").run(f.container_id);
          if (f.dir === this.filesDirFor(f.container_id)) rmSync(f.dir, { recursive: true, force: true });
          report.files++;
        }
      }).immediate();
      const knownVeths = new Set(this.db.query<{ host_veth: string }, []>("SELECT host_veth FROM endpoints").all().map((r) => r.host_veth));
      const knownBridges = new Set(this.allNetworks().map((n) => n.bridge));
      const stray: string[] = [];
      for (const name of this.kernelLinks()) {
        if (name.startsWith(`${this.prefix}v`) && !knownVeths.has(name)) {
          stray.push(name);
          report.veths++;
        } else if ((name === `${this.prefix}0` || name.startsWith(`${this.prefix}-`)) && existsSync(`${SYSFS_NET}/${name}/bridge`) && !knownBridges.has(name)) {
          stray.push(name);
          report.bridges++;
        }
      }
      this.nl().exec(stray.map(delLink), [19]);
      this.syncRules();
      return report;
    });
  }

  private kernelLinks(): string[] {
    try {
      return readdirSync(SYSFS_NET);
    } catch {
      return [];
    }
  }

  /**
   * `berth system reset`: removes every endpoint, port, network, bridge and the nftables table of this
   * state root, leaving nothing in the kernel. The store is emptied, not deleted.
   */
  reset(): void {
    this.locked(() => {
      const eps = this.db.query<EndpointRow, []>("SELECT * FROM endpoints").all();
      this.nl().exec([...eps.map((e) => delLink(e.host_veth)), ...this.allNetworks().map((n) => delLink(n.bridge))], [19]);
      for (const f of this.db.query<{ dir: string; container_id: string }, []>("SELECT dir, container_id FROM container_files").all()) {
        if (f.dir === this.filesDirFor(f.container_id)) rmSync(f.dir, { recursive: true, force: true });
      }
      this.db.transaction(() => {
        for (const t of ["ports", "endpoints", "leases", "container_files", "networks"]) this.db.exec(`DELETE FROM ${t}`);
      })();
      deleteTable(this.table);
      this.reconcile(new Set());
      // As new: the next use chooses (and claims) its prefix again.
      this.db.query("DELETE FROM settings WHERE key = 'prefix'").run();
      releasePrefix(this.prefix, this.stateRoot);
    });
  }
}

function portTaken(taken: PublishedPort[], hostIp: string, port: number, proto: Proto): boolean {
  // A wildcard binding conflicts with every address; a specific one with itself and the wildcard.
  const published = taken.some((t) => t.port === port && t.proto === proto && (t.hostIp === hostIp || t.hostIp === "" || hostIp === ""));
  return published || hostPortBusy(port, proto);
}

function pickHostPort(r: PortRequest, hostIp: string, taken: PublishedPort[]): number {
  const at = hostIp || "0.0.0.0";
  if (r.hostPort !== undefined) {
    if (portTaken(taken, hostIp, r.hostPort, r.proto)) {
      throw new Error(`Bind for ${at}:${r.hostPort}/${r.proto} failed: port is already allocated (by a host process or a container); pick another host port, or a range (-p ${r.hostPort}-${r.hostPort + 100}:${r.containerPort})`);
    }
    return r.hostPort;
  }
  if (r.hostRange) {
    for (let p = r.hostRange.from; p <= r.hostRange.to; p++) if (!portTaken(taken, hostIp, p, r.proto)) return p;
    throw new Error(`no free host port left in ${at}:${r.hostRange.from}-${r.hostRange.to}/${r.proto} (all are allocated to host processes or containers); widen the range or free a port`);
  }
  // Like Docker, random host ports come from the ephemeral range.
  const { from, to } = ephemeralRange();
  const span = to - from + 1;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const p = from + ((start + i) % span);
    if (!portTaken(taken, hostIp, p, r.proto)) return p;
  }
  throw new Error(`no free host port left in ${from}-${to}/${r.proto}`);
}

function toBinding(p: PortRow): PortBinding {
  return { hostIp: p.host_ip, hostPort: p.host_port, containerIp: p.container_ip, containerPort: p.container_port, proto: p.proto };
}

/** Opens (creating if needed) the network state under `stateRoot`/network. */
export function openNetworks(stateRoot = "/var/lib/berth", opts: OpenOptions = {}): NetworkManager {
  mkdirSync(stateRoot, { recursive: true, mode: 0o711 });
  return new NetworkManager(stateRoot, opts);
}
