// The API tests' service: `berth system service` on a temp socket with its own state root,
// driven by the real docker CLI (DOCKER_HOST) and by raw HTTP requests for response shapes.
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BERTH, berth, cleanupRoot, engineRoot, type Result } from "../engine/helpers.ts";
import { freeSubnet } from "../network/lab.ts";

export interface TestService {
  root: string;
  dir: string;
  socket: string;
  env: Record<string, string>;
  proc: ReturnType<typeof Bun.spawn>;
  /** Runs the docker CLI against the service. */
  docker(args: string[], opts?: { stdin?: string; timeoutMs?: number; env?: Record<string, string> }): Result;
  /** One HTTP request over the socket. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

/** `activate`: socket activation as systemd does it: `systemd-socket-activate` binds the socket
 *  and, at the first connection, execs the service with it at fd 3 (LISTEN_FDS, LISTEN_PID,
 *  LISTEN_FDNAMES=docker); the service is given no --host. */
export async function startTestService(extraArgs: string[] = [], opts: { activate?: boolean } = {}): Promise<TestService> {
  const root = await engineRoot();
  const dir = mkdtempSync(join(tmpdir(), "berth-apitest-"));
  const socket = join(dir, "docker.sock");
  const env = { BERTH_NETWORK_PREFIX: `ba${process.pid % 10000}`, BERTH_NETWORK_SUBNET: freeSubnet() };
  const cmd = opts.activate
    ? ["systemd-socket-activate", "-l", socket, "--fdname=docker", BERTH, "--root", root, "system", "service", ...extraArgs]
    : [BERTH, "--root", root, "system", "service", "--host", `unix://${socket}`, ...extraArgs];
  const proc = Bun.spawn(cmd, {
    env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"],
  });
  const deadline = Date.now() + 20_000;
  while (!existsSync(socket)) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`the service did not start: ${await new Response(proc.stderr as ReadableStream).text()}`);
    await Bun.sleep(20);
  }
  const dockerEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, "docker-config") } as Record<string, string>;
  let seq = 0;
  const svc: TestService = {
    root, dir, socket, env, proc,
    docker(args, opts = {}) {
      const base = join(dir, `out-${seq++}`);
      const r = Bun.spawnSync({
        cmd: ["docker", ...args],
        stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
        stdout: "pipe", stderr: "pipe", env: { ...dockerEnv, ...opts.env }, timeout: opts.timeoutMs ?? 60_000,
      });
      void base;
      return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    },
    api(method, path, body, headers = {}) {
      return fetch(`http://docker${path}`, {
        method, unix: socket, headers: { ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === "string" || body instanceof Uint8Array || body instanceof ArrayBuffer ? body : JSON.stringify(body),
      } as RequestInit);
    },
    async stop() {
      // svc.proc, not the first process: a test may have replaced it (a service started anew).
      svc.proc.kill("SIGTERM");
      await svc.proc.exited;
      berth(root, ["system", "reset", "-f"], { env });
      cleanupRoot(root);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return svc;
}

/** The stdout of a docker CLI run that must succeed; its stderr in the error otherwise. */
export function dockerOk(r: { code: number; stdout: string; stderr: string }): string {
  if (r.code !== 0) throw new Error(`docker failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}
