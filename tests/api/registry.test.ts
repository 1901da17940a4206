// docker pull / push / login through the service, against Debian's docker-registry on loopback
// (tests/registry's helpers): the engine's registry code behind POST /images/create, /push, /auth,
// with the client's credentials from X-Registry-Auth.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { berth } from "../engine/helpers.ts";
import { type Registry, startRegistry } from "../registry/helpers.ts";
import { startTestService, type TestService } from "./helpers.ts";

let s: TestService;
let open: Registry;
let locked: Registry;
beforeAll(async () => {
  s = await startTestService();
  open = await startRegistry();
  locked = await startRegistry({ user: "alice", password: "s3cret" });
});
afterAll(async () => {
  await s?.stop();
  await open?.stop();
  await locked?.stop();
});

test("docker push, rmi, docker pull: the same image back, Docker's progress lines, pull and push events", async () => {
  const name = `${open.host}/busybox`;
  expect(s.docker(["tag", "busybox", name]).code).toBe(0);
  const id = s.docker(["image", "inspect", "--format", "{{.Id}}", name]).stdout.trim();
  const pushed = s.docker(["push", name]);
  expect(pushed.stderr).toBe("");
  expect(pushed.code).toBe(0);
  expect(pushed.stdout).toContain(`The push refers to repository [${name}]`);
  expect(pushed.stdout).toMatch(/Pushed/);
  expect(pushed.stdout).toMatch(/latest: digest: sha256:[0-9a-f]{64} size: \d+/);

  expect(s.docker(["rmi", name]).code).toBe(0);
  expect(s.docker(["rmi", "busybox"]).code).toBe(0);
  expect(s.docker(["images", "-q"]).stdout.trim()).toBe("");
  const pulled = s.docker(["pull", name]);
  expect(pulled.stderr).toBe("");
  expect(pulled.code).toBe(0);
  expect(pulled.stdout).toContain("latest: Pulling from busybox");
  expect(pulled.stdout).toContain("Pull complete");
  expect(pulled.stdout).toMatch(/Digest: sha256:[0-9a-f]{64}/);
  expect(pulled.stdout).toContain(`Status: Downloaded newer image for ${name}:latest`);
  expect(s.docker(["image", "inspect", "--format", "{{.Id}}", name]).stdout.trim()).toBe(id);
  // the CLI's berth sees it too: one engine
  expect(berth(s.root, ["images", "--format", "{{.Repository}}"], { env: s.env }).stdout).toContain(name);
  const run = s.docker(["run", "--rm", "--network", "none", name, "echo", "pulled"]);
  expect(run.stdout).toBe("pulled\n");
  expect(s.docker(["pull", name]).stdout).toContain(`Status: Image is up to date for ${name}:latest`);

  // the raw stream: JSON lines with id and progressDetail
  const res = await s.api("POST", `/images/create?fromImage=${encodeURIComponent(name)}&tag=latest`);
  expect(res.status).toBe(200);
  const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines[0]).toEqual({ status: "Pulling from busybox", id: "latest" });
  expect(lines.at(-1)!.status).toBe(`Status: Image is up to date for ${name}:latest`);

  const ev = s.docker(["events", "--since", "0", "--until", String(Math.floor(Date.now() / 1000) + 1), "--filter", "type=image", "--format", "{{.Action}} {{.Actor.Attributes.name}}"]);
  expect(ev.stdout).toContain(`push ${name}:latest\n`);
  expect(ev.stdout).toContain(`pull ${name}:latest\n`);
});

test("docker run of an image that is not here: create answers 404 (it never pulls), the CLI pulls and runs it", async () => {
  const name = `${open.host}/runme:2`;
  expect(s.docker(["tag", `${open.host}/busybox`, name]).code).toBe(0);
  expect(s.docker(["push", name]).code).toBe(0);
  expect(s.docker(["rmi", name]).code).toBe(0);
  const direct = await s.api("POST", "/containers/create", { Image: name, Cmd: ["true"] });
  expect(direct.status).toBe(404);
  const run = s.docker(["run", "--rm", "--network", "none", name, "echo", "ran"]);
  expect(run.code).toBe(0);
  expect(run.stdout).toBe("ran\n");
  expect(run.stderr).toContain(`Unable to find image '${name}' locally`);
  expect(run.stderr).toContain(`Status: Downloaded newer image for ${name}`);
  // berth's own pull and push record the same events (one engine, one event log)
  expect(berth(s.root, ["push", name], { env: s.env }).code).toBe(0);
  expect(berth(s.root, ["pull", name], { env: s.env }).code).toBe(0);
  const ev = s.docker(["events", "--since", "0", "--until", String(Math.floor(Date.now() / 1000) + 1), "--filter", "type=image",
    "--filter", `image=${name}`, "--format", "{{.Action}} {{.Actor.ID}}"]);
  expect(ev.stdout.split("\n").filter((l) => l === `pull ${name}`).length).toBe(2);
  expect(ev.stdout.split("\n").filter((l) => l === `push ${name}`).length).toBe(2);
});

test("docker pull -a: no tag asks for every tag of the repository (Docker's API)", () => {
  for (const t of ["a", "b"]) expect(s.docker(["tag", `${open.host}/busybox`, `${open.host}/multi:${t}`]).code).toBe(0);
  expect(s.docker(["push", "-a", `${open.host}/multi`]).code).toBe(0);
  expect(s.docker(["rmi", `${open.host}/multi:a`, `${open.host}/multi:b`]).code).toBe(0);
  const r = s.docker(["pull", "-a", `${open.host}/multi`]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("a: Pulling from multi");
  expect(r.stdout).toContain("b: Pulling from multi");
  expect(r.stdout).toContain(`Status: Downloaded newer image for ${open.host}/multi`);
  expect(s.docker(["images", "--format", "{{.Tag}}", `${open.host}/multi`]).stdout.split("\n").filter(Boolean).sort()).toEqual(["a", "b"]);
});

test("an image the registry does not have: 404 before any output; docker pull says so", async () => {
  const r = await s.api("POST", `/images/create?fromImage=${encodeURIComponent(`${open.host}/nothing`)}&tag=1`);
  expect(r.status).toBe(404);
  expect(((await r.json()) as { message: string }).message).toMatch(/not found|unknown/i);
  const d = s.docker(["pull", `${open.host}/nothing:1`]);
  expect(d.code).not.toBe(0);
  expect(d.stderr).toMatch(/not found|unknown/i);
  const p = await s.api("POST", `/images/${encodeURIComponent(`${open.host}/absent`)}/push?tag=x`);
  expect(p.status).toBe(404);
  expect(((await p.json()) as { message: string }).message).toContain("An image does not exist locally with the tag");
});

test("docker login checks the credentials (the service keeps none); push and pull carry them in X-Registry-Auth", async () => {
  const bad = s.docker(["login", "-u", "alice", "--password-stdin", locked.host], { stdin: "wrong\n" });
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toMatch(/unauthorized|401/i);
  const authBad = await s.api("POST", "/auth", { username: "alice", password: "wrong", serveraddress: locked.host });
  expect(authBad.status).toBe(401);

  const name = `${locked.host}/private/busybox:1`;
  expect(s.docker(["tag", `${open.host}/busybox`, name]).code).toBe(0);
  // not logged in: the registry refuses the push
  const anon = s.docker(["push", name], { timeoutMs: 20_000 });
  expect(anon.code).not.toBe(0);
  expect(anon.stderr + anon.stdout).toMatch(/unauthorized|authentication required|requires authentication/i);

  const ok = s.docker(["login", "-u", "alice", "--password-stdin", locked.host], { stdin: "s3cret\n" });
  expect(ok.stderr).not.toMatch(/error/i);
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain("Login Succeeded");
  const pushed = s.docker(["push", name]);
  expect(pushed.stderr).toBe("");
  expect(pushed.code).toBe(0);
  expect(pushed.stdout).toMatch(/1: digest: sha256:[0-9a-f]{64}/);
  expect(s.docker(["rmi", name]).code).toBe(0);
  const pulled = s.docker(["pull", name]);
  expect(pulled.stderr).toBe("");
  expect(pulled.code).toBe(0);
  expect(pulled.stdout).toContain(`Status: Downloaded newer image for ${name}`);

  // the raw header: credentials as base64url JSON; a malformed one is a 400
  const hdr = Buffer.from(JSON.stringify({ username: "alice", password: "s3cret", serveraddress: locked.host })).toString("base64url");
  const raw = await s.api("POST", `/images/create?fromImage=${encodeURIComponent(`${locked.host}/private/busybox`)}&tag=1`, undefined, { "X-Registry-Auth": hdr });
  expect(raw.status).toBe(200);
  expect(await raw.text()).toContain("Image is up to date");
  const noCreds = await s.api("POST", `/images/create?fromImage=${encodeURIComponent(`${locked.host}/private/busybox`)}&tag=1`, undefined, { "X-Registry-Auth": "e30=" });
  expect(noCreds.status).toBe(404);
  expect(((await noCreds.json()) as { message: string }).message).toContain(`pull access denied for ${locked.host}/private/busybox`);
  const garbage = await s.api("POST", `/images/create?fromImage=${encodeURIComponent(`${locked.host}/private/busybox`)}&tag=1`, undefined, { "X-Registry-Auth": "%%%" });
  expect(garbage.status).toBe(400);
});
