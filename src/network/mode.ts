// `--network` values as a typed mode. A module of its own (no netlink, no FFI), so the engine can
// parse and check a mode when a container is created without loading the network code.

export type NetworkMode =
  | { kind: "bridge"; networks: string[] }
  | { kind: "none" }
  | { kind: "host" }
  | { kind: "container"; container: string };

/** Parses `--network` values: none, host, bridge, NAME[,NAME...], container:OTHER. */
export function parseNetworkMode(value: string | undefined): NetworkMode {
  if (value === undefined || value === "" || value === "default") return { kind: "bridge", networks: ["bridge"] };
  if (value === "none") return { kind: "none" };
  if (value === "host") return { kind: "host" };
  if (value.startsWith("container:")) {
    const container = value.slice("container:".length);
    if (!container) throw new Error("--network container: needs a container name or id, e.g. --network container:web");
    return { kind: "container", container };
  }
  const networks = value.split(",").filter(Boolean);
  if (networks.length === 0) throw new Error(`--network ${JSON.stringify(value)} names no network`);
  return { kind: "bridge", networks };
}
