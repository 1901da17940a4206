// `berth network ...`: create, ls, inspect, rm, prune, connect, disconnect, and netns create/rm for
// OCI bundles that reference a named network namespace by path.
import { createNamedNetns, openNetworks, removeNamedNetns, type NetworkManager, type OpenOptions } from "../../network/index.ts";

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
  ls [-q]              List networks
  inspect NAME...      Show networks and their containers as JSON
  rm NAME...           Remove networks (they must have no containers)
  prune                Remove all networks without containers (except the default)
  connect [--ip IP] [--alias NAME]... [--netns PATH] NETWORK CONTAINER
  disconnect NETWORK CONTAINER
  netns create NAME    Create /run/netns/NAME for an OCI bundle's namespace path
  netns rm NAME        Remove it again
`;

interface Parsed {
  flags: Map<string, string[]>;
  bools: Set<string>;
  args: string[];
}

function parse(argv: string[], valued: string[], booleans: string[]): Parsed {
  const p: Parsed = { flags: new Map(), bools: new Set(), args: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      p.args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("-") && a !== "-") {
      const [k, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
      if (valued.includes(k)) {
        const v = inline ?? argv[++i];
        if (v === undefined) throw new Error(`${k} needs a value`);
        p.flags.set(k, [...(p.flags.get(k) ?? []), v]);
      } else if (booleans.includes(k)) p.bools.add(k);
      else throw new Error(`unknown option ${k}`);
    } else p.args.push(a);
  }
  return p;
}

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
  try {
    switch (cmd) {
      case "create": {
        const p = parse(rest, ["--subnet", "--gateway", "--driver", "-d"], ["--internal", "--outbound"]);
        const driver = p.flags.get("--driver")?.[0] ?? p.flags.get("-d")?.[0] ?? "bridge";
        if (driver !== "bridge") throw new Error(`driver ${driver} is not supported; only bridge`);
        if (p.args.length !== 1) throw new Error("create needs exactly one NAME");
        const n = open().create({
          name: p.args[0]!, subnet: p.flags.get("--subnet")?.[0], gateway: p.flags.get("--gateway")?.[0],
          internal: p.bools.has("--internal"), outbound: p.bools.has("--outbound"),
        });
        out(n.id);
        return 0;
      }
      case "ls":
      case "list": {
        const p = parse(rest, [], ["-q", "--quiet"]);
        const m = open();
        m.ensureDefault();
        const nets = m.list();
        if (p.bools.has("-q") || p.bools.has("--quiet")) {
          for (const n of nets) out(n.id.slice(0, 12));
          return 0;
        }
        out(table([["NETWORK ID", "NAME", "DRIVER", "SUBNET", "GATEWAY", "BRIDGE", "INTERNAL"], ...nets.map((n) => [n.id.slice(0, 12), n.name, n.driver, n.subnet, n.gateway, n.bridge, n.internal ? "yes" : "no"])]));
        return 0;
      }
      case "inspect": {
        if (rest.length === 0) throw new Error("inspect needs at least one NAME");
        const m = open();
        out(JSON.stringify(rest.map((n) => m.inspect(n)), null, 2));
        return 0;
      }
      case "rm":
      case "remove": {
        if (rest.length === 0) throw new Error("rm needs at least one NAME");
        let status = 0;
        for (const n of rest) {
          try {
            open().remove(n);
            out(n);
          } catch (e) {
            err(`berth network rm: ${(e as Error).message}`);
            status = 1;
          }
        }
        return status;
      }
      case "prune": {
        parse(rest, [], ["-f", "--force"]);
        const gone = open().prune();
        if (gone.length) out(`Deleted Networks:\n${gone.join("\n")}`);
        return 0;
      }
      case "connect":
      case "disconnect": {
        const p = parse(rest, ["--ip", "--alias", "--netns"], []);
        if (p.args.length !== 2) throw new Error(`${cmd} needs NETWORK and CONTAINER`);
        const [network, container] = p.args as [string, string];
        const ref = ctx.resolveContainer?.(container) ?? null;
        const netnsPath = ref?.netnsPath ?? p.flags.get("--netns")?.[0];
        const id = ref?.id ?? container;
        if (cmd === "disconnect") {
          open().detach(id, network);
          return 0;
        }
        if (!netnsPath) throw new Error(`no such container ${container}; pass --netns PATH to connect a namespace directly`);
        const a = open().attach({ containerId: id, netnsPath, network, ip: p.flags.get("--ip")?.[0], name: ref?.name, aliases: p.flags.get("--alias") });
        out(`${a.ifname} ${a.ip}/${a.prefixLen}`);
        return 0;
      }
      case "netns": {
        const [sub, name, ...extra] = rest;
        if (!name || extra.length) throw new Error("usage: berth network netns create|rm NAME");
        if (sub === "create") out(createNamedNetns(name));
        else if (sub === "rm") removeNamedNetns(name);
        else throw new Error(`unknown netns command ${sub}; use create or rm`);
        return 0;
      }
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
