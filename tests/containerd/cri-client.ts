// A CRI v1 client as the kubelet is one: gRPC (@grpc/grpc-js) over containerd's unix socket, the
// messages from cri-v1-subset.proto. Calls return promises of the response objects, with the proto's
// field names in lowerCamelCase, int64 as numbers, enums as their names and bytes as Buffers.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";

const PROTO = join(import.meta.dir, "cri-v1-subset.proto");

type Msg = Record<string, unknown>;
type Unary = (req: Msg, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Msg) => void) => void;

export class CriClient {
  private readonly runtime: grpc.Client;
  private readonly image: grpc.Client;

  constructor(socket: string) {
    const def = protoLoader.loadSync(PROTO, { longs: Number, enums: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: Record<string, grpc.ServiceClientConstructor> } };
    const v1 = pkg.runtime.v1;
    const target = `unix://${socket}`;
    this.runtime = new v1.RuntimeService!(target, grpc.credentials.createInsecure());
    this.image = new v1.ImageService!(target, grpc.credentials.createInsecure());
  }

  /** One RuntimeService call; a failed call rejects with the method's name and the server's message. */
  call<T = Msg>(method: string, req: Msg = {}, timeoutMs = 30_000): Promise<T> {
    return this.unary(this.runtime, method, req, timeoutMs);
  }

  /** One ImageService call. */
  callImage<T = Msg>(method: string, req: Msg = {}, timeoutMs = 30_000): Promise<T> {
    return this.unary(this.image, method, req, timeoutMs);
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }

  private unary<T>(client: grpc.Client, method: string, req: Msg, timeoutMs: number): Promise<T> {
    const fn = (client as unknown as Record<string, Unary>)[method];
    if (typeof fn !== "function") throw new Error(`${method} is not in cri-v1-subset.proto`);
    return new Promise((resolve, reject) => {
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new Error(`CRI ${method}: ${err.details || err.message}`));
        else resolve(res as T);
      });
    });
  }
}

// The response fields the tests read.
export interface PodSandboxStatusResponse {
  status: { id: string; state: string; network: { ip: string } | null; runtimeHandler: string; linux: { namespaces: { options: { network: string } } } | null };
  info: Record<string, string>;
}
export interface ContainerStatusResponse {
  status: { id: string; state: string; exitCode: number; reason: string; message: string; logPath: string; startedAt: number; finishedAt: number };
  info: Record<string, string>;
}
export interface ExecSyncResponse { stdout: Buffer; stderr: Buffer; exitCode: number }
