// Registry routes: POST /images/create?fromImage= (pull), POST /images/{name}/push, POST /auth —
// the engine's registry code (engine/registry.ts, the same as `berth pull/push/login`), with the
// client's credentials from X-Registry-Auth (the service keeps none of them) and the progress as
// Docker's JSON lines (status, id, progressDetail, progress). The engine records the pull and push events.
import type { ServerResponse } from "node:http";
import { pull, push, registryCheckLogin, RegistryError, repositoryTags, type Credentials, type PullEvent } from "../engine/index.ts";
import { familiarName, parseReference } from "../image/index.ts";
import { ApiError, badRequest, notFound, readJson, sendJson } from "./http.ts";
import type { Ctx } from "./router.ts";

/** An error from the registry with the status Docker answers it with. */
function registryStatus(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const msg = (e as Error).message;
  if (e instanceof RegistryError) {
    if (e.status === 401 || /unauthorized/i.test(msg)) return new ApiError(401, msg);
    if (e.status === 403) return new ApiError(403, msg);
    if (e.status === 404 || /not found|unknown/i.test(msg)) return new ApiError(404, msg);
  }
  if (/invalid reference|invalid/i.test(msg)) return new ApiError(400, msg);
  return new ApiError(500, msg);
}

/**
 * X-Registry-Auth: base64url JSON {username, password, serveraddress, …}. Absent: the engine's
 * default (docker's config.json of the service's user, as `berth pull` does); present but without
 * a username: anonymous, as Docker's daemon, which has no credentials of its own.
 */
export function registryAuth(header: string | string[] | undefined): Credentials | null | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header[0] ?? "" : header;
  if (text.trim() === "") return null;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw badRequest("X-Registry-Auth: not base64-encoded JSON credentials");
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw badRequest("X-Registry-Auth: not a JSON object");
  const o = v as Record<string, unknown>;
  let username = typeof o.username === "string" ? o.username : "";
  let password = typeof o.password === "string" ? o.password : "";
  // "auth": base64 of user:password, as config.json keeps it
  if (!username && typeof o.auth === "string" && o.auth) {
    const plain = Buffer.from(o.auth, "base64").toString("utf8");
    const colon = plain.indexOf(":");
    if (colon > 0) [username, password] = [plain.slice(0, colon), plain.slice(colon + 1)];
  }
  if (!username) {
    if (typeof o.identitytoken === "string" && o.identitytoken) throw badRequest("X-Registry-Auth: identity tokens are not supported by berth; log in with a username and password");
    return null;
  }
  return { username, password };
}

function progressBar(current: number, total: number): string {
  const unit = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}GB` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}MB` : n >= 1e3 ? `${(n / 1e3).toFixed(2)}kB` : `${n}B`);
  const width = 50;
  const done = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
  return `[${"=".repeat(Math.max(0, done - 1))}${done > 0 ? ">" : ""}${" ".repeat(width - done)}] ${unit(current)}/${unit(total)}`;
}

/** One engine event as Docker's JSON message. */
function jsonMessage(e: PullEvent): Record<string, unknown> {
  const m: Record<string, unknown> = { status: e.status };
  if (e.current !== undefined) {
    m.progressDetail = { current: e.current, ...(e.total ? { total: e.total } : {}) };
    if (e.total) m.progress = progressBar(e.current, e.total);
  } else if (e.id && !e.status.startsWith("Pulling from ")) m.progressDetail = {};
  if (e.id) m.id = e.id;
  return m;
}

/**
 * A JSON-lines progress response whose headers wait for the first message past `held` ones:
 * an error before that (an unknown image, refused credentials) is a plain HTTP error with its
 * status, as Docker answers it; one after is an errorDetail line in the stream.
 */
class Progress {
  private pending: string[] = [];
  private started = false;
  constructor(private res: ServerResponse, private held: (m: Record<string, unknown>) => boolean, private translate: (e: ApiError) => ApiError = (e) => e) {}

  send(m: Record<string, unknown>): void {
    const line = `${JSON.stringify(m)}\n`;
    if (this.started) { this.res.write(line); return; }
    this.pending.push(line);
    if (!this.held(m)) this.start();
  }

  private start(): void {
    this.started = true;
    this.res.writeHead(200, { "Content-Type": "application/json" });
    for (const l of this.pending) this.res.write(l);
    this.pending = [];
  }

  end(): void {
    if (!this.started) this.start();
    this.res.end();
  }

  fail(e: unknown): void {
    const err = registryStatus(e);
    if (!this.started) throw this.translate(err);
    this.res.end(`${JSON.stringify({ errorDetail: { message: err.message }, error: err.message })}\n`);
  }
}

const pullingFrom = (m: Record<string, unknown>) => typeof m.status === "string" && m.status.startsWith("Pulling from ");

/**
 * POST /images/create?fromImage=NAME&tag=TAG|DIGEST: a pull. Without a tag (in either) every tag
 * of the repository, as Docker's API defines it (`docker pull -a`; the CLI sends latest otherwise).
 */
export async function pullImage(ctx: Ctx, from: string): Promise<void> {
  const t = ctx.query.str("tag");
  let ref = from;
  if (t) ref = t.startsWith("sha256:") ? `${from}@${t}` : `${from}:${t}`;
  const allTags = !/[:@]/.test(ref.slice(ref.lastIndexOf("/") + 1));
  let parsed;
  try {
    parsed = parseReference(ref);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  const repo = `${parsed.domain}/${parsed.path}`;
  const credentials = registryAuth(ctx.req.headers["x-registry-auth"]);
  const platform = ctx.query.str("platform");
  // Docker's wording and status for refused credentials (a 404: the client would otherwise prompt
  // for a login of its own on a 401).
  const out = new Progress(ctx.res!, pullingFrom, (e) => (e.status === 401 || e.status === 403
    ? notFound(`pull access denied for ${familiarName(repo)}, repository does not exist or may require 'docker login': ${e.message}`) : e));
  try {
    const refs = allTags ? (await repositoryTags(ctx.engine.root, ref, undefined, credentials)).map((tag) => `${repo}:${tag}`) : [ref];
    if (refs.length === 0) throw new ApiError(404, `no tags in ${familiarName(repo)}`);
    let fresh = false;
    let shown = familiarName(repo);
    for (const one of refs) {
      const r = await pull(ctx.engine.root, one, {
        ...(platform ? { platform } : {}), ...(credentials !== undefined ? { credentials } : {}),
        onEvent: (e) => out.send(jsonMessage(e)),
      });
      fresh ||= r.fresh;
      if (!allTags) shown = r.name ? familiarName(r.name) : `${familiarName(repo)}@${r.digest}`;
    }
    out.send({ status: `Status: ${fresh ? "Downloaded newer image" : "Image is up to date"} for ${shown}` });
    out.end();
  } catch (e) {
    out.fail(e);
  }
}

/** POST /images/{name}/push?tag=: one tag, or (no tag) every local tag of the repository. */
export async function pushImage(ctx: Ctx): Promise<void> {
  const name = ctx.params.name!;
  const t = ctx.query.str("tag");
  let refs: string[];
  let repo;
  try {
    repo = parseReference(name);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  const canonical = `${repo.domain}/${repo.path}`;
  if (t) refs = [`${canonical}:${t}`];
  else if (repo.tag && /:[\w][\w.-]*$/.test(name.slice(name.lastIndexOf("/") + 1))) refs = [name];
  else {
    refs = ctx.engine.images.list().flatMap((i) => i.names).filter((n) => n.startsWith(`${canonical}:`)).sort();
    if (refs.length === 0) throw new ApiError(404, `An image does not exist locally with the tag: ${familiarName(canonical)}`);
  }
  for (const ref of refs) {
    if (!ctx.engine.images.resolve(ref)) throw new ApiError(404, `An image does not exist locally with the tag: ${familiarName(ref)}`);
  }
  const credentials = registryAuth(ctx.req.headers["x-registry-auth"]);
  // Errors of the push itself go in the stream, as Docker's (a 401 would make the client prompt).
  const out = new Progress(ctx.res!, () => false);
  try {
    for (const ref of refs) {
      const r = await push(ctx.engine.root, ref, { ...(credentials !== undefined ? { credentials } : {}), onEvent: (e) => out.send(jsonMessage(e)) });
      out.send({ progressDetail: {}, aux: { Tag: r.tag, Digest: r.digest, Size: r.size } });
    }
    out.end();
  } catch (e) {
    out.fail(e);
  }
}

/** POST /auth: docker login's check; the client keeps the credentials, the service nothing. */
export async function auth(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx.req);
  const username = typeof body.username === "string" ? body.username : "";
  const password = typeof body.password === "string" ? body.password : "";
  if (!username) throw badRequest("username is required");
  const server = typeof body.serveraddress === "string" && body.serveraddress ? body.serveraddress : undefined;
  try {
    await registryCheckLogin(ctx.engine.root, server, { username, password });
  } catch (e) {
    throw registryStatus(e);
  }
  sendJson(ctx.res!, 200, { Status: "Login Succeeded", IdentityToken: "" });
}
