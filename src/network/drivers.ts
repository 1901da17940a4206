// `--network` modes behind one interface. bridge does the work (through the NetworkManager);
// none, host and container:OTHER are mostly decisions the engine applies to the OCI config:
// which network namespace the container gets and which hosts/resolv.conf it bind-mounts.
import type { ContainerFilePaths, HostEntry } from "./files.ts";
import { writeHostNetworkFiles } from "./files.ts";
import { Netlink, setUp } from "./netlink.ts";
import { withNetns } from "./netns.ts";
import type { Attachment, NetworkManager } from "./manager.ts";
import type { PortBinding, PortRequest } from "./ports.ts";
import type { NetworkMode } from "./mode.ts";

export { parseNetworkMode, type NetworkMode } from "./mode.ts";

/** What the engine writes into config.json's linux.namespaces for the network namespace. */
export type NetnsDecision =
  | { type: "new" } // a `network` namespace entry without path
  | { type: "host" } // no `network` entry at all
  | { type: "path"; path: string }; // join an existing namespace

export interface SetupContext {
  containerId: string;
  /** The container's netns once the runtime created it (/proc/PID/ns/net), or the joined path. */
  netnsPath: string;
  name?: string;
  hostname: string;
  domainname?: string;
  aliases?: string[];
  /** A fixed address per network (--ip); the others are leased. */
  ips?: Record<string, string>;
  extraHosts?: HostEntry[];
  dns?: string[];
  searches?: string[];
  ports?: PortRequest[];
  /** Where to put hosts/hostname/resolv.conf; default under the network state root. */
  filesDir?: string;
}

export interface SetupResult {
  attachments: Attachment[];
  ports: PortBinding[];
  /** Files to bind-mount at /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  files: ContainerFilePaths;
}

export interface NetworkDriver {
  readonly mode: NetworkMode;
  netns(): NetnsDecision;
  /** After the runtime created the container (namespaces exist), before it starts. */
  setup(ctx: SetupContext): SetupResult;
  /** On stop/rm. Safe to call twice. */
  teardown(containerId: string): void;
}

/** Brings `lo` up inside a namespace (runtimes leave it down; `--network none` has only this). */
export function setupLoopback(netnsPath: string): void {
  const nl = withNetns(netnsPath, () => new Netlink());
  try {
    nl.exec([setUp(1)]);
  } finally {
    nl.close();
  }
}

export interface DriverDeps {
  manager: NetworkManager;
  /** For container:OTHER: the other container's netns path and its files (engine lookups). */
  lookupContainer?: (nameOrId: string) => { netnsPath: string; files: ContainerFilePaths } | null;
}

export function driverFor(mode: NetworkMode, deps: DriverDeps): NetworkDriver {
  const mgr = deps.manager;
  switch (mode.kind) {
    case "bridge":
      return {
        mode,
        netns: () => ({ type: "new" }),
        setup(ctx) {
          if (mode.networks.length === 0) throw new Error("--network needs at least one network name");
          const attachments: Attachment[] = [];
          try {
            mode.networks.forEach((network) => {
              attachments.push(mgr.attach({ containerId: ctx.containerId, netnsPath: ctx.netnsPath, network, ip: ctx.ips?.[network], name: ctx.name, aliases: ctx.aliases }));
            });
            const ports = ctx.ports?.length ? mgr.publish(ctx.containerId, ctx.ports) : [];
            const files = mgr.containerFiles(ctx.containerId, {
              dir: ctx.filesDir, hostname: ctx.hostname, domainname: ctx.domainname, extraHosts: ctx.extraHosts, dns: ctx.dns, searches: ctx.searches,
            });
            return { attachments, ports, files };
          } catch (e) {
            mgr.release(ctx.containerId);
            throw e;
          }
        },
        teardown: (id) => mgr.release(id),
      };
    case "none":
      return {
        mode,
        netns: () => ({ type: "new" }),
        setup(ctx) {
          if (ctx.ports?.length) throw new Error("--network none cannot publish ports");
          setupLoopback(ctx.netnsPath);
          const files = mgr.containerFiles(ctx.containerId, { dir: ctx.filesDir, hostname: ctx.hostname, domainname: ctx.domainname, extraHosts: ctx.extraHosts, dns: ctx.dns ?? [], searches: ctx.searches });
          return { attachments: [], ports: [], files };
        },
        teardown: (id) => mgr.release(id),
      };
    case "host":
      return {
        mode,
        netns: () => ({ type: "host" }),
        setup(ctx) {
          // The host's names and resolvers, like its network: in copies (writeHostNetworkFiles).
          const dir = ctx.filesDir ?? mgr.filesDirFor(ctx.containerId);
          return { attachments: [], ports: [], files: writeHostNetworkFiles(dir, ctx.hostname) };
        },
        teardown: (id) => mgr.release(id),
      };
    case "container": {
      const other = (): { netnsPath: string; files: ContainerFilePaths } => {
        const o = deps.lookupContainer?.(mode.container);
        if (!o) throw new Error(`--network container:${mode.container}: no such running container`);
        return o;
      };
      return {
        mode,
        netns: () => ({ type: "path", path: other().netnsPath }),
        setup: () => ({ attachments: [], ports: [], files: other().files }),
        teardown: () => {},
      };
    }
  }
}
