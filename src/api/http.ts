// HTTP plumbing of the Docker Engine API service: errors as Docker sends them, request bodies
// read with a size limit, JSON and streamed responses.
import type { IncomingMessage, ServerResponse } from "node:http";
import { EngineError, NotFoundError, UsageError } from "../engine/index.ts";

/** The largest JSON body accepted (create, exec, update…). Archives and image tarballs stream. */
export const JSON_BODY_LIMIT = 4 * 1024 * 1024;

/** An error with the HTTP status Docker gives it. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export const badRequest = (msg: string) => new ApiError(400, msg);
export const notFound = (msg: string) => new ApiError(404, msg);
export const conflict = (msg: string) => new ApiError(409, msg);

// Engine errors carry docker's wording, not a status: the wording decides which of Docker's
// statuses applies (a name in use, a container in the wrong state: 409).
const CONFLICT = /conflict|is not running|is already paused|is not paused|is paused|cannot remove a|is in use|being used|image is referenced/i;

/** The status and message an error answers with. */
export function statusOf(e: unknown): { status: number; message: string } {
  if (e instanceof ApiError) return { status: e.status, message: e.message };
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof NotFoundError || /^no such |not found|No such /i.test(message)) return { status: 404, message };
  if (e instanceof UsageError) return { status: 400, message };
  if (e instanceof EngineError && CONFLICT.test(message)) return { status: 409, message };
  if (CONFLICT.test(message)) return { status: 409, message };
  if (e instanceof EngineError && /invalid|must be|bad format|unknown/i.test(message)) return { status: 400, message };
  return { status: 500, message };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, e: unknown): void {
  const { status, message } = statusOf(e);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { message });
}

export function noContent(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

/** The whole body, refused past `limit` bytes (413) so one client cannot fill the memory. */
export async function readBody(req: IncomingMessage, limit = JSON_BODY_LIMIT): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new ApiError(413, `request body too large (the limit is ${limit} bytes)`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** A JSON object body; an empty body is `{}`. Malformed JSON or a non-object is a 400. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req);
  if (body.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(body.toString("utf8"));
  } catch (e) {
    throw badRequest(`invalid JSON body: ${(e as Error).message}`);
  }
  if (v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw badRequest("invalid JSON body: expected an object");
  return v as Record<string, unknown>;
}

/** Query parameters with Docker's boolean spelling (1/true/True; absent or 0/false is false). */
export class Query {
  constructor(readonly params: URLSearchParams) {}
  str(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }
  bool(name: string, dflt = false): boolean {
    const v = this.params.get(name);
    if (v === null) return dflt;
    return !["", "0", "false", "False", "FALSE", "no"].includes(v);
  }
  int(name: string): number | undefined {
    const v = this.params.get(name);
    if (v === null || v === "") return undefined;
    if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${name}: ${JSON.stringify(v)} is not an integer`);
    return Number(v);
  }
  /** `filters`: JSON {"key": ["v", …]} or the older {"key": {"v": true}}. */
  filters(): Record<string, string[]> {
    const raw = this.params.get("filters");
    if (!raw) return {};
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      throw badRequest(`invalid filters: ${raw}`);
    }
    if (!v || typeof v !== "object" || Array.isArray(v)) throw badRequest(`invalid filters: ${raw}`);
    const out: Record<string, string[]> = {};
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (Array.isArray(val)) out[k] = val.map(String);
      else if (val && typeof val === "object") out[k] = Object.entries(val as Record<string, unknown>).filter(([, on]) => on).map(([x]) => x);
      else throw badRequest(`invalid filters: ${raw}`);
    }
    return out;
  }
}

// ---- typed access to a JSON body: wrong types are a 400 naming the field ----

export function optStr(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw badRequest(`json: cannot unmarshal ${typeof v} into field ${key} of type string`);
  return v;
}

export function optNum(o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw badRequest(`json: cannot unmarshal ${typeof v} into field ${key} of type number`);
  return v;
}

export function optBool(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw badRequest(`json: cannot unmarshal ${typeof v} into field ${key} of type bool`);
  return v;
}

export function optStrList(o: Record<string, unknown>, key: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw badRequest(`json: cannot unmarshal into field ${key} of type []string`);
  return v as string[];
}

export function optObj(o: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw badRequest(`json: cannot unmarshal into field ${key} of type object`);
  return v as Record<string, unknown>;
}

