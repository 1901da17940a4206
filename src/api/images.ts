// Image routes: list, inspect, history, tag, remove, prune, save (get), load, import, commit;
// pull, push and login are registry.ts's.
import { createWriteStream, rmSync } from "node:fs";
import { join } from "node:path";
import { archiveImporter, familiarName, normalizeTaggedName, rootfsImporter, saveImages, type ImageRecord } from "../image/index.ts";
import { commitToImage } from "../engine/index.ts";
import { imageHistory, inspectImage } from "../image/inspect.ts";
import { addImageFilter, ImageFilterError, listImages, nameMatches, type ImageListOptions } from "../image/list.ts";
import { ApiError, badRequest, conflict, notFound, readJson, sendJson } from "./http.ts";
import type { Ctx, Router } from "./router.ts";
import { buildImage } from "./build.ts";
import { auth, pullImage, pushImage } from "./registry.ts";
import { apiTempDir } from "./temp.ts";

/** The largest image archive a load may upload. */
export const LOAD_LIMIT = 32 * 1024 ** 3;

function resolveImage(ctx: Ctx, ref: string): ImageRecord {
  let img: ImageRecord | null;
  try {
    img = ctx.engine.images.resolve(ref);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  if (!img) throw notFound(`No such image: ${ref}`);
  return img;
}

function created(img: ImageRecord): number {
  return Math.floor(Date.parse(img.created ?? "") / 1000) || 0;
}

function list(ctx: Ctx): void {
  const { engine } = ctx;
  const filters = ctx.query.filters();
  let opts: ImageListOptions = {};
  try {
    for (const [k, values] of Object.entries(filters)) {
      if (k === "label" || k === "before" || k === "since") continue;
      for (const v of values) opts = addImageFilter(opts, `${k}=${v}`);
    }
  } catch (e) {
    if (e instanceof ImageFilterError) throw badRequest(e.message);
    throw e;
  }
  const used = new Map<string, number>();
  for (const v of engine.list()) used.set(v.row.config.imageId, (used.get(v.row.config.imageId) ?? 0) + 1);
  const seen = new Set<string>();
  let images = listImages(engine.images, opts).map((e) => e.image).filter((i) => !seen.has(i.id) && seen.add(i.id));
  for (const v of filters.label ?? []) {
    const eq = v.indexOf("=");
    images = images.filter((i) => {
      const l = i.config.Labels ?? {};
      return eq < 0 ? v in l : l[v.slice(0, eq)] === v.slice(eq + 1);
    });
  }
  for (const k of ["before", "since"] as const) {
    for (const ref of filters[k] ?? []) {
      const at = resolveImage(ctx, ref).loadedAt;
      images = images.filter((i) => (k === "before" ? i.loadedAt < at : i.loadedAt > at));
    }
  }
  // Docker: with a reference filter, RepoTags holds only the names that match it.
  const refs = filters.reference ?? [];
  const shownNames = (i: ImageRecord) => (refs.length ? i.names.filter((n) => refs.some((p) => nameMatches(n, p))) : i.names);
  const shownDigests = (i: ImageRecord) => (refs.length ? i.repoDigests.filter((d) => refs.some((p) => nameMatches(d.slice(0, d.indexOf("@")), p))) : i.repoDigests);
  sendJson(ctx.res!, 200, images.map((i) => ({
    Id: i.id, ParentId: "", RepoTags: shownNames(i).map(familiarName), RepoDigests: shownDigests(i).map(familiarName), Created: created(i),
    Size: i.size, SharedSize: -1, VirtualSize: i.size, Labels: i.config.Labels ?? {}, Containers: used.get(i.id) ?? 0,
  })));
}

function inspect(ctx: Ctx): void {
  const img = resolveImage(ctx, ctx.params.name!);
  sendJson(ctx.res!, 200, inspectImage(ctx.engine.images, img));
}

function history(ctx: Ctx): void {
  const img = resolveImage(ctx, ctx.params.name!);
  sendJson(ctx.res!, 200, imageHistory(ctx.engine.images, img).map((h) => ({
    Id: h.id, Created: Math.floor(Date.parse(h.created ?? "") / 1000) || 0, CreatedBy: h.createdBy, Tags: h.id === img.id ? img.names.map(familiarName) : null,
    Size: h.size, Comment: h.comment,
  })));
}

function tag(ctx: Ctx): void {
  const img = resolveImage(ctx, ctx.params.name!);
  const repo = ctx.query.str("repo");
  if (!repo) throw badRequest("repository name is required (repo=…)");
  const t = ctx.query.str("tag") || "latest";
  try {
    ctx.engine.images.tag(img.id, `${repo}:${t}`);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  ctx.events.emit("image", "tag", img.id, { name: `${repo}:${t}` });
  ctx.res!.writeHead(201);
  ctx.res!.end();
}

async function remove(ctx: Ctx): Promise<void> {
  const ref = ctx.params.name!;
  resolveImage(ctx, ref);
  let r;
  try {
    r = await ctx.engine.images.remove(ref, { force: ctx.query.bool("force"), prune: !ctx.query.bool("noprune") });
  } catch (e) {
    const msg = (e as Error).message;
    if (/in use|is being used|held|container|conflict|referenced/i.test(msg)) throw conflict(msg);
    throw e;
  }
  for (const u of r.untagged) ctx.events.emit("image", "untag", u, { name: u });
  for (const d of r.deleted) ctx.events.emit("image", "delete", d, {});
  sendJson(ctx.res!, 200, [...r.untagged.map((u) => ({ Untagged: familiarName(u) })), ...r.deleted.map((d) => ({ Deleted: d }))]);
}

async function prune(ctx: Ctx): Promise<void> {
  const filters = ctx.query.filters();
  const dangling = filters.dangling?.[0];
  const all = dangling === "false" || dangling === "0";
  const r = await ctx.engine.images.prune({ all });
  for (const d of r.deleted) ctx.events.emit("image", "delete", d, {});
  sendJson(ctx.res!, 200, { ImagesDeleted: r.deleted.map((d) => ({ Deleted: d })), SpaceReclaimed: r.reclaimedBytes });
}

async function save(ctx: Ctx, names: string[]): Promise<void> {
  if (names.length === 0) throw badRequest("no image names given (names=…)");
  const images = names.map((n) => resolveImage(ctx, n));
  const unique = [...new Map(images.map((i) => [i.id, i])).values()];
  const res = ctx.res!;
  res.writeHead(200, { "Content-Type": "application/x-tar" });
  for await (const c of saveImages(ctx.engine.images, unique, "docker", names)) {
    if (res.destroyed) return;
    if (!res.write(c)) await new Promise((r) => res.once("drain", r));
  }
  for (const i of unique) ctx.events.emit("image", "save", i.id, {});
  res.end();
}

async function load(ctx: Ctx): Promise<void> {
  const quiet = ctx.query.bool("quiet");
  // The upload lands in a private file first: a client that disconnects mid-way loads nothing.
  const tmp = apiTempDir("load");
  const file = join(tmp, "image.tar");
  try {
    const out = createWriteStream(file);
    let size = 0;
    for await (const c of ctx.req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > LOAD_LIMIT) throw new ApiError(413, `image archive too large (the limit is ${LOAD_LIMIT} bytes)`);
      if (!out.write(c)) await new Promise((r) => out.once("drain", r));
    }
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    if (!ctx.req.complete) throw badRequest("the upload ended early; nothing was loaded");
    let r;
    try {
      r = await archiveImporter(file).run(ctx.engine.images, {});
    } catch (e) {
      throw badRequest(`invalid image archive: ${(e as Error).message}`);
    }
    const lines = r.images.flatMap((img) => (img.names.length ? img.names.map((n) => `Loaded image: ${familiarName(n)}\n`) : [`Loaded image ID: ${img.id}\n`]));
    for (const img of r.images) ctx.events.emit("image", "load", img.id, { name: img.names.map(familiarName).join(",") });
    const res = ctx.res!;
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(quiet ? "" : lines.map((l) => JSON.stringify({ stream: l })).join("\n") + "\n");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The request body into a private temp file (size-limited); the caller removes `dir`. */
async function bodyToFile(ctx: Ctx, limit: number): Promise<{ dir: string; file: string }> {
  const dir = apiTempDir("upload");
  const file = join(dir, "upload.tar");
  try {
    const out = createWriteStream(file);
    let size = 0;
    for await (const c of ctx.req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > limit) throw new ApiError(413, `upload too large (the limit is ${limit} bytes)`);
      if (!out.write(c)) await new Promise((r) => out.once("drain", r));
    }
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    if (!ctx.req.complete) throw badRequest("the upload ended early; nothing was imported");
    return { dir, file };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** `docker import`: a root filesystem tar as a one-layer image (fromSrc=-: the body). */
async function importImage(ctx: Ctx): Promise<void> {
  if (ctx.query.str("fromSrc") !== "-") throw new ApiError(501, "importing from a URL is not supported by berth (no network access); send the tarball (fromSrc=-)");
  const repo = ctx.query.str("repo");
  const tag = ctx.query.str("tag");
  const names = repo ? [normalizeTaggedName(`${repo}${tag ? `:${tag}` : ""}`)] : [];
  const changes = ctx.query.params.getAll("changes");
  const { dir, file } = await bodyToFile(ctx, LOAD_LIMIT);
  try {
    let r;
    try {
      r = await rootfsImporter(file).run(ctx.engine.images, { names, changes, message: ctx.query.str("message") });
    } catch (e) {
      throw badRequest(`invalid root filesystem tarball: ${(e as Error).message}`);
    }
    const img = r.images[0]!;
    ctx.events.emit("image", "import", img.id, { name: names.map(familiarName).join(",") });
    const res = ctx.res!;
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(`${JSON.stringify({ status: img.id })}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `docker commit`: a container's changes as an image. */
async function commit(ctx: Ctx): Promise<void> {
  const container = ctx.query.str("container");
  if (!container) throw badRequest("container is required (container=…)");
  const body = await readJson(ctx.req);
  const repo = ctx.query.str("repo");
  const tag = ctx.query.str("tag");
  if (Object.keys(body).length) throw badRequest("a config body with commit is not supported by berth; use changes=… (Dockerfile instructions)");
  const img = await commitToImage(ctx.engine, {
    container, ...(repo ? { repository: `${repo}${tag ? `:${tag}` : ""}` } : {}),
    changes: ctx.query.params.getAll("changes").flatMap((c) => c.split("\n")).filter(Boolean),
    message: ctx.query.str("comment"), author: ctx.query.str("author"), pause: ctx.query.bool("pause", true),
  });
  ctx.events.emit("container", "commit", ctx.engine.find(container).id, { imageID: img.id, name: ctx.engine.find(container).name });
  sendJson(ctx.res!, 201, { Id: img.id });
}

function createImage(ctx: Ctx): void | Promise<void> {
  if (ctx.query.str("fromSrc")) return importImage(ctx);
  const from = ctx.query.str("fromImage");
  if (from) return pullImage(ctx, from);
  throw badRequest("fromImage or fromSrc is required");
}

export function imageRoutes(r: Router): void {
  r.on("GET", "/images/json", list);
  r.on("POST", "/images/prune", prune);
  r.on("POST", "/images/load", load);
  r.on("POST", "/images/create", createImage);
  r.on("POST", "/commit", commit);
  r.on("GET", "/images/get", (ctx) => save(ctx, ctx.query.params.getAll("names")));
  r.on("GET", "/images/search", () => { throw new ApiError(501, "image search is not supported by berth (registries' v2 API has no search; Docker Hub's v1 search is not served)"); });
  r.on("POST", "/build", buildImage);
  // No build cache exists to prune (the legacy builder keeps none here).
  r.on("POST", "/build/prune", (ctx) => sendJson(ctx.res!, 200, { CachesDeleted: [], SpaceReclaimed: 0 }));
  r.on("GET", "/images/{name*}/json", inspect);
  r.on("GET", "/images/{name*}/history", history);
  r.on("GET", "/images/{name*}/get", (ctx) => save(ctx, [ctx.params.name!]));
  r.on("POST", "/images/{name*}/tag", tag);
  r.on("POST", "/images/{name*}/push", pushImage);
  r.on("POST", "/auth", auth);
  r.on("DELETE", "/images/{name*}", remove);
}
