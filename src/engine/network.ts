// The engine's network glue: a container's bridge endpoint set up at start and released at
// teardown, its published ports as bound, the user networks a create names, and the networks
// reset. The network code itself (network/) loads only when a container uses a bridge or names
// a network.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "./handle.ts";
import { UsageError } from "./errors.ts";
import type { ContainerRow, PortPublish } from "./types.ts";
import { portRequestOf } from "./options.ts";

/** none, host and container:OTHER need no bridge endpoint. */
export function usesBridge(network: string): boolean {
  return network !== "none" && network !== "host" && !network.startsWith("container:");
}

/** A user network named by --network must exist now, not only when the container starts.
 *  Nothing is made: without the network store no user network exists. */
export function checkNetworksExist(engine: Engine, network: string): void {
  if (network === "none" || network === "host") return;
  const names = network.split(",").filter((n) => n && n !== "bridge" && n !== "default");
  if (names.length === 0) return;
  const missing = (name: string) => new UsageError(`network ${name} not found; list networks with \`berth network ls\``);
  if (!existsSync(join(engine.root, "network"))) throw missing(names[0]!);
  const { openNetworks } = require("../network/manager.ts") as typeof import("../network/manager.ts");
  const mgr = openNetworks(engine.root, engine.opts.network ?? {});
  try {
    for (const name of names) {
      try {
        mgr.inspect(name);
      } catch {
        throw missing(name);
      }
    }
  } finally {
    mgr.close();
  }
}

export async function engineNetworks(engine: Engine) {
  const { openNetworks } = await import("../network/index.ts");
  return openNetworks(engine.root, engine.opts.network ?? {});
}

export async function setupBridge(engine: Engine, row: ContainerRow, pid: number): Promise<void> {
  const { driverFor, parseNetworkMode } = await import("../network/index.ts");
  const mgr = await engineNetworks(engine);
  try {
    const driver = driverFor(parseNetworkMode(row.config.network), { manager: mgr });
    driver.setup({
      containerId: row.id, netnsPath: `/proc/${pid}/ns/net`, name: row.name, aliases: row.config.networkAliases, ips: row.config.ips, hostname: row.config.hostname, domainname: row.config.domainname,
      filesDir: engine.paths.filesDir(row.id), extraHosts: row.config.extraHosts, dns: row.config.dns,
      // hostPort 0 (-p 80, -P) or a range: the network picks a free port
      ports: row.config.publish.map(portRequestOf),
    });
  } finally {
    mgr.close();
  }
}

/** At create: every -p must be publishable now (a fixed port free, a range with a free port), so an
 *  impossible one fails before anything is made. Ports are still chosen at start. */
export function checkPublishable(engine: Engine, publish: PortPublish[]): void {
  if (!publish.some((p) => p.hostPort)) return; // only random ports: nothing to check
  const { openNetworks } = require("../network/manager.ts") as typeof import("../network/manager.ts");
  const mgr = openNetworks(engine.root, engine.opts.network ?? {});
  try {
    mgr.checkPublishable(publish.map(portRequestOf));
  } catch (e) {
    throw new UsageError((e as Error).message);
  } finally {
    mgr.close();
  }
}

/** The container's endpoint, address lease and port bindings released. */
export async function releaseEndpoint(engine: Engine, id: string): Promise<void> {
  const mgr = await engineNetworks(engine);
  try { mgr.release(id); } finally { mgr.close(); }
}

/** The ports as bound (a random or range host port is known only once the network published it);
 *  none while the container is not running, as docker shows them. */
export async function publishedPorts(engine: Engine, row: ContainerRow): Promise<PortPublish[]> {
  const c = row.config;
  if (c.publish.length === 0 || !usesBridge(c.network) || !existsSync(join(engine.root, "network")) || !engine.observe(row).running) return [];
  const mgr = await engineNetworks(engine);
  try {
    return mgr.ports(row.id).map((b) => ({ hostIp: b.hostIp || "0.0.0.0", hostPort: b.hostPort, containerPort: b.containerPort, proto: b.proto }));
  } finally {
    mgr.close();
  }
}

/** One network a container is on, as inspect shows it (docker's NetworkSettings.Networks entry). */
export interface ContainerEndpoint {
  network: string;
  networkId: string;
  /** Stable per container and network (network/record.ts `endpointId`: the network's record shows the same). */
  endpointId: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  aliases: string[];
}

/** The container's endpoints while it runs (none otherwise: addresses are leased per run). */
export async function containerEndpoints(engine: Engine, row: ContainerRow): Promise<ContainerEndpoint[]> {
  if (!usesBridge(row.config.network) || !existsSync(join(engine.root, "network")) || !engine.observe(row).running) return [];
  const mgr = await engineNetworks(engine);
  try {
    const ids = new Map(mgr.list().map((n) => [n.name, n.id]));
    const { endpointId } = await import("../network/index.ts");
    return mgr.endpoints(row.id).map((e) => {
      const networkId = ids.get(e.network) ?? "";
      return {
        network: e.network, networkId, endpointId: endpointId(networkId, row.id),
        ip: e.ip, prefixLen: e.prefixLen, gateway: e.gateway, mac: e.mac, aliases: e.aliases,
      };
    });
  } finally {
    mgr.close();
  }
}
