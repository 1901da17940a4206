// Volume routes: list, create, inspect, remove, prune.
import { badRequest, noContent, optObj, optStr, readJson, sendJson } from "./http.ts";
import type { Ctx, Router } from "./router.ts";

function shape(ctx: Ctx, name: string): Record<string, unknown> {
  const info = ctx.engine.volumes.info(ctx.engine.volumes.get(name));
  const { Anonymous: _a, ...rest } = info;
  return { ...rest, Options: null, UsageData: null, Status: undefined };
}

function list(ctx: Ctx): void {
  const filters = ctx.query.filters();
  let vols = ctx.engine.volumes.list();
  for (const d of filters.dangling ?? []) {
    const want = d === "true" || d === "1";
    vols = vols.filter((v) => (ctx.engine.volumes.users(v.name).length === 0) === want);
  }
  for (const n of filters.name ?? []) vols = vols.filter((v) => v.name.includes(n));
  for (const l of filters.label ?? []) {
    const eq = l.indexOf("=");
    vols = vols.filter((v) => (eq < 0 ? l in v.labels : v.labels[l.slice(0, eq)] === l.slice(eq + 1)));
  }
  sendJson(ctx.res!, 200, { Volumes: vols.map((v) => shape(ctx, v.name)), Warnings: [] });
}

async function create(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx.req);
  const driver = optStr(body, "Driver");
  if (driver && driver !== "local") throw badRequest(`volume driver ${driver} is not supported (only local)`);
  const opts = optObj(body, "DriverOpts");
  if (opts && Object.keys(opts).length) throw badRequest("volume driver options are not supported by berth");
  const labels = Object.fromEntries(Object.entries(optObj(body, "Labels") ?? {}).map(([k, v]) => [k, String(v)]));
  const v = ctx.engine.volumes.create(optStr(body, "Name") || undefined, labels);
  ctx.events.emit("volume", "create", v.name, { driver: "local" });
  sendJson(ctx.res!, 201, shape(ctx, v.name));
}

function inspect(ctx: Ctx): void {
  sendJson(ctx.res!, 200, shape(ctx, ctx.params.name!));
}

function remove(ctx: Ctx): void {
  ctx.engine.volumes.remove(ctx.params.name!, ctx.query.bool("force"));
  ctx.events.emit("volume", "destroy", ctx.params.name!, { driver: "local" });
  noContent(ctx.res!);
}

function prune(ctx: Ctx): void {
  const filters = ctx.query.filters();
  const all = (filters.all ?? []).some((v) => v === "true" || v === "1");
  const before = ctx.engine.volumes.list().map((v) => ({ name: v.name, size: ctx.engine.volumes.sizeOf(v.name) }));
  const deleted = ctx.engine.volumes.prune(all);
  for (const d of deleted) ctx.events.emit("volume", "destroy", d, { driver: "local" });
  sendJson(ctx.res!, 200, { VolumesDeleted: deleted, SpaceReclaimed: before.filter((b) => deleted.includes(b.name)).reduce((a, b) => a + b.size, 0) });
}

export function volumeRoutes(r: Router): void {
  r.on("GET", "/volumes", list);
  r.on("POST", "/volumes/create", create);
  r.on("POST", "/volumes/prune", prune);
  r.on("GET", "/volumes/{name}", inspect);
  r.on("DELETE", "/volumes/{name}", remove);
}
