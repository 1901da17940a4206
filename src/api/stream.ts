// The two ways a stream reaches the client: a hijacked connection (`Upgrade: tcp` answered with
// `101 UPGRADED`; the client writes stdin on it and half-closes it at EOF), or a plain response
// that streams output only.
import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Ctx } from "./router.ts";
import { muxFrame } from "../engine/index.ts";
import { ApiError } from "./http.ts";

/** Output queued for a client that does not read: past this the client is dropped (the container
 *  runs on, its log keeps everything) rather than letting the service's memory grow without bound. */
export const STREAM_BACKLOG_LIMIT = 16 * 1024 * 1024;

export interface ClientStream {
  /** Output to the client: raw with a TTY, else in Docker's multiplexed frames. */
  out(stream: "stdout" | "stderr", data: Uint8Array): void;
  /** Stdin from the client (hijacked only). */
  onInput(fn: (data: Buffer) => void): void;
  /** The client closed its side (stdin EOF). */
  onInputEnd(fn: () => void): void;
  /** The client went away. */
  onGone(fn: () => void): void;
  end(): void;
  readonly gone: boolean;
}

/** Opens the stream: 101 on a hijack, else 200 with the stream's content type. `live`: output
 *  that cannot wait (attach, exec) drops a client that stops reading; a log read is bounded. */
export function openClientStream(ctx: Ctx, tty: boolean, live = true): ClientStream {
  const limit = live ? STREAM_BACKLOG_LIMIT : Infinity;
  const type = tty || ctx.version < 1.42 ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
  const encode = (stream: "stdout" | "stderr", data: Uint8Array) => (tty ? data : muxFrame(stream === "stderr" ? 2 : 1, data));
  if (ctx.socket) return hijacked(ctx.socket, ctx.head, type, encode, limit);
  return response(ctx.res!, type, encode, limit);
}

function hijacked(sock: Duplex, head: Buffer | undefined, type: string, encode: (s: "stdout" | "stderr", d: Uint8Array) => Uint8Array, limit: number): ClientStream {
  let gone = false;
  const goneFns: (() => void)[] = [];
  const markGone = () => {
    if (gone) return;
    gone = true;
    for (const f of goneFns) f();
  };
  sock.on("close", markGone);
  sock.on("error", markGone);
  (sock as unknown as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  sock.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
  const early = head && head.length ? head : null;
  return {
    out(stream, data) {
      if (gone) return;
      if (sock.writableLength > limit) { sock.destroy(); markGone(); return; }
      sock.write(encode(stream, data));
    },
    onInput(fn) {
      if (early) fn(early);
      sock.on("data", fn);
    },
    onInputEnd(fn) { sock.on("end", fn); },
    onGone(fn) { goneFns.push(fn); },
    end() { if (!gone) sock.end(); },
    get gone() { return gone; },
  };
}

function response(res: ServerResponse, type: string, encode: (s: "stdout" | "stderr", d: Uint8Array) => Uint8Array, limit: number): ClientStream {
  let gone = false;
  const goneFns: (() => void)[] = [];
  res.on("close", () => {
    gone = true;
    for (const f of goneFns) f();
  });
  res.writeHead(200, { "Content-Type": type });
  res.flushHeaders();
  return {
    out(stream, data) {
      if (gone) return;
      if (res.writableLength > limit) { res.destroy(); return; }
      res.write(encode(stream, data));
    },
    onInput() {},
    onInputEnd() {},
    onGone(fn) { goneFns.push(fn); },
    end() { if (!res.writableEnded) res.end(); },
    get gone() { return gone; },
  };
}

/** Docker's detach keys ("ctrl-p,ctrl-q" by default) as bytes. */
export function parseDetachKeys(spec: string | undefined): number[] {
  const s = spec ?? "ctrl-p,ctrl-q";
  if (s === "") return [];
  return s.split(",").map((k) => {
    const m = /^ctrl-([a-z@\[\\\]^_])$/.exec(k);
    if (m) return m[1]!.charCodeAt(0) & 0x1f;
    if (k.length === 1) return k.charCodeAt(0);
    throw new Error(`invalid detach keys ${JSON.stringify(s)}: use ctrl-<letter> or single characters, comma-separated`);
  });
}

/** Filters stdin for the detach sequence; calls `detach` when it is typed. */
export function detachFilter(keys: number[], detach: () => void): (d: Buffer) => Buffer {
  let matched = 0;
  return (d) => {
    if (keys.length === 0) return d;
    const out: number[] = [];
    for (const b of d) {
      if (b === keys[matched]) {
        matched++;
        if (matched === keys.length) { detach(); return Buffer.from(out); }
        continue;
      }
      if (matched) { out.push(...keys.slice(0, matched)); matched = 0; }
      if (b === keys[0]) { matched = 1; continue; }
      out.push(b);
    }
    return Buffer.from(out);
  };
}

/** Largest websocket message accepted from a client (stdin arrives in small messages). */
const WS_MAX_PAYLOAD = 4 * 1024 * 1024;

/** The websocket form of attach (`GET /containers/{id}/attach/ws`), as Docker serves it: stdin
 *  from the client's messages, stdout and stderr both as messages, never multiplexed; binary
 *  frames from API 1.28 (text before). The client's close is stdin's EOF and the end of the
 *  stream. `ws` (built into Bun) is loaded only here, at the first websocket attach. */
export async function openWebSocketStream(ctx: Ctx): Promise<ClientStream> {
  if (!ctx.socket || !/^websocket$/i.test(String(ctx.req.headers.upgrade ?? ""))) {
    throw new ApiError(400, "this endpoint is a websocket: send the request with Upgrade: websocket");
  }
  const { WebSocketServer } = await import("ws");
  const server = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD, perMessageDeflate: false });
  const ws = await new Promise<import("ws").WebSocket>((resolve) => {
    server.handleUpgrade(ctx.req, ctx.socket!, ctx.head ?? Buffer.alloc(0), resolve);
  });
  const binary = ctx.version >= 1.28;
  let gone = false;
  const goneFns: (() => void)[] = [];
  const endFns: (() => void)[] = [];
  ws.on("close", () => {
    if (gone) return;
    gone = true;
    for (const f of endFns) f();
    for (const f of goneFns) f();
  });
  ws.on("error", () => ws.terminate());
  // Messages before the caller listens (it may replay logs first) wait for it.
  let input: ((d: Buffer) => void) | null = null;
  const early: Buffer[] = [];
  ws.on("message", (d) => {
    const buf = Array.isArray(d) ? Buffer.concat(d) : Buffer.isBuffer(d) ? d : Buffer.from(d);
    if (input) input(buf); else early.push(buf);
  });
  return {
    out(_stream, data) {
      if (gone) return;
      if (ws.bufferedAmount > STREAM_BACKLOG_LIMIT) { ws.terminate(); return; }
      ws.send(binary ? data : Buffer.from(data).toString("utf8"), { binary });
    },
    onInput(fn) {
      input = fn;
      for (const d of early.splice(0)) fn(d);
    },
    onInputEnd(fn) { endFns.push(fn); },
    onGone(fn) { goneFns.push(fn); },
    end() { if (!gone) ws.close(1000); },
    get gone() { return gone; },
  };
}
