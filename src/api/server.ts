// `berth system service`: the Docker Engine API on a unix socket, over the engine library.
// node:http rather than Bun.serve: attach and exec need the raw connection after `101 UPGRADED`
// (Docker's hijack), with half-close of the client's side, which Bun.serve cannot hand over.
// Every request is its own async task; nothing a handler waits on (an attach, a log follow, a
// lock) blocks another request.
import { chmodSync, chownSync, existsSync, lstatSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type ListenOptions, type Server as NetServer } from "node:net";
import type { Duplex } from "node:stream";
import { chooseInherited, inheritedSockets, type InheritedSocket } from "./activation.ts";
import type { Engine } from "../engine/index.ts";
import { Events } from "./events.ts";
import { ApiError, Query, sendError, statusOf } from "./http.ts";
import { Router, requestVersion, splitVersion, type Ctx } from "./router.ts";
import { containerRoutes } from "./containers.ts";
import { systemRoutes } from "./system.ts";
import { imageRoutes } from "./images.ts";
import { volumeRoutes } from "./volumes.ts";
import { networkRoutes } from "./networks.ts";
import { setBerthCommand } from "./exec.ts";
import { removeDeadApiTemps } from "./temp.ts";

export interface ServiceOptions {
  engine: Engine;
  /** unix:///path/docker.sock or tcp://127.0.0.1:PORT */
  host: string;
  /** Exit after this many idle seconds (0: never). */
  idleSeconds: number;
  /** Group id that gets the socket (mode 0660). */
  gid?: number;
  /** argv that runs this berth (exec runs through it). */
  berthCommand: string[];
  log?: (msg: string) => void;
  /** The sockets systemd passed (default: read from LISTEN_FDS/LISTEN_PID). */
  inherited?: InheritedSocket[];
}

export type Listen = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number } | { kind: "fd"; spec: string };

/** Parses --host: unix paths, TCP on a loopback address only (the API has no authentication), or
 *  fd://[NAME|FD]: a socket systemd passed (socket activation, activation.ts). */
export function parseHost(host: string): Listen {
  if (host.startsWith("fd://")) return { kind: "fd", spec: host.slice("fd://".length) };
  if (host.startsWith("unix://")) {
    const path = host.slice("unix://".length);
    if (!path.startsWith("/")) throw new ApiError(400, `--host ${host}: the socket path must be absolute`);
    return { kind: "unix", path };
  }
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:]+):(\d+)$/.exec(host);
  if (m) {
    const addr = m[1]!.replace(/^\[|\]$/g, "");
    if (addr !== "127.0.0.1" && addr !== "::1" && addr !== "localhost") {
      throw new ApiError(400, `--host ${host}: refusing to serve the API unauthenticated on a non-loopback address (no TLS); use 127.0.0.1 or a unix socket`);
    }
    return { kind: "tcp", host: addr, port: Number(m[2]) };
  }
  throw new ApiError(400, `--host ${host}: use unix:///PATH, tcp://127.0.0.1:PORT or fd:// (systemd socket activation)`);
}

export function buildRouter(): Router {
  const r = new Router();
  systemRoutes(r);
  containerRoutes(r);
  imageRoutes(r);
  volumeRoutes(r);
  networkRoutes(r);
  return r;
}

export interface Service {
  server: Server;
  closed: Promise<void>;
  close(): void;
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const listen = parseHost(opts.host);
  const router = buildRouter();
  setBerthCommand(opts.berthCommand);
  removeDeadApiTemps();
  const events = new Events(opts.engine.root);
  let active = 0;
  let lastActive = Date.now();
  // An idle service gives its garbage back (a full collection shrinks the heap): after start-up,
  // and each time it falls idle for 2 s.
  let idleGc: ReturnType<typeof setTimeout> | undefined;
  const collectWhenIdle = () => {
    clearTimeout(idleGc);
    idleGc = setTimeout(() => { if (active === 0) Bun.gc(true); }, 2000);
    idleGc.unref();
  };

  const dispatch = async (req: IncomingMessage, res: ServerResponse | undefined, socket?: Duplex, head?: Buffer) => {
    active++;
    try {
      const url = new URL(req.url ?? "/", "http://docker");
      const { version, path } = splitVersion(url.pathname);
      const served = requestVersion(version);
      const found = router.match(req.method ?? "GET", path);
      if (found === "not-found") throw new ApiError(404, `page not found`);
      if (found === "method") throw new ApiError(405, `method ${req.method} not allowed for ${path}`);
      const ctx: Ctx = {
        engine: opts.engine, events, req, res, socket, head, params: found.params, query: new Query(url.searchParams),
        version: served,
      };
      await found.handler(ctx);
    } catch (e) {
      if (res) sendError(res, e);
      else if (socket && !socket.destroyed) {
        const { status, message } = statusOf(e);
        const body = JSON.stringify({ message });
        socket.end(`HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }
      const { status, message } = statusOf(e);
      if (status >= 500) opts.log?.(`${req.method} ${req.url}: ${message}`);
    } finally {
      active--;
      lastActive = Date.now();
      if (active === 0) collectWhenIdle();
    }
  };

  const server = createServer((req, res) => { void dispatch(req, res); });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => { void dispatch(req, undefined, socket, head); });
  server.on("clientError", (_e, socket: Duplex) => {
    if (!socket.destroyed) socket.end("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 31\r\n\r\n{\"message\":\"malformed request\"}");
  });
  server.keepAliveTimeout = 60_000;

  // Under socket activation the listening socket is systemd's: node:http's listen({fd}) binds a
  // TCP port instead in Bun 1.4, node:net's accepts on the fd, so node:net accepts and each
  // connection is handed to the HTTP server (upgrades included).
  let acceptor: NetServer | undefined;
  if (listen.kind === "fd") {
    const { fd } = chooseInherited(listen.spec, opts.inherited ?? inheritedSockets());
    // allowHalfOpen: a client half-closing its side (stdin EOF on a hijacked attach) must not close ours.
    const net = createNetServer({ allowHalfOpen: true }, (conn) => { server.emit("connection", conn); });
    acceptor = net;
    await new Promise<void>((resolve, reject) => {
      net.once("error", reject);
      net.listen({ fd } as ListenOptions, () => resolve());
    });
  } else if (listen.kind === "unix") {
    // A stale socket from a killed service is replaced; anything else at that path is not.
    if (existsSync(listen.path)) {
      if (!lstatSync(listen.path).isSocket()) throw new ApiError(400, `${listen.path} exists and is not a socket`);
      rmSync(listen.path);
    }
    // Created 0660 (umask), never briefly wider; chmod again in case the umask is ignored.
    const umask = process.umask(0o117);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(listen.path, () => resolve());
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(listen.path, 0o660);
    if (opts.gid !== undefined) chownSync(listen.path, 0, opts.gid);
  } else {
    opts.log?.(`WARNING: serving the Docker API on tcp://${listen.host}:${listen.port} without authentication: any local user can control containers`);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(listen.port, listen.host, () => resolve());
    });
  }

  collectWhenIdle();

  let resolveClosed = () => {};
  const closed = new Promise<void>((r) => { resolveClosed = r; });
  let idleTimer: ReturnType<typeof setInterval> | undefined;
  const close = () => {
    if (idleTimer) clearInterval(idleTimer);
    if (acceptor) acceptor.close();
    else server.close(() => resolveClosed());
    server.closeAllConnections?.();
    // An activated socket stays: it is systemd's, which starts the service again on the next connection.
    if (listen.kind === "unix") rmSync(listen.path, { force: true });
    resolveClosed();
  };
  if (opts.idleSeconds > 0) {
    idleTimer = setInterval(() => {
      if (active === 0 && Date.now() - lastActive > opts.idleSeconds * 1000) close();
    }, Math.min(1000, opts.idleSeconds * 1000));
  }
  return { server, closed, close };
}
