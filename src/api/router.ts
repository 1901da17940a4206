// Routes of the Docker Engine API: METHOD + path pattern → handler. Paths may carry Docker's
// version prefix (/v1.44/containers/json); the handler sees the version the client asked for.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Engine } from "../engine/index.ts";
import { ApiError, Query } from "./http.ts";
import type { Events } from "./events.ts";

/** The API version this service speaks, and the oldest it still answers. */
export const API_VERSION = "1.44";
export const MIN_API_VERSION = "1.24";

export interface Ctx {
  engine: Engine;
  events: Events;
  req: IncomingMessage;
  /** The response; absent on an upgraded (hijacked) request, which has `socket` instead. */
  res?: ServerResponse;
  /** The raw connection, after the client asked `Upgrade: tcp` (attach, exec start). */
  socket?: Duplex;
  /** Bytes that came after the request's head on a hijacked connection. */
  head?: Buffer;
  params: Record<string, string>;
  query: Query;
  /** The version the client asked for in the path (API_VERSION when unversioned). */
  version: number;
}

export type Handler = (ctx: Ctx) => Promise<void> | void;

interface Route {
  method: string;
  re: RegExp;
  names: string[];
  handler: Handler;
}

export class Router {
  private routes: Route[] = [];

  /** `pattern` like /containers/{id}/json; {name} matches one path segment ({path*}: the rest). */
  on(method: string, pattern: string, handler: Handler): this {
    const names: string[] = [];
    const re = new RegExp("^" + pattern.replace(/\{(\w+)(\*?)\}/g, (_m, n: string, rest: string) => {
      names.push(n);
      return rest ? "(.+)" : "([^/]+)";
    }) + "/?$");
    this.routes.push({ method, re, names, handler });
    return this;
  }

  /** The handler for a request, or why not: 404 for an unknown path, 405 for a known path's wrong method. */
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | "not-found" | "method" {
    let pathKnown = false;
    for (const r of this.routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      pathKnown = true;
      if (r.method !== method && !(method === "HEAD" && r.method === "GET")) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]!); });
      return { handler: r.handler, params };
    }
    return pathKnown ? "method" : "not-found";
  }
}

/** Splits Docker's version prefix off a path: "/v1.44/containers/json" → ["1.44", "/containers/json"]. */
export function splitVersion(path: string): { version: string | null; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
  if (!m) return { version: null, path };
  return { version: m[1]!, path: m[2]! };
}

/** Compares API versions as Docker does, number by number ("1.5" is older than "1.44", not newer). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number), pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** The version a request is served as: the one in its path, checked against what this service
 *  speaks with Docker's messages (both 400s), or API_VERSION for an unversioned path. As a
 *  number for the handlers' comparisons (every accepted version is 1.NN with two digits). */
export function requestVersion(version: string | null): number {
  if (version === null) return Number(API_VERSION);
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new ApiError(400, `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  if (compareVersions(version, API_VERSION) > 0) {
    throw new ApiError(400, `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
  const [major, minor] = version.split(".").map(Number) as [number, number];
  return major + minor / 100;
}
