// distribution's token auth, as Docker Hub does it: docker-registry answers 401 with a Bearer
// challenge naming a realm (a token server this test serves), berth asks it for a token for the
// scopes the operation needs — with the credentials of `berth login` — and the registry checks
// the token's signature (a key whose certificate is its rootcertbundle) and the actions it grants.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createSign, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { berthAsync as berth, freePort, type Registry, startRegistry } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "berth-token-"));
const env = { DOCKER_CONFIG: join(dir, "docker") };
const SERVICE = "berth-test-registry";
const ISSUER = "berth-test-issuer";
let reg: Registry;
let root: string;
let tokens: ReturnType<typeof Bun.serve>;
const asked: Array<{ user: string | null; scopes: string[]; service: string | null }> = [];

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

function makeToken(key: string, certDer: Buffer, user: string, access: Array<{ type: string; name: string; actions: string[] }>): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", x5c: [certDer.toString("base64")] }));
  const claims = b64url(JSON.stringify({ iss: ISSUER, sub: user, aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
  const sig = createSign("RSA-SHA256").update(`${header}.${claims}`).sign(key);
  return `${header}.${claims}.${b64url(sig)}`;
}

beforeAll(async () => {
  const key = join(dir, "key.pem"), cert = join(dir, "cert.pem");
  const r = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=berth-test-token", "-keyout", key, "-out", cert], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  const pem = readFileSync(cert, "utf8");
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  const keyPem = readFileSync(key, "utf8");
  const port = freePort();
  tokens = Bun.serve({
    hostname: "127.0.0.1", port,
    fetch(req) {
      const u = new URL(req.url);
      const basic = req.headers.get("authorization");
      const [user, pass] = basic?.startsWith("Basic ") ? Buffer.from(basic.slice(6), "base64").toString().split(":") : [null, null];
      const scopes = u.searchParams.getAll("scope");
      asked.push({ user: user ?? null, scopes, service: u.searchParams.get("service") });
      if (user !== null && !(user === "alice" && pass === "pw")) return new Response("bad credentials", { status: 401 });
      // alice gets what she asks for; anonymous gets nothing (the registry then says 401)
      const access = user === "alice"
        ? scopes.map((s) => {
          const [type, name, actions] = s.split(":");
          return { type: type!, name: name!, actions: actions!.split(",") };
        })
        : [];
      const token = makeToken(keyPem, der, user ?? "", access);
      return Response.json({ token, access_token: token, expires_in: 300 });
    },
  });
  reg = await startRegistry({ token: { realm: `http://127.0.0.1:${port}/token`, service: SERVICE, issuer: ISSUER, rootcertbundle: cert } });
  root = await engineRoot();
});

afterAll(async () => {
  tokens?.stop(true);
  await reg?.stop();
  if (root) cleanupRoot(root);
  rmSync(dir, { recursive: true, force: true });
});

test("anonymous: the token grants nothing and the push is refused, saying to log in", async () => {
  const name = `${reg.host}/tok/busybox:1`;
  expect((await berth(root, ["tag", "busybox", name])).code).toBe(0);
  const r = await berth(root, ["push", name], { env });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`run \`berth login ${reg.host}\` first`);
  expect(asked.at(-1)!.service).toBe(SERVICE);
});

test("logged in: tokens for the scopes each step needs; push, cross-repository mount, pull", async () => {
  const li = await berth(root, ["login", "-u", "alice", "--password-stdin", reg.host], { env, stdin: "pw" });
  expect(li.stderr).toBe("");
  expect(li.stdout).toBe("Login Succeeded\n");
  asked.length = 0;
  const name = `${reg.host}/tok/busybox:1`;
  const push = await berth(root, ["push", name], { env });
  expect(push.stderr).toBe("");
  expect(push.code).toBe(0);
  expect(asked.every((a) => a.user === "alice")).toBe(true);
  expect(asked.some((a) => a.scopes.includes("repository:tok/busybox:pull,push"))).toBe(true);

  asked.length = 0;
  const other = `${reg.host}/tok/other:2`;
  expect((await berth(root, ["tag", name, other])).code).toBe(0);
  const mount = await berth(root, ["push", other], { env });
  expect(mount.code).toBe(0);
  expect(mount.stdout).toContain("Mounted from tok/busybox");
  expect(asked.some((a) => a.scopes.includes("repository:tok/other:pull,push") && a.scopes.includes("repository:tok/busybox:pull"))).toBe(true);

  const r2 = mkdtempSync(join(tmpdir(), "berth-token-pull-"));
  try {
    asked.length = 0;
    const pull = await berth(r2, ["pull", "-q", other], { env });
    expect(pull.stderr).toBe("");
    expect(pull.stdout).toBe(`${other}\n`);
    expect(asked.some((a) => a.scopes.includes("repository:tok/other:pull"))).toBe(true);
  } finally {
    rmSync(r2, { recursive: true, force: true });
  }
});
