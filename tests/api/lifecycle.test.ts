// The service's own life: it exits after --time idle seconds (removing its socket), and killing
// it with SIGKILL loses nothing: the containers run on, the CLI sees them, and a new service on
// the same path (the stale socket replaced) drives them.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BERTH, berth } from "../engine/helpers.ts";
import { startTestService, type TestService } from "./helpers.ts";

let s: TestService;
beforeAll(async () => { s = await startTestService(); });
afterAll(async () => { await s?.stop(); });

test("SIGKILL of the service loses nothing; a new service takes the stale socket's path", async () => {
  expect(s.docker(["run", "-d", "--network", "none", "--name", "survivor", "busybox", "sleep", "1000"]).code).toBe(0);
  s.proc.kill("SIGKILL");
  await s.proc.exited;
  expect(berth(s.root, ["ps", "--format", "{{.Names}} {{.State}}"]).stdout).toContain("survivor running");
  expect(existsSync(s.socket)).toBe(true); // stale
  const again = Bun.spawn([BERTH, "--root", s.root, "system", "service", "--host", `unix://${s.socket}`], { env: { ...process.env, ...s.env }, stdio: ["ignore", "ignore", "pipe"] });
  s.proc = again;
  let r = s.docker(["ps", "--format", "{{.Names}}"]);
  for (let i = 0; i < 100 && r.code !== 0; i++) {
    await Bun.sleep(50);
    r = s.docker(["ps", "--format", "{{.Names}}"]);
  }
  expect(r.stdout.trim()).toBe("survivor");
  expect(s.docker(["rm", "-f", "survivor"]).code).toBe(0);
  expect(berth(s.root, ["ps", "-aq"]).stdout.trim()).toBe("");
});

test("--time: the service exits once idle that long, and removes its socket", async () => {
  const sock = `${s.dir}/idle.sock`;
  const idle = Bun.spawn([BERTH, "--root", s.root, "system", "service", "--host", `unix://${sock}`, "--time", "1"], { env: { ...process.env, ...s.env }, stdio: ["ignore", "ignore", "pipe"] });
  expect(await idle.exited).toBe(0);
  expect(existsSync(sock)).toBe(false);
});

test("a new service removes the upload temporaries of a dead one, and nothing else", async () => {
  const dead = join(tmpdir(), "berth-api-load-999999999.1-abcdefabcdef");
  const other = join(tmpdir(), `berth-api-notours-${process.pid}`);
  mkdirSync(dead, { recursive: true });
  mkdirSync(other, { recursive: true });
  try {
    const sock = `${s.dir}/sweep.sock`;
    const svc = Bun.spawn([BERTH, "--root", s.root, "system", "service", "--host", `unix://${sock}`, "--time", "1"], { env: { ...process.env, ...s.env }, stdio: ["ignore", "ignore", "pipe"] });
    await svc.exited;
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(other)).toBe(true);
  } finally {
    rmSync(dead, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  }
});
