// The engine's network glue: a container's bridge endpoint set up at start and released at
// teardown, its published ports as bound, the user networks a create names, and the networks
// reset. The network code itself (network/) loads only when a container uses a bridge or names
// a network.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Engine } from "./handle.ts";
import { UsageError } from "./errors.ts";
import type { ContainerRow, PortPublish } from "./types.ts";

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
      containerId: row.id, netnsPath: `/proc/${pid}/ns/net`, name: row.name, hostname: row.config.hostname, domainname: row.config.domainname,
      ...(row.config.networkAliases?.length ? { aliases: row.config.networkAliases } : {}),
      filesDir: engine.paths.filesDir(row.id), extraHosts: row.config.extraHosts, dns: row.config.dns,
      // hostPort 0 (-p 80, -P): the network picks a free port
      ports: row.config.publish.map((p) => ({ hostIp: p.hostIp, ...(p.hostPort ? { hostPort: p.hostPort } : {}), containerPort: p.containerPort, proto: p.proto })),
    });
  } finally {
    mgr.close();
  }
}

/** The container's endpoint, address lease and port bindings released. */
export async function releaseEndpoint(engine: Engine, id: string): Promise<void> {
  const mgr = await engineNetworks(engine);
  try { mgr.release(id); } finally { mgr.close(); }
}

/** The ports as bound (a random host port is known only once the network published it). */
export async function publishedPorts(engine: Engine, row: ContainerRow): Promise<PortPublish[]> {
  const c = row.config;
  if (c.publish.length === 0 || !usesBridge(c.network) || !existsSync(join(engine.root, "network")) || !engine.observe(row).running) return c.publish;
  const mgr = await engineNetworks(engine);
  try {
    return mgr.ports(row.id).map((b) => ({ hostIp: b.hostIp || "0.0.0.0", hostPort: b.hostPort, containerPort: b.containerPort, proto: b.proto }));
  } finally {
    mgr.close();
  }
}
