// Network routes: list, inspect, create, remove, connect, disconnect, prune. The default network
// answers to `bridge`; `host` and `none` are listed as Docker lists them.
import { filterNetworkRecords, networkRecord, openNetworks, PREDEFINED_NETWORKS, predefinedNetworkRecord, type NetworkManager } from "../network/index.ts";
import { ApiError, badRequest, conflict, noContent, notFound, optBool, optObj, optStr, optStrList, readJson, sendJson } from "./http.ts";
import type { Ctx, Router } from "./router.ts";

function withNetworks<T>(ctx: Ctx, fn: (m: NetworkManager) => T): T {
  const m = openNetworks(ctx.engine.root, ctx.engine.opts.network ?? {});
  try {
    return fn(m);
  } finally {
    m.close();
  }
}

const isPredefined = (ref: string): ref is (typeof PREDEFINED_NETWORKS)[number] => (PREDEFINED_NETWORKS as readonly string[]).includes(ref);

/** By name, bridge, ID (64 digits, or the 32 an older root stored) or a unique prefix of it. */
function find(m: NetworkManager, ref: string) {
  try {
    return m.inspect(ref);
  } catch {
    throw notFound(`network ${ref} not found`);
  }
}

function list(ctx: Ctx): void {
  const filters = ctx.query.filters();
  const out = withNetworks(ctx, (m) => {
    m.ensureDefault();
    return m.list().map(networkRecord);
  });
  let all;
  try {
    all = filterNetworkRecords([...out, ...PREDEFINED_NETWORKS.map(predefinedNetworkRecord)], filters);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  sendJson(ctx.res!, 200, all);
}

function inspect(ctx: Ctx): void {
  const ref = ctx.params.id!;
  if (isPredefined(ref)) return sendJson(ctx.res!, 200, predefinedNetworkRecord(ref));
  const body = withNetworks(ctx, (m) => {
    if (ref === "bridge") m.ensureDefault();
    const d = find(m, ref);
    return networkRecord(d);
  });
  sendJson(ctx.res!, 200, body);
}

async function create(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx.req);
  const name = optStr(body, "Name");
  if (!name) throw badRequest("network name is required (Name)");
  const driver = optStr(body, "Driver") || "bridge";
  if (driver !== "bridge") throw badRequest(`network driver ${driver} is not supported (only bridge)`);
  const ipam = optObj(body, "IPAM");
  const cfg = ipam && Array.isArray(ipam.Config) ? (ipam.Config as Record<string, unknown>[])[0] : undefined;
  const opts = optObj(body, "Options") ?? {};
  const l = optObj(body, "Labels") ?? {};
  const labels = Object.fromEntries(Object.entries(l).map(([k, v]) => [k, String(v)]));
  const info = withNetworks(ctx, (m) => {
    if (m.list().some((n) => n.name === name)) throw conflict(`network with name ${name} already exists`);
    try {
      return m.create({
        name, subnet: cfg ? optStr(cfg, "Subnet") : undefined, gateway: cfg ? optStr(cfg, "Gateway") : undefined,
        internal: optBool(body, "Internal") ?? false, outbound: opts["com.docker.network.bridge.enable_ip_masquerade"] === "true", labels,
      });
    } catch (e) {
      throw badRequest((e as Error).message);
    }
  });
  ctx.events.emit("network", "create", info.id, { name, type: "bridge" });
  sendJson(ctx.res!, 201, { Id: info.id, Warning: "" });
}

function remove(ctx: Ctx): void {
  const ref = ctx.params.id!;
  if (["bridge", "host", "none"].includes(ref)) throw new ApiError(403, `${ref} is a pre-defined network and cannot be removed`);
  withNetworks(ctx, (m) => {
    const d = find(m, ref);
    if (d.containers.length) throw conflict(`error while removing network: network ${d.name} id ${d.id} has active endpoints`);
    m.remove(d.name);
    ctx.events.emit("network", "destroy", d.id, { name: d.name, type: "bridge" });
  });
  noContent(ctx.res!);
}

async function connect(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx.req);
  const ref = optStr(body, "Container");
  if (!ref) throw badRequest("Container is required");
  const row = ctx.engine.find(ref);
  const v = ctx.engine.observe(row);
  const ep = optObj(body, "EndpointConfig") ?? {};
  if (!v.running) {
    // A created container joins its networks when it starts: connecting it to one of them
    // (compose does, with the service's aliases given at create) is already done.
    const net = ctx.params.id!;
    const joins = row.config.network.split(",");
    const known = withNetworks(ctx, (m) => { try { return m.inspect(net).name; } catch { return net; } });
    if (joins.includes(known) || joins.includes(net)) return noContent(ctx.res!, 200);
    throw conflict(`container ${row.id} is not running: berth connects a stopped container only to the networks it was created with`);
  }
  const ipam = optObj(ep, "IPAMConfig") ?? {};
  withNetworks(ctx, (m) => {
    const d = find(m, ctx.params.id!);
    try {
      m.attach({ containerId: row.id, netnsPath: `/proc/${row.pid}/ns/net`, network: d.name, name: row.name, ip: optStr(ipam, "IPv4Address") || undefined, aliases: optStrList(ep, "Aliases") ?? [] });
    } catch (e) {
      const msg = (e as Error).message;
      throw /already connected/.test(msg) ? conflict(msg) : badRequest(msg);
    }
    ctx.events.emit("network", "connect", d.id, { name: d.name, type: "bridge", container: row.id });
  });
  noContent(ctx.res!, 200);
}

async function disconnect(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx.req);
  const ref = optStr(body, "Container");
  if (!ref) throw badRequest("Container is required");
  const row = ctx.engine.find(ref);
  withNetworks(ctx, (m) => {
    const d = find(m, ctx.params.id!);
    if (!d.containers.some((e) => e.containerId === row.id)) throw conflict(`container ${row.id} is not connected to network ${d.name}`);
    m.detach(row.id, d.name);
    ctx.events.emit("network", "disconnect", d.id, { name: d.name, type: "bridge", container: row.id });
  });
  noContent(ctx.res!, 200);
}

function prune(ctx: Ctx): void {
  const deleted = withNetworks(ctx, (m) => m.prune());
  for (const n of deleted) ctx.events.emit("network", "destroy", n, { name: n, type: "bridge" });
  sendJson(ctx.res!, 200, { NetworksDeleted: deleted });
}

export function networkRoutes(r: Router): void {
  r.on("GET", "/networks", list);
  r.on("POST", "/networks/create", create);
  r.on("POST", "/networks/prune", prune);
  r.on("GET", "/networks/{id}", inspect);
  r.on("DELETE", "/networks/{id}", remove);
  r.on("POST", "/networks/{id}/connect", connect);
  r.on("POST", "/networks/{id}/disconnect", disconnect);
}
