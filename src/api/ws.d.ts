// The part of the `ws` package's API the service uses (Bun ships `ws` built in, so there is no
// npm package and no @types/ws): a server without its own listener, upgrading node:http requests.
declare module "ws" {
  import type { IncomingMessage } from "node:http";
  import type { Duplex } from "node:stream";
  import type { EventEmitter } from "node:events";

  export class WebSocket extends EventEmitter {
    readonly bufferedAmount: number;
    readonly readyState: number;
    send(data: Uint8Array | string, opts?: { binary?: boolean }, cb?: (err?: Error) => void): void;
    close(code?: number, reason?: string): void;
    terminate(): void;
    on(event: "message", fn: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): this;
    on(event: "close", fn: (code: number, reason: Buffer) => void): this;
    on(event: "error", fn: (err: Error) => void): this;
  }

  export class WebSocketServer extends EventEmitter {
    constructor(opts: { noServer: true; maxPayload?: number; perMessageDeflate?: boolean });
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: WebSocket) => void): void;
  }
}
