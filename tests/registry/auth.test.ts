// Basic auth against docker-registry with htpasswd: login checks the credentials before keeping
// them in docker's config.json ($DOCKER_CONFIG), push and pull use them, logout removes them.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { berthAsync as berth, type Registry, startRegistry } from "./helpers.ts";

let reg: Registry;
let root: string;
const dockerConfig = mkdtempSync(join(tmpdir(), "berth-docker-config-"));
const env = { DOCKER_CONFIG: dockerConfig };

beforeAll(async () => {
  reg = await startRegistry({ user: "alice", password: "s3cret pass" });
  root = await engineRoot();
});

afterAll(async () => {
  await reg?.stop();
  if (root) cleanupRoot(root);
  rmSync(dockerConfig, { recursive: true, force: true });
});

test("without credentials: refused, saying to log in", async () => {
  const name = `${reg.host}/private/busybox:1`;
  expect((await berth(root, ["tag", "busybox", name])).code).toBe(0);
  const r = await berth(root, ["push", name], { env });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`unauthorized: ${reg.host} requires authentication; run \`berth login ${reg.host}\` first`);
});

test("login with a wrong password fails and keeps nothing", async () => {
  const r = await berth(root, ["login", "-u", "alice", "--password-stdin", reg.host], { env, stdin: "wrong\n" });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("unauthorized");
  expect(existsSync(join(dockerConfig, "config.json"))).toBe(false);
});

test("login, push, pull, logout: credentials in docker's config.json format", async () => {
  writeFileSync(join(dockerConfig, "config.json"), JSON.stringify({ auths: {}, credsStore: "", psFormat: "table {{.ID}}" }));
  const li = await berth(root, ["login", "-u", "alice", "--password-stdin", reg.host], { env, stdin: "s3cret pass\n" });
  expect(li.stderr).toBe("");
  expect(li.stdout).toBe("Login Succeeded\n");
  const cfg = JSON.parse(readFileSync(join(dockerConfig, "config.json"), "utf8"));
  expect(cfg.auths[reg.host].auth).toBe(Buffer.from("alice:s3cret pass").toString("base64"));
  expect(cfg.psFormat).toBe("table {{.ID}}"); // the rest of the file is kept

  const name = `${reg.host}/private/busybox:1`;
  const push = await berth(root, ["push", name], { env });
  expect(push.stderr).toBe("");
  expect(push.code).toBe(0);
  const id = (await berth(root, ["images", "-q", "--no-trunc", name])).stdout.trim();
  expect((await berth(root, ["rmi", "-f", name, "busybox"])).code).toBe(0);
  const pull = await berth(root, ["pull", "-q", name], { env });
  expect(pull.stderr).toBe("");
  expect(pull.stdout).toBe(`${name}\n`);
  expect((await berth(root, ["images", "-q", "--no-trunc", name])).stdout.trim()).toBe(id);

  const lo = await berth(root, ["logout", reg.host], { env });
  expect(lo.stdout).toBe(`Removing login credentials for ${reg.host}\n`);
  expect(JSON.parse(readFileSync(join(dockerConfig, "config.json"), "utf8")).auths[reg.host]).toBeUndefined();
  expect((await berth(root, ["logout", reg.host], { env })).stdout).toBe(`Not logged in to ${reg.host}\n`);
  const denied = await berth(root, ["pull", name], { env });
  expect(denied.code).toBe(1);
  expect(denied.stderr).toContain("unauthorized");
});

test("a registry that speaks only HTTPS (self-signed, on loopback): pushed and pulled over TLS", async () => {
  const tlsReg = await startRegistry({ tls: true });
  try {
    const name = `${tlsReg.host}/tls/busybox:1`;
    const r2 = mkdtempSync(join(tmpdir(), "berth-tls-"));
    try {
      expect((await berth(root, ["tag", `${reg.host}/private/busybox:1`, name])).code).toBe(0);
      const push = await berth(root, ["push", "-q", name]);
      expect(push.stderr).toBe("");
      expect(push.code).toBe(0);
      const pull = await berth(r2, ["pull", "-q", name]);
      expect(pull.stderr).toBe("");
      expect(pull.stdout).toBe(`${name}\n`);
      // --tls-verify: the certificate is checked against the system CA store plus
      // NODE_EXTRA_CA_CERTS — unknown, refused; named there, accepted
      const unknown = await berth(r2, ["pull", "--tls-verify", name], { env: { NODE_EXTRA_CA_CERTS: "" } });
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/cannot reach 127\.0\.0\.1:\d+ \(https:\/\/127\.0\.0\.1:\d+\): .*(certificate|self.signed)/i);
      const trusted = await berth(r2, ["pull", "-q", "--tls-verify", name], { env: { NODE_EXTRA_CA_CERTS: join(tlsReg.dir, "cert.pem") } });
      expect(trusted.stderr).toBe("");
      expect(trusted.stdout).toBe(`${name}\n`);
    } finally {
      rmSync(r2, { recursive: true, force: true });
    }
  } finally {
    await tlsReg.stop();
  }
});

