// Bad compose files: each one clear error (file, service, key), exit status not 0, and nothing
// made — no container, network, volume. Unsupported keys: a warning naming the key and service.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cleanupRoot, engineRoot } from "../engine/helpers.ts";
import { compose, networkNames, projectDir, run, removeProjectDirs } from "./helpers.ts";

let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => {
  if (!root) return;
  run(root, "/", ["system", "reset", "-f"]);
  cleanupRoot(root);
  removeProjectDirs();
});

const base = (svc: string, extra = "") => `services:\n  web:\n    image: busybox\n    command: sleep 100\n${svc}${extra}volumes:\n  data: {}\n`;

const CASES: [string, string, RegExp][] = [
  ["an unknown service key", base("    colour: blue\n"), /compose\.yaml: services\.web additional properties 'colour' not allowed/],
  ["a wrong type", base("    ports: \"80:80\"\n"), /services\.web\.ports must be an array/],
  ["a port range of unequal lengths", base("    ports: [\"8000-8002:80-81\"]\n"), /service "web": invalid port range "8000-8002:80-81": the host range 8000-8002 has 3 ports and the container range 80-81 has 2; they must be of equal length/],
  ["an undefined required variable", base("    environment:\n      TOKEN: ${TOKEN:?set TOKEN first}\n"), /error while interpolating services\.web\.environment\.TOKEN: required variable TOKEN is missing a value: set TOKEN first/],
  ["a missing env_file", base("    env_file: [missing.env]\n"), /service "web": env file .*missing\.env not found/],
  ["a dependency cycle", base("    depends_on: [api]\n  api:\n    image: busybox\n    depends_on: [worker]\n  worker:\n    image: busybox\n    depends_on: [web]\n"), /dependency cycle detected: web -> api -> worker -> web/],
  ["an unknown network", base("    networks: [backend]\n"), /service "web" refers to undefined network backend: invalid compose project/],
  ["an undefined volume", base("    volumes: [\"cache:/cache\"]\n"), /service "web" refers to undefined volume cache/],
  // pull_policy never: a missing image is not looked for in a registry (tests reach no registry but loopback's)
  ["an image that is not there", base("", "  other:\n    image: no-such-image:1\n    pull_policy: never\n"), /Unable to find image 'no-such-image:1' locally/],
  ["a missing external network", "services:\n  web:\n    image: busybox\n    networks: [front, shared]\nnetworks:\n  front: {}\n  shared:\n    external: true\n", /network shared declared as external, but could not be found/],
  ["broken YAML", "services:\n  web:\n    image: busybox\n   command: [\n", /compose\.yaml: /],
];

for (const [what, file, message] of CASES) {
  test(`${what}: one clear error, nothing created`, () => {
    const dir = projectDir({ "compose.yaml": file, "data.env": "A=1\n" });
    const r = compose(root, dir, ["up", "-d"], { TOKEN: "" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(2);
    expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");
    expect(run(root, "/", ["volume", "ls", "-q"]).stdout).toBe("");
    expect(networkNames(root).filter((n) => n !== "bridge")).toEqual([]);
  });
}

test("a key berth does not run: a warning naming it and the service, the rest runs", () => {
  const dir = projectDir({ "compose.yaml": "services:\n  web:\n    image: busybox\n    cgroup_parent: custom\n    command: [\"true\"]\n" });
  const r = compose(root, dir, ["config", "-q"]);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('service "web": key "cgroup_parent" is not supported by berth compose and is ignored');
});

test("no compose file: docker compose's error", () => {
  const dir = projectDir({ "README": "nothing here\n" });
  const r = compose(root, dir, ["ps"]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("no configuration file provided: not found");
});
