// Healthchecks through the API: docker run's --health-* flags reach the engine (Config.Healthcheck),
// State.Health and "(healthy)" come from the monitor's probes, the health filter selects on them,
// and a change of status is a health_status event.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestService, type TestService } from "./helpers.ts";

let s: TestService;
beforeAll(async () => { s = await startTestService(); });
afterAll(async () => { await s?.stop(); });

async function waitFor<T>(what: string, fn: () => T | undefined): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = fn();
    if (v !== undefined) return v;
    await Bun.sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("docker run --health-cmd: Config.Healthcheck, State.Health, (healthy) in ps, the health filter, health_status events", async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const run = s.docker(["run", "-d", "--network", "none", "--name", "hc", "--health-cmd", "test -e /tmp/ok", "--health-interval", "200ms",
    "--health-retries", "1", "busybox", "sh", "-c", "sleep 1000"]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  const inspect = () => JSON.parse(s.docker(["inspect", "hc"]).stdout)[0];
  const cfg = inspect().Config.Healthcheck;
  expect(cfg.Test).toEqual(["CMD-SHELL", "test -e /tmp/ok"]);
  expect(cfg.Interval).toBe(200_000_000);
  expect(cfg.Retries).toBe(1);

  // the probe fails: unhealthy, with the failing streak and the probe's log
  const bad = await waitFor("unhealthy", () => { const h = inspect().State.Health; return h?.Status === "unhealthy" ? h : undefined; });
  expect(bad.FailingStreak).toBeGreaterThanOrEqual(1);
  expect(bad.Log.at(-1).ExitCode).toBe(1);
  expect(s.docker(["ps", "--format", "{{.Status}}"]).stdout).toContain("(unhealthy)");
  expect(s.docker(["ps", "-q", "--filter", "health=unhealthy"]).stdout.trim()).not.toBe("");
  expect(s.docker(["ps", "-q", "--filter", "health=healthy"]).stdout.trim()).toBe("");

  // made to pass: healthy
  expect(s.docker(["exec", "hc", "touch", "/tmp/ok"]).code).toBe(0);
  await waitFor("healthy", () => (inspect().State.Health?.Status === "healthy" ? true : undefined));
  expect(s.docker(["ps", "--format", "{{.Status}}"]).stdout).toContain("(healthy)");
  expect(s.docker(["ps", "-q", "--filter", "health=healthy"]).stdout.trim()).not.toBe("");
  expect(s.docker(["ps", "-q", "--filter", "health=none"]).stdout.trim()).toBe("");
  const badFilter = await s.api("GET", `/containers/json?filters=${encodeURIComponent(JSON.stringify({ health: ["sick"] }))}`);
  expect(badFilter.status).toBe(400);

  const ev = s.docker(["events", "--since", String(since), "--until", String(Math.floor(Date.now() / 1000) + 1), "--filter", "event=health_status",
    "--format", "{{.Action}} {{.Actor.Attributes.name}}"]);
  expect(ev.stdout).toContain("health_status: unhealthy hc\n");
  expect(ev.stdout).toContain("health_status: healthy hc\n");
  expect(s.docker(["rm", "-f", "hc"]).code).toBe(0);
});

test("create's Healthcheck body: NONE disables the image's check; bad durations are 400s", async () => {
  const none = await s.api("POST", "/containers/create?name=nohc", { Image: "busybox", Cmd: ["true"], Healthcheck: { Test: ["NONE"] } });
  expect(none.status).toBe(201);
  const ins = await (await s.api("GET", "/containers/nohc/json")).json() as { Config: Record<string, unknown>; State: Record<string, unknown> };
  expect(ins.Config.Healthcheck).toBeUndefined();
  expect(ins.State.Health).toBeUndefined();
  const bad = await s.api("POST", "/containers/create?name=badhc", { Image: "busybox", Cmd: ["true"], Healthcheck: { Test: ["CMD", "true"], Interval: 5 } });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { message: string }).message).toContain("Healthcheck.Interval");
  const ok = await s.api("POST", "/containers/create?name=cmdhc", { Image: "busybox", Cmd: ["true"], Healthcheck: { Test: ["CMD", "true"], Interval: 2_000_000_000, Retries: 4 } });
  expect(ok.status).toBe(201);
  const hc = ((await (await s.api("GET", "/containers/cmdhc/json")).json()) as { Config: { Healthcheck: Record<string, unknown> } }).Config.Healthcheck;
  expect(hc).toEqual({ Test: ["CMD", "true"], Interval: 2_000_000_000, Timeout: 30_000_000_000, StartPeriod: 0, Retries: 4 });
  expect(s.docker(["rm", "-f", "nohc", "cmdhc"]).code).toBe(0);
});

test("docker-compose 1.29: healthcheck keys, and depends_on condition service_healthy waits for (healthy)", () => {
  const d = join(s.dir, "hcproj");
  mkdirSync(d);
  writeFileSync(join(d, "docker-compose.yml"), `version: '2.4'
services:
  db:
    image: busybox
    command: sh -c "sleep 1; touch /ready; sleep 1000"
    network_mode: none
    healthcheck:
      test: ["CMD", "test", "-e", "/ready"]
      interval: 300ms
      retries: 20
  app:
    image: busybox
    command: sleep 1000
    network_mode: none
    depends_on:
      db:
        condition: service_healthy
`);
  const env = { ...process.env, DOCKER_HOST: `unix://${s.socket}`, DOCKER_CONFIG: join(s.dir, "docker-config") };
  const up = Bun.spawnSync(["docker-compose", "up", "-d"], { cwd: d, env, stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  expect(up.exitCode).toBe(0);
  const db = JSON.parse(s.docker(["inspect", "hcproj_db_1"]).stdout)[0];
  expect(db.Config.Healthcheck).toEqual({ Test: ["CMD", "test", "-e", "/ready"], Interval: 300_000_000, Timeout: 30_000_000_000, StartPeriod: 0, Retries: 20 });
  // compose waited for db's (healthy) before creating app (it polls db's State.Health)
  expect(db.State.Health.Status).toBe("healthy");
  expect(JSON.parse(s.docker(["inspect", "hcproj_app_1"]).stdout)[0].State.Running).toBe(true);
  const down = Bun.spawnSync(["docker-compose", "down", "-t", "0"], { cwd: d, env, stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  expect(down.exitCode).toBe(0);
});
