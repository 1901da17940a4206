// compose-spec `include`, and the relative paths of services taken from another file: an included
// file is read as a project of its own (its .env, its directory for relative paths) and its
// services, networks and secrets join the project; a service `extends` from another file keeps
// that file's relative paths. A name defined twice, or an include loop, is refused.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { dirname, join } from "node:path";
import { cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { compose, projectDir, removeProjectDirs, run } from "./helpers.ts";

let root = "";
beforeAll(async () => {
  root = await engineRoot();
});
afterAll(() => {
  if (root) {
    run(root, "/", ["system", "reset", "-f"]);
    cleanupRoot(root);
  }
  removeProjectDirs();
});

test("an included file's services join the project with its own .env and paths; extends from another file keeps that file's paths", () => {
  // projectDir makes <tmp>/shop/…; the shared files sit beside it in <tmp>/shared
  const app = projectDir({
    "compose.yaml": `name: shop
include:
  - ../shared/db.yaml
services:
  web:
    extends:
      file: ../shared/base.yaml
      service: base
    command: ["sh", "-c", "cat /conf/greeting; exec sleep 1000"]
    depends_on: [db]
`,
    "../shared/db.yaml": `services:
  db:
    image: busybox
    command: ["sh", "-c", "mkdir -p /srv && echo \${DB_NAME} > /srv/name && exec httpd -f -p 5432 -h /srv"]
    stop_grace_period: 1s
    volumes: ["./init:/init:ro"]
    secrets: [db_password]
secrets:
  db_password:
    file: ./pw.txt
`,
    "../shared/.env": "DB_NAME=orders\n",
    "../shared/init/schema.sql": "create table t;\n",
    "../shared/pw.txt": "hunter2\n",
    "../shared/base.yaml": `services:
  base:
    image: busybox
    stop_grace_period: 1s
    volumes: ["./conf:/conf:ro"]
`,
    "../shared/conf/greeting": "hello from shared\n",
  }, "shop");
  const up = compose(root, app, ["up", "-d"]);
  expect(up.stderr).not.toContain("rror");
  expect(up.code).toBe(0);
  // the included service: its .env interpolated it, its bind and its secret are its directory's
  expect(compose(root, app, ["exec", "-T", "db", "cat", "/init/schema.sql"]).stdout).toBe("create table t;\n");
  expect(compose(root, app, ["exec", "-T", "db", "cat", "/run/secrets/db_password"]).stdout).toBe("hunter2\n");
  expect(compose(root, app, ["exec", "-T", "web", "timeout", "5", "wget", "-O-", "http://db:5432/name"]).stdout).toBe("orders\n");
  // extends: {file: ../shared/base.yaml}: ./conf is shared/conf, not the project's
  expect(compose(root, app, ["exec", "-T", "web", "cat", "/conf/greeting"]).stdout).toBe("hello from shared\n");
  const mounts = JSON.parse(run(root, "/", ["inspect", "-f", "{{json .Mounts}}", "shop-web-1"]).stdout) as { Source: string }[];
  expect(mounts.map((m) => m.Source)).toContain(join(dirname(app), "shared", "conf"));
  expect(compose(root, app, ["down", "-t", "1"]).code).toBe(0);
});

test("a name both files define, and an include loop, are refused before anything is made", () => {
  for (const [name, files, said] of [
    ["clash", { "compose.yaml": "include: [other.yaml]\nservices:\n  web:\n    image: busybox\n", "other.yaml": "services:\n  web:\n    image: busybox\n" }, "services.web is defined both here and in the included"],
    ["loop", {
      "compose.yaml": "include: [a.yaml]\nservices:\n  x:\n    image: busybox\n",
      "a.yaml": "include: [b.yaml]\nservices:\n  a:\n    image: busybox\n",
      "b.yaml": "include: [a.yaml]\nservices:\n  b:\n    image: busybox\n",
    }, "include cycle"],
    ["missing", { "compose.yaml": "include: [nope.yaml]\nservices:\n  x:\n    image: busybox\n" }, "nope.yaml: no such file"],
  ] as const) {
    const r = compose(root, projectDir(files, name), ["up", "-d"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(said);
  }
  expect(run(root, "/", ["ps", "-aq"]).stdout.trim()).toBe("");
});
