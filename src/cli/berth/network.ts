// `berth network ...`: create, ls, inspect, rm, prune, connect, disconnect, and netns create/rm for
// OCI bundles that reference a named network namespace by path.
import {
  createNamedNetns, filterNetworkRecords, networkRecord, openNetworks, PREDEFINED_NETWORKS, predefinedNetworkRecord, removeNamedNetns, type NetworkManager, type NetworkRecord, type OpenOptions,
} from "../../network/index.ts";
import { parseLabels } from "../../engine/options.ts";
import { bool, list, runParsed, str } from "./args.ts";
import { formatRows } from "./format.ts";
import type { Io } from "./io.ts";

export interface ContainerRef {
  id: string;
  name: string;
  netnsPath: string;
}

export interface NetworkCommandContext {
  /** Default /var/lib/berth (or $BERTH_ROOT). */
  stateRoot?: string;
  open?: OpenOptions;
  /** Engine lookup for connect/disconnect; without it CONTAINER is taken as an id and --netns is required. */
  resolveContainer?: (nameOrId: string) => ContainerRef | null;
  out?: (s: string) => void;
  err?: (s: string) => void;
}

const USAGE = `Usage: berth network COMMAND

Commands:
  create [--subnet CIDR] [--gateway IP] [--internal] [--outbound] NAME
                       Create a bridge network. --internal: members reach only each other.
                       --outbound: containers may reach the outside world (turns on host ip_forward).
  ls [-q] [--format T] List networks
  inspect [-f T] NAME...
                       Show networks and their containers as docker's JSON (or a Go template over it)
  rm NAME...           Remove networks (they must have no containers)
  prune                Remove all networks without containers (except the default)
  connect [--ip IP] [--alias NAME]... [--netns PATH] NETWORK CONTAINER
  disconnect NETWORK CONTAINER
  netns create NAME    Create /run/netns/NAME for an OCI bundle's namespace path
  netns rm NAME        Remove it again
`;

const SPECS = {
  create: {
    name: "network create", usage: "network create [OPTIONS] NETWORK", summary: "Create a bridge network", minArgs: 1, maxArgs: 1,
    flags: [
      str("driver", "d", "Driver to manage the Network (only bridge)", { default: "bridge" }),
      str("subnet", undefined, "Subnet in CIDR format that represents a network segment"),
      str("gateway", undefined, "IPv4 Gateway for the master subnet"),
      bool("internal", undefined, "Restrict external access to the network: members reach only each other"),
      bool("outbound", undefined, "Let containers reach the outside world (turns on the host's ip_forward)"),
      list("label", undefined, "Set metadata on a network (KEY[=VALUE])"),
    ],
  },
  ls: {
    name: "network ls", usage: "network ls [OPTIONS]", summary: "List networks", maxArgs: 0,
    flags: [bool("quiet", "q", "Only display network IDs"), bool("no-trunc", undefined, "Do not truncate the output"), list("filter", "f", "Provide filter values (name=, id=, driver=, label=KEY[=VALUE], type=custom|builtin)"), str("format", undefined, "Pretty-print networks using a Go template (.ID .Name .Driver .Scope .Internal .CreatedAt, or any inspect field)")],
  },
  inspect: { name: "network inspect", usage: "network inspect [OPTIONS] NETWORK [NETWORK...]", summary: "Display detailed information on one or more networks", minArgs: 1, flags: [str("format", "f", "Format output using a Go template")] },
  rm: { name: "network rm", usage: "network rm NETWORK [NETWORK...]", summary: "Remove one or more networks (they must have no containers)", minArgs: 1, flags: [] },
  prune: { name: "network prune", usage: "network prune [OPTIONS]", summary: "Remove all networks without containers (except the default)", maxArgs: 0, flags: [bool("force", "f", "Do not prompt for confirmation")] },
  connect: {
    name: "network connect", usage: "network connect [OPTIONS] NETWORK CONTAINER", summary: "Connect a container to a network", minArgs: 2, maxArgs: 2,
    flags: [str("ip", undefined, "IPv4 address (e.g., \"172.30.100.104\")"), list("alias", undefined, "Add network-scoped alias for the container"),
      str("netns", undefined, "Network namespace to connect when CONTAINER is no berth container (a path)")],
  },
  disconnect: { name: "network disconnect", usage: "network disconnect NETWORK CONTAINER", summary: "Disconnect a container from a network", minArgs: 2, maxArgs: 2, flags: [] },
  netns: { name: "network netns", usage: "network netns create|rm NAME", summary: "Create or remove /run/netns/NAME for an OCI bundle's namespace path", minArgs: 2, maxArgs: 2, flags: [] },
} as const;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("").trimEnd()).join("\n");
}

export async function networkCommand(argv: string[], ctx: NetworkCommandContext = {}): Promise<number> {
  const out = ctx.out ?? ((s: string) => process.stdout.write(s + "\n"));
  const err = ctx.err ?? ((s: string) => process.stderr.write(s + "\n"));
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "help" || cmd === "--help" || cmd === "-h") {
    (cmd ? out : err)(USAGE.trimEnd());
    return cmd ? 0 : 2;
  }
  let mgr: NetworkManager | null = null;
  const open = (): NetworkManager => (mgr ??= openNetworks(ctx.stateRoot ?? process.env.BERTH_ROOT ?? "/var/lib/berth", ctx.open));
  // The grammar's output (help, flag errors) through the context's line writers.
  const io: Io = { out: (t) => out(t.replace(/\n$/, "")), err: (t) => err(t.replace(/\n$/, "")) };
  const sub = cmd === "list" ? "ls" : cmd === "remove" ? "rm" : cmd;
  try {
    switch (sub) {
      case "create": return await runParsed(SPECS.create, rest, io, (p) => {
        const driver = p.get("driver");
        if (driver !== "bridge") throw new Error(`driver ${driver} is not supported; only bridge`);
        const n = open().create({ name: p.args[0]!, subnet: p.get("subnet"), gateway: p.get("gateway"), internal: p.get("internal"), outbound: p.get("outbound"), labels: parseLabels(p.get("label")) });
        out(n.id);
        return 0;
      });
      case "ls": return await runParsed(SPECS.ls, rest, io, (p) => {
        const m = open();
        m.ensureDefault();
        const filters: Record<string, string[]> = {};
        for (const f of p.get("filter")) {
          const at = f.indexOf("=");
          if (at <= 0) throw new Error(`bad filter ${JSON.stringify(f)}: expected KEY=VALUE (e.g. label=com.example.team=web)`);
          (filters[f.slice(0, at)] ??= []).push(f.slice(at + 1));
        }
        const all = m.list();
        const shown = new Set(filterNetworkRecords(all.map(networkRecord), filters).map((r) => r.Id));
        const nets = all.filter((n) => shown.has(n.id));
        const id = (full: string) => (p.get("no-trunc") ? full : full.slice(0, 12));
        if (p.get("quiet")) {
          for (const n of nets) out(id(n.id));
          return 0;
        }
        const format = p.get("format");
        if (format) {
          // docker's list fields beside the record's own (Name, Driver, Scope, Internal, Labels…).
          const rows = nets.map((n) => networkRecord(n)).map((r) => ({ ...r, ID: id(r.Id), IPv6: r.EnableIPv6, CreatedAt: r.Created }));
          out(formatRows(format, rows).replace(/\n$/, ""));
          return 0;
        }
        out(table([["NETWORK ID", "NAME", "DRIVER", "SUBNET", "GATEWAY", "BRIDGE", "INTERNAL"], ...nets.map((n) => [n.id.slice(0, 12), n.name, n.driver, n.subnet, n.gateway, n.bridge, n.internal ? "yes" : "no"])]));
        return 0;
      });
      case "inspect": return await runParsed(SPECS.inspect, rest, io, (p) => {
        const records: NetworkRecord[] = [];
        let status = 0;
        for (const ref of p.args) {
          try {
            const predefined = PREDEFINED_NETWORKS.find((n) => n === ref);
            if (predefined) records.push(predefinedNetworkRecord(predefined));
            else {
              if (ref === "bridge") open().ensureDefault();
              records.push(networkRecord(open().inspect(ref)));
            }
          } catch (e) {
            err(`Error: ${(e as Error).message}`); // docker: the others are still shown
            status = 1;
          }
        }
        const format = p.get("format");
        if (format) out(records.map((r) => formatRows(format, [r as unknown as Record<string, unknown>])).join("").replace(/\n$/, ""));
        else out(JSON.stringify(records, null, 4));
        return status;
      });
      case "rm": return await runParsed(SPECS.rm, rest, io, (p) => {
        let status = 0;
        for (const n of p.args) {
          try {
            open().remove(n);
            out(n);
          } catch (e) {
            err(`berth network rm: ${(e as Error).message}`);
            status = 1;
          }
        }
        return status;
      });
      case "prune": return await runParsed(SPECS.prune, rest, io, () => {
        const gone = open().prune();
        if (gone.length) out(`Deleted Networks:\n${gone.join("\n")}`);
        return 0;
      });
      case "connect": return await runParsed(SPECS.connect, rest, io, (p) => {
        const [network, container] = p.args as [string, string];
        const ref = ctx.resolveContainer?.(container) ?? null;
        const netnsPath = ref?.netnsPath ?? p.get("netns");
        if (!netnsPath) throw new Error(`no such container ${container}; pass --netns PATH to connect a namespace directly`);
        const a = open().attach({ containerId: ref?.id ?? container, netnsPath, network, ip: p.get("ip"), name: ref?.name, aliases: p.get("alias") });
        out(`${a.ifname} ${a.ip}/${a.prefixLen}`);
        return 0;
      });
      case "disconnect": return await runParsed(SPECS.disconnect, rest, io, (p) => {
        const [network, container] = p.args as [string, string];
        open().detach(ctx.resolveContainer?.(container)?.id ?? container, network);
        return 0;
      });
      case "netns": return await runParsed(SPECS.netns, rest, io, (p) => {
        const [what, name] = p.args as [string, string];
        if (what === "create") out(createNamedNetns(name));
        else if (what === "rm") removeNamedNetns(name);
        else throw new Error(`unknown netns command ${what}; use create or rm`);
        return 0;
      });
      default:
        err(`berth network: unknown command ${cmd}\n\n${USAGE.trimEnd()}`);
        return 2;
    }
  } catch (e) {
    err(`berth network ${cmd}: ${(e as Error).message}`);
    return 1;
  } finally {
    (mgr as NetworkManager | null)?.close();
  }
}
