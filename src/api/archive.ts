// /containers/{id}/archive: HEAD (the path's stat, in X-Docker-Container-Path-Stat), GET (the
// path as a tar), PUT (a tar extracted into a directory). Paths resolve inside the container's
// root with `berth cp`'s rules (the engine's copyFromContainer/copyToContainer); the tar is
// made and read by the host's GNU tar in a private temporary directory, which refuses members
// that climb out with "..".
import { lstatSync, readdirSync, readlinkSync, rmSync, type Stats } from "node:fs";
import { basename, join } from "node:path";
import { copyFromContainer, copyToContainer, type ContainerRow, type Engine } from "../engine/index.ts";
import { resolveInRoot } from "../engine/rootpath.ts";
import { ApiError, badRequest, noContent } from "./http.ts";
import type { Ctx, Router } from "./router.ts";
import { apiTempDir } from "./temp.ts";

/** The largest archive a PUT may upload. */
export const ARCHIVE_LIMIT = 8 * 1024 ** 3;

// Go's os.FileMode bits, as the docker CLI decodes the stat header.
const MODE_DIR = 2 ** 31, MODE_SYMLINK = 2 ** 27;

function goMode(st: Stats): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += MODE_DIR;
  if (st.isSymbolicLink()) m += MODE_SYMLINK;
  return m;
}

function pathParam(ctx: Ctx): string {
  const p = ctx.query.str("path");
  if (!p) throw badRequest("path is required (path=…)");
  if (p.includes("\0")) throw badRequest("path contains a NUL byte");
  return p.startsWith("/") ? p : `/${p}`;
}

function statHeader(name: string, st: Stats, link: string): string {
  return Buffer.from(JSON.stringify({ name, size: st.size, mode: goMode(st), mtime: st.mtime.toISOString(), linkTarget: link })).toString("base64");
}

function notFound(row: ContainerRow, path: string): ApiError {
  return new ApiError(404, `Could not find the file ${path} in container ${row.name}`);
}

/** Copies the container path out to a private temp dir; the caller removes `tmp`. */
async function copyOut(engine: Engine, row: ContainerRow, path: string): Promise<{ tmp: string; name: string }> {
  const tmp = apiTempDir("cp");
  const trimmed = path.replace(/\/\.?$/, "") || "/";
  const name = trimmed === "/" ? "." : basename(trimmed);
  try {
    await copyFromContainer(engine, row, path, name === "." ? join(tmp, "root") : join(tmp, name), { archive: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (/could not find|no such file|ENOENT/i.test((e as Error).message)) throw notFound(row, path);
    throw e;
  }
  return { tmp, name: name === "." ? "root" : name };
}

async function head(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = engine.find(ctx.params.id!);
  const path = pathParam(ctx);
  const v = engine.observe(row);
  let st: Stats;
  let link = "";
  if (v.running) {
    // The container's own view, resolved below /proc/PID/root (links followed inside it).
    const root = `/proc/${row.pid}/root`;
    const host = resolveInRoot(root, path, false);
    try { st = lstatSync(host); } catch { throw notFound(row, path); }
    if (st.isSymbolicLink()) link = readlinkSync(host);
  } else {
    const { tmp, name } = await copyOut(engine, row, path);
    try { st = lstatSync(join(tmp, name)); if (st.isSymbolicLink()) link = readlinkSync(join(tmp, name)); } finally { rmSync(tmp, { recursive: true, force: true }); }
  }
  ctx.res!.setHeader("X-Docker-Container-Path-Stat", statHeader(basename(path) || "/", st, link));
  noContent(ctx.res!, 200);
}

async function get(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = engine.find(ctx.params.id!);
  const path = pathParam(ctx);
  const { tmp, name } = await copyOut(engine, row, path);
  const res = ctx.res!;
  try {
    const st = lstatSync(join(tmp, name));
    const entry = path === "/" ? "/" : basename(path.replace(/\/\.?$/, "")) || "/";
    res.setHeader("X-Docker-Container-Path-Stat", statHeader(entry, st, st.isSymbolicLink() ? readlinkSync(join(tmp, name)) : ""));
    res.writeHead(200, { "Content-Type": "application/x-tar" });
    const tar = Bun.spawn(["tar", "-C", tmp, "--numeric-owner", "-cf", "-", name], { stdout: "pipe", stderr: "ignore" });
    for await (const chunk of tar.stdout) {
      if (res.destroyed) { tar.kill(); break; }
      if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
    }
    await tar.exited;
    res.end();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function put(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = engine.find(ctx.params.id!);
  const path = pathParam(ctx);
  const tmp = apiTempDir("put");
  try {
    const dir = join(tmp, "x");
    const tar = Bun.spawn(["tar", "-x", "-p", "--numeric-owner", "--no-overwrite-dir", "-C", tmp, "--one-top-level=x", "-f", "-"], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
    let size = 0;
    for await (const c of ctx.req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > ARCHIVE_LIMIT) { tar.kill(); throw new ApiError(413, `archive too large (the limit is ${ARCHIVE_LIMIT} bytes)`); }
      tar.stdin.write(c);
      await tar.stdin.flush();
    }
    tar.stdin.end();
    const code = await tar.exited;
    if (code !== 0) {
      const err = (await new Response(tar.stderr).text()).trim();
      throw badRequest(`invalid archive: ${err || `tar exited with ${code}`}`);
    }
    let entries: string[] = [];
    try { entries = readdirSync(dir); } catch { entries = []; }
    if (entries.length > 0) {
      try {
        await copyToContainer(engine, row, `${dir}/.`, path, { archive: true });
      } catch (e) {
        if (/could not find|no such file|ENOENT/i.test((e as Error).message)) throw notFound(row, path);
        throw e;
      }
    }
    noContent(ctx.res!, 200);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function archiveRoutes(r: Router): void {
  r.on("HEAD", "/containers/{id}/archive", head);
  r.on("GET", "/containers/{id}/archive", get);
  r.on("PUT", "/containers/{id}/archive", put);
}

