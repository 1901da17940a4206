// Shared by the registry tests: Debian's docker-registry (distribution 2.x) started on a random
// loopback port with its storage in a temp dir (optionally behind htpasswd basic auth), and berth
// run asynchronously — the tests also serve hostile registries and proxies from this process,
// which a blocking spawnSync would starve.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BERTH } from "../engine/helpers.ts";

export interface Registry {
  host: string;   // 127.0.0.1:PORT
  dir: string;
  stop(): Promise<void>;
}

export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

/** tls: a self-signed certificate for 127.0.0.1 (openssl), so the registry speaks only HTTPS. */
/** token: distribution's token auth (a Bearer realm the test serves; tokens signed with the key of `rootcertbundle`). */
export interface TokenAuth {
  realm: string;
  service: string;
  issuer: string;
  rootcertbundle: string;
}

export async function startRegistry(opts: { user?: string; password?: string; tls?: boolean; token?: TokenAuth } = {}): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), "berth-registry-"));
  const port = freePort();
  let auth = "";
  if (opts.user && opts.password) {
    writeFileSync(join(dir, "htpasswd"), `${opts.user}:${Bun.password.hashSync(opts.password, { algorithm: "bcrypt", cost: 4 })}\n`);
    auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${join(dir, "htpasswd")}\n`;
  }
  if (opts.token) {
    const t = opts.token;
    auth = `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${t.rootcertbundle}\n`;
  }
  let tls = "";
  if (opts.tls) {
    const r = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdout: "ignore", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`openssl: ${r.stderr.toString()}`);
    tls = `  tls:\n    certificate: ${join(dir, "cert.pem")}\n    key: ${join(dir, "key.pem")}\n`;
  }
  writeFileSync(join(dir, "config.yml"), `version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: ${join(dir, "data")}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
  secret: berth-test-secret
${tls}${auth}`);
  const proc = Bun.spawn(["docker-registry", "serve", join(dir, "config.yml")], { stdout: Bun.file(join(dir, "log")), stderr: Bun.file(join(dir, "err")) });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(`${opts.tls ? "https" : "http"}://127.0.0.1:${port}/v2/`, { tls: { rejectUnauthorized: false } } as RequestInit);
      if (r.status === 200 || r.status === 401) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      proc.kill();
      throw new Error(`docker-registry did not start on 127.0.0.1:${port}`);
    }
    await Bun.sleep(50);
  }
  return {
    host: `127.0.0.1:${port}`,
    dir,
    stop: async () => {
      proc.kill();
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** `berth --root ROOT ARGS…` without blocking this process's event loop. */
export async function berthAsync(root: string, args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<Result> {
  const p = Bun.spawn([BERTH, "--root", root, ...args], {
    stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
    stdout: "pipe", stderr: "pipe",
    env: { ...process.env, ...opts.env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** skopeo, without blocking either. */
export async function skopeo(args: string[]): Promise<Result> {
  const p = Bun.spawn(["skopeo", ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}
