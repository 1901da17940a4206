// A realistic three-tier project: web (serves a bind-mounted directory, published), app (three
// replicas, reads a read-only bind mount) and db (a named volume, a healthcheck that app waits
// for), on two user networks; environment from .env. up twice (nothing recreated), a changed
// service recreated alone, exec/logs/config, down keeps the named volume, down -v removes it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { NET_ENV, compose, freePort, httpGet, networkNames, projectDir, run, removeProjectDirs } from "./helpers.ts";
import { BERTH } from "../engine/helpers.ts";

let root = "";
let dir = "";
const WEB_PORT = freePort();
const FILE = `name: shop
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo boot >> /data/boots; echo $$DB_NAME > /data/name; echo db ready; exec httpd -f -p 5432 -h /data"]
    environment:
      DB_NAME: \${DB_NAME:?set DB_NAME in .env}
    volumes: [dbdata:/data]
    healthcheck:
      test: ["CMD-SHELL", "test -s /data/name"]
      interval: 200ms
      retries: 50
    networks: [back]
  app:
    image: busybox
    command: httpd -f -p 8000 -h /srv
    stop_grace_period: 1s
    volumes: ["./app:/srv:ro"]
    env_file: [app.env]
    depends_on:
      db:
        condition: service_healthy
    networks:
      back:
      front:
        aliases: [api]
  web:
    image: busybox
    command: httpd -f -p 80 -h /www
    stop_grace_period: 1s
    ports: ["127.0.0.1:\${WEB_PORT}:80"]
    volumes: ["./www:/www:ro"]
    depends_on: [app]
    networks: [front]
    labels:
      tier: front
networks:
  front:
    labels: [zone=public]
  back: {}
volumes:
  dbdata: {}
`;

beforeAll(async () => {
  root = await engineRoot();
  dir = projectDir({
    "compose.yaml": FILE, ".env": `DB_NAME=orders\nWEB_PORT=${WEB_PORT}\n`, "app.env": "APP_MODE=production\n",
    "app/status": "app ok\n", "www/index.html": "<h1>shop</h1>\n",
  });
});
afterAll(() => {
  if (!root) return;
  compose(root, dir, ["down", "-v", "-t", "1"]);
  run(root, "/", ["system", "reset", "-f"]);
  cleanupRoot(root);
  removeProjectDirs();
});

const ids = () => run(root, "/", ["ps", "-q", "--no-trunc"]).stdout.split("\n").filter(Boolean).sort();
const idOf = (name: string) => run(root, "/", ["inspect", "-f", "{{.Id}}", name]).stdout.trim();

test("up: dependency order, service_healthy, --scale app=3, published web answers, names resolve per network", async () => {
  const r = compose(root, dir, ["up", "-d", "--scale", "app=3"]);
  expect(r.code).toBe(0);
  // db was healthy before any app container was created
  expect(r.stderr.indexOf("shop-db-1  Healthy")).toBeGreaterThan(0);
  expect(r.stderr.indexOf("shop-db-1  Healthy")).toBeLessThan(r.stderr.indexOf("shop-app-1  Created"));
  const ps = compose(root, dir, ["ps", "--format", "json"]);
  const rows = JSON.parse(ps.stdout) as { Name: string; Service: string; Health: string; Labels: Record<string, string> }[];
  expect(rows.map((x) => x.Name).sort()).toEqual(["shop-app-1", "shop-app-2", "shop-app-3", "shop-db-1", "shop-web-1"]);
  const db = rows.find((x) => x.Service === "db")!;
  expect(db.Health).toBe("healthy");
  expect(db.Labels["com.docker.compose.project"]).toBe("shop");
  expect(db.Labels["com.docker.compose.container-number"]).toBe("1");
  expect(db.Labels["com.docker.compose.project.working_dir"]).toBe(dir);
  expect(rows.find((x) => x.Name === "shop-web-1")!.Labels.tier).toBe("front");
  expect(compose(root, dir, ["ps", "--services"]).stdout.split("\n").filter(Boolean).sort()).toEqual(["app", "db", "web"]);
  // the project's networks carry the file's labels and compose's own, as docker compose sets them
  expect(JSON.parse(run(root, "/", ["network", "inspect", "-f", "{{json .Labels}}", "shop_front"]).stdout)).toEqual({ zone: "public", "com.docker.compose.project": "shop", "com.docker.compose.network": "front" });
  expect(run(root, "/", ["network", "ls", "-q", "--filter", "label=com.docker.compose.project=shop"]).stdout.trim().split("\n").length).toBe(2);

  expect(await httpGet(WEB_PORT, "/index.html")).toBe("<h1>shop</h1>\n");
  // web → app by service name and alias (front), app → db (back); web cannot see db.
  expect(compose(root, dir, ["exec", "-T", "web", "wget", "-qO-", "http://app:8000/status"]).stdout).toBe("app ok\n");
  expect(compose(root, dir, ["exec", "-T", "web", "wget", "-qO-", "http://api:8000/status"]).stdout).toBe("app ok\n");
  expect(compose(root, dir, ["exec", "-T", "--index", "3", "app", "wget", "-qO-", "http://db:5432/name"]).stdout).toBe("orders\n");
  expect(compose(root, dir, ["exec", "-T", "web", "grep", "-w", "db", "/etc/hosts"]).code).not.toBe(0);
  // env_file, and the bind mount is read-only
  expect(compose(root, dir, ["exec", "-T", "app", "sh", "-c", "echo $APP_MODE"]).stdout).toBe("production\n");
  expect(compose(root, dir, ["exec", "-T", "app", "touch", "/srv/x"]).code).not.toBe(0);
  expect(compose(root, dir, ["port", "web", "80"]).stdout.trim()).toBe(`127.0.0.1:${WEB_PORT}`);
});

test("a second up recreates nothing; a changed service is recreated alone", () => {
  const before = ids();
  const r = compose(root, dir, ["up", "-d", "--scale", "app=3"]);
  expect(r.code).toBe(0);
  expect(r.stderr).not.toContain("Created");
  expect(r.stderr).not.toContain("Recreated");
  expect(ids()).toEqual(before);
  const web = idOf("shop-web-1"), db = idOf("shop-db-1");
  writeFileSync(join(dir, "compose.yaml"), FILE.replace("tier: front", "tier: edge"));
  const again = compose(root, dir, ["up", "-d", "--scale", "app=3"]);
  expect(again.code).toBe(0);
  expect(again.stderr).toContain("shop-web-1  Recreated");
  expect(idOf("shop-web-1")).not.toBe(web);
  expect(idOf("shop-db-1")).toBe(db);
  writeFileSync(join(dir, "compose.yaml"), FILE);
});

test("logs (prefixed, -f), config (interpolated, normalised)", async () => {
  const logs = compose(root, dir, ["logs", "db"]);
  expect(logs.stdout).toContain("db-1  | db ready");
  const follow = Bun.spawn({ cmd: [BERTH, "--root", root, "compose", "logs", "-f", "--tail", "1", "db"], cwd: dir, stdout: "pipe", env: { ...process.env, ...NET_ENV } });
  const reader = follow.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  expect(first).toContain("db-1  | db ready");
  follow.kill("SIGINT");
  expect(await follow.exited).toBe(0);

  const cfg = compose(root, dir, ["config", "--format", "json"]);
  expect(cfg.code).toBe(0);
  const doc = JSON.parse(cfg.stdout);
  expect(doc.name).toBe("shop");
  expect(doc.services.db.environment).toEqual({ DB_NAME: "orders" });
  expect(doc.services.app.environment).toEqual({ APP_MODE: "production" });
  expect(doc.services.web.ports).toEqual([{ mode: "ingress", host_ip: "127.0.0.1", target: 80, published: String(WEB_PORT), protocol: "tcp" }]);
  expect(doc.services.app.volumes[0]).toEqual({ type: "bind", source: join(dir, "app"), target: "/srv", read_only: true });
  expect(doc.volumes.dbdata.name).toBe("shop_dbdata");
  const yaml = compose(root, dir, ["config"]).stdout;
  expect(yaml).toContain("DB_NAME: orders");
  expect(compose(root, dir, ["config", "--services"]).stdout.split("\n").filter(Boolean)).toEqual(["db", "app", "web"]);
});

test("down keeps the named volume (data survives down and up); down -v leaves nothing", () => {
  expect(compose(root, dir, ["down", "-t", "1"]).code).toBe(0);
  expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");
  expect(run(root, "/", ["volume", "ls", "-q"]).stdout).toContain("shop_dbdata");
  expect(compose(root, dir, ["up", "-d"]).code).toBe(0);
  expect(compose(root, dir, ["exec", "-T", "db", "cat", "/data/boots"]).stdout).toBe("boot\nboot\n");
  const down = compose(root, dir, ["down", "-v", "-t", "1"]);
  expect(down.code).toBe(0);
  expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");
  expect(run(root, "/", ["volume", "ls", "-q"]).stdout).toBe("");
  expect(networkNames(root).filter((n) => n.startsWith("shop"))).toEqual([]);
  expect(compose(root, dir, ["ls", "-a"]).stdout).not.toContain("shop");
});
