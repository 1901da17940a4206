// `compose pull` and pull_policy (always, missing, never, build) against Debian's docker-registry
// on 127.0.0.1 (tests/registry/helpers.ts): never any other registry.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { type Registry, startRegistry } from "../registry/helpers.ts";
import { compose, projectDir, removeProjectDirs, run } from "./helpers.ts";

let reg: Registry;
let root = "";
let dir = "";
let img = "";
const service = (name: string, policy?: string, extra = "") =>
  `  ${name}:\n    image: ${img}\n${policy ? `    pull_policy: ${policy}\n` : ""}    command: ["sleep", "100000"]\n    init: true\n    network_mode: none\n${extra}`;

beforeAll(async () => {
  reg = await startRegistry();
  root = await engineRoot();
  img = `${reg.host}/test/busybox:1`;
  expect(run(root, "/", ["tag", "busybox", img]).code).toBe(0);
  expect(run(root, "/", ["push", img]).code).toBe(0);
  expect(run(root, "/", ["rmi", img]).code).toBe(0);
});
afterAll(async () => {
  if (root) {
    if (dir) compose(root, dir, ["down", "-v", "-t", "1", "--remove-orphans"]);
    run(root, "/", ["system", "reset", "-f"]);
    cleanupRoot(root);
  }
  removeProjectDirs();
  await reg?.stop();
});

const has = (ref: string) => run(root, "/", ["image", "inspect", ref]).code === 0;

test("compose pull: the named services' images from the registry; never and build are skipped", () => {
  dir = projectDir({
    "compose.yaml": `services:\n${service("a")}${service("n", "never")}  b:\n    build: ./b\n    command: ["true"]\n`,
    "b/Dockerfile": "FROM busybox\n",
  }, "pl");
  expect(has(img)).toBe(false);
  expect(compose(root, dir, ["pull", "nosuch"]).stderr).toContain("no such service: nosuch");
  const r = compose(root, dir, ["pull"]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(`Image ${img}  Pulled`);
  expect(r.stderr).toContain("Service n  Skipped");
  expect(r.stderr).toContain("Service b  Skipped");
  expect(has(img)).toBe(true);
  expect(has("pl-b")).toBe(false);
});

test("pull_policy: missing pulls only what is missing; never refuses; always pulls; a bad registry is one clear error", () => {
  expect(run(root, "/", ["rmi", img]).code).toBe(0);
  const never = projectDir({ "compose.yaml": `services:\n${service("n", "never")}` }, "pn");
  const r1 = compose(root, never, ["up", "-d"]);
  expect(r1.code).not.toBe(0);
  expect(r1.stderr).toContain(`Unable to find image '${img}' locally`);
  expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");

  const missing = projectDir({ "compose.yaml": `services:\n${service("m")}` }, "pm");
  const r2 = compose(root, missing, ["up", "-d"]);
  expect(r2.code).toBe(0);
  expect(r2.stderr).toContain(`Image ${img}  Pulled`);
  const r3 = compose(root, missing, ["up", "-d"]);
  expect(r3.stderr).not.toContain("Pulling"); // it is here now
  expect(compose(root, missing, ["down", "-t", "1"]).code).toBe(0);

  const always = projectDir({ "compose.yaml": `services:\n${service("a", "always")}` }, "pa");
  const r4 = compose(root, always, ["up", "-d"]);
  expect(r4.code).toBe(0);
  expect(r4.stderr).toContain(`Image ${img}  Pulled`);
  expect(compose(root, always, ["down", "-t", "1"]).code).toBe(0);

  const bad = projectDir({ "compose.yaml": `services:\n${service("x", "always").replace(img, "127.0.0.1:9/none/busybox:1")}` }, "px");
  const r5 = compose(root, bad, ["up", "-d"]);
  expect(r5.code).not.toBe(0);
  expect(r5.stderr).toContain(`service "x": pulling 127.0.0.1:9/none/busybox:1`);
  expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");
  expect(compose(root, bad, ["up", "-d", "--pull"]).code).not.toBe(0); // no such flag: a usage error
});

test("pull_policy build: up builds every time; an invalid policy is refused", () => {
  const b = projectDir({
    "compose.yaml": `services:\n  b:\n    build: .\n    pull_policy: build\n    command: ["sleep", "100000"]\n    init: true\n    network_mode: none\n`,
    "Dockerfile": "FROM busybox\n",
  }, "pb");
  expect(compose(root, b, ["up", "-d"]).stderr).toContain("Service b  Built");
  expect(compose(root, b, ["up", "-d"]).stderr).toContain("Service b  Built");
  expect(compose(root, b, ["down", "-t", "1", "--rmi", "local"]).code).toBe(0);
  const bad = projectDir({ "compose.yaml": `services:\n${service("a", "sometimes")}` }, "pi");
  const r = compose(root, bad, ["up", "-d"]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/pull_policy/);
});
