// `build:` in services: `compose build`, `up` building a missing image (named PROJECT-SERVICE),
// `up --build` rebuilding and recreating, `--no-build`, `config`, and `down --rmi local|all`.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { compose, projectDir, removeProjectDirs, run } from "./helpers.ts";

let root = "";
let dir = "";
beforeAll(async () => {
  root = await engineRoot();
  dir = projectDir({
    "compose.yaml": `services:
  app:
    build:
      context: ./app
      dockerfile: App.Dockerfile
      args:
        GREETING: built-hello
      target: final
      labels:
        org.example.kind: app
    command: ["sleep", "100000"]
    init: true
    network_mode: none
  short:
    build: ./app
    image: bt-short:v1
    command: ["sleep", "100000"]
    init: true
    network_mode: none
`,
    "app/App.Dockerfile": "FROM busybox AS base\nARG GREETING=none\nRUN echo $GREETING > /greeting\nFROM base AS final\nRUN echo final > /stage\nFROM base AS other\nRUN echo other > /stage\n",
    "app/Dockerfile": "FROM busybox\nRUN echo short > /greeting\n",
  }, "bt");
});
afterAll(() => {
  if (!root) return;
  compose(root, dir, ["down", "-v", "-t", "1", "--rmi", "all", "--remove-orphans"]);
  run(root, "/", ["system", "reset", "-f"]);
  cleanupRoot(root);
  removeProjectDirs();
});

const cat = (service: string, path: string) => compose(root, dir, ["exec", "-T", service, "cat", path]).stdout;
const imageId = (ref: string) => run(root, "/", ["image", "inspect", "-f", "{{.Id}}", ref]).stdout.trim();
const containerId = (name: string) => run(root, "/", ["inspect", "-f", "{{.Id}}", name]).stdout.trim();

test("compose build: context, dockerfile, args, target, labels, the short form; image names", () => {
  const r = compose(root, dir, ["build"]);
  expect(r.stderr).toContain("Service app  Built");
  expect(r.code).toBe(0);
  expect(imageId("bt-app")).toMatch(/^sha256:/);
  expect(imageId("bt-short:v1")).toMatch(/^sha256:/);
  expect(JSON.parse(run(root, "/", ["image", "inspect", "bt-app"]).stdout)[0].Config.Labels["org.example.kind"]).toBe("app");
  const cfg = JSON.parse(compose(root, dir, ["config", "--format", "json"]).stdout);
  expect(cfg.services.app.build).toEqual({ context: join(dir, "app"), dockerfile: join(dir, "app", "App.Dockerfile"), args: { GREETING: "built-hello" }, target: "final", labels: { "org.example.kind": "app" } });
  expect(compose(root, dir, ["build", "nosuch"]).stderr).toContain("no such service: nosuch");
  const help = compose(root, dir, ["--help"]).stdout;
  for (const verb of ["build ", "pull ", "cp ", "events ", "--rmi", "--no-build"]) expect(help).toContain(verb);
});

test("up builds a missing image, --no-build refuses, --build rebuilds and recreates", () => {
  expect(run(root, "/", ["rmi", "bt-app"]).code).toBe(0);
  const nb = compose(root, dir, ["up", "-d", "--no-build"]);
  expect(nb.code).not.toBe(0);
  expect(nb.stderr).toContain("bt-app");
  expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");
  expect(compose(root, dir, ["up", "-d", "--build", "--no-build"]).stderr).toContain("incompatible");

  const up = compose(root, dir, ["up", "-d"]);
  expect(up.code).toBe(0);
  expect(up.stderr).toContain("Service app  Building");
  expect(up.stderr).not.toContain("Service short  Building"); // its image is there
  expect(cat("app", "/greeting")).toBe("built-hello\n");
  expect(cat("app", "/stage")).toBe("final\n");
  expect(cat("short", "/greeting")).toBe("short\n");
  const before = containerId("bt-app-1");
  const shortBefore = containerId("bt-short-1");

  // An unchanged project: nothing built, nothing recreated.
  const again = compose(root, dir, ["up", "-d"]);
  expect(again.stderr).not.toContain("Building");
  expect(containerId("bt-app-1")).toBe(before);

  // A changed Dockerfile and --build: a new image, the container recreated on it.
  writeFileSync(join(dir, "app/Dockerfile"), "FROM busybox\nRUN echo short-two > /greeting\n");
  const rebuilt = compose(root, dir, ["up", "-d", "--build"]);
  expect(rebuilt.code).toBe(0);
  expect(cat("short", "/greeting")).toBe("short-two\n");
  expect(containerId("bt-short-1")).not.toBe(shortBefore);
  expect(containerId("bt-app-1")).toBe(before); // rebuilt from cache: the same image, kept
});

test("run and create build a missing image first", () => {
  expect(compose(root, dir, ["down", "-t", "1"]).code).toBe(0);
  expect(run(root, "/", ["rmi", "bt-app"]).code).toBe(0);
  const r = compose(root, dir, ["run", "--rm", "-T", "app", "cat", "/greeting"]);
  expect(r.stderr).toContain("Service app  Built");
  expect(r.stdout).toBe("built-hello\n");
  expect(r.code).toBe(0);
  expect(run(root, "/", ["rmi", "bt-app"]).code).toBe(0);
  expect(compose(root, dir, ["create", "--no-build", "app"]).code).not.toBe(0);
  expect(compose(root, dir, ["create", "--force-recreate", "app"]).stderr).toContain("Service app  Built");
  expect(compose(root, dir, ["up", "-d"]).code).toBe(0);
});

test("down --rmi local removes the built image only; --rmi all the custom-tagged one too", () => {
  expect(compose(root, dir, ["down", "--rmi", "bogus"]).stderr).toContain("invalid --rmi");
  expect(run(root, "/", ["ps", "-aq"]).stdout).not.toBe(""); // the bad option removed nothing
  const local = compose(root, dir, ["down", "-t", "1", "--rmi", "local"]);
  expect(local.code).toBe(0);
  expect(imageId("bt-app")).toBe("");
  expect(imageId("bt-short:v1")).toMatch(/^sha256:/);
  expect(imageId("busybox")).toMatch(/^sha256:/);
  expect(compose(root, dir, ["up", "-d"]).code).toBe(0);
  const all = compose(root, dir, ["down", "-t", "1", "--rmi", "all"]);
  expect(all.code).toBe(0);
  expect(imageId("bt-app")).toBe("");
  expect(imageId("bt-short:v1")).toBe("");
  expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");
});
