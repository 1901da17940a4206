// The other verbs on a small project: run (one-off, --rm, exit status), stop/start/restart/kill/rm,
// ls; files: -f several (merged), -f - (stdin), -p, profiles, interpolation defaults, $$.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cleanupRoot, engineRoot, eventually, BERTH } from "../engine/helpers.ts";
import { NET_ENV, compose, projectDir, run, removeProjectDirs } from "./helpers.ts";

let root = "";
let dir = "";
beforeAll(async () => {
  root = await engineRoot();
  dir = projectDir({
    "compose.yaml": `services:
  worker:
    image: busybox
    command: ["sleep", "100000"]
    init: true
    environment:
      GREETING: \${GREETING:-hello}
      PRICE: "$$5"
      MODE: \${MODE-unset}
  debug:
    image: busybox
    profiles: [tools]
    command: ["true"]
`,
    "compose.override.yaml": "services:\n  worker:\n    environment:\n      EXTRA: from-second-file\n",
  }, "life");
});
afterAll(() => {
  if (!root) return;
  compose(root, dir, ["down", "-v", "-t", "1", "--remove-orphans"]);
  run(root, "/", ["system", "reset", "-f"]);
  cleanupRoot(root);
  removeProjectDirs();
});

const state = (name: string) => run(root, "/", ["inspect", "-f", "{{.State.Status}}", name]).stdout.trim();

test("up, run --rm (its exit status, nothing left), stop/start/restart/kill/rm, ls", async () => {
  expect(compose(root, dir, ["up", "-d"]).code).toBe(0);
  expect(compose(root, dir, ["exec", "-T", "worker", "sh", "-c", "echo $GREETING $PRICE $MODE"]).stdout).toBe("hello $5 unset\n");
  const one = compose(root, dir, ["run", "--rm", "-T", "worker", "sh", "-c", "echo one-off; exit 3"]);
  expect(one.code).toBe(3);
  expect(one.stdout).toBe("one-off\n");
  expect(run(root, "/", ["ps", "-a", "--format", "{{.Names}}"]).stdout.trim()).toBe("life-worker-1");
  expect(compose(root, dir, ["ls"]).stdout).toMatch(/life\s+running\(1\)/);
  expect(compose(root, dir, ["stop", "-t", "1"]).code).toBe(0);
  expect(state("life-worker-1")).toBe("exited");
  expect(compose(root, dir, ["ls"]).stdout).not.toContain("life");
  expect(compose(root, dir, ["ls", "-a"]).stdout).toMatch(/life\s+exited\(1\)/);
  expect(compose(root, dir, ["start"]).code).toBe(0);
  expect(state("life-worker-1")).toBe("running");
  expect(compose(root, dir, ["restart", "-t", "1", "worker"]).code).toBe(0);
  expect(state("life-worker-1")).toBe("running");
  expect(compose(root, dir, ["kill", "worker"]).code).toBe(0);
  // kill sends the signal and returns, as docker compose's does
  expect(await eventually(() => state("life-worker-1") === "exited")).toBe(true);
  expect(compose(root, dir, ["rm", "-f"]).code).toBe(0);
  expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");
  expect(compose(root, dir, ["down"]).code).toBe(0);
});

test("--env-file replaces the project's .env, and a .env never reaches berth's own environment as if exported", () => {
  const d = projectDir({
    "compose.yaml": "services:\n  a:\n    image: busybox\n    command: echo ${FOO} ${BAR:-unset}\n",
    ".env": "FOO=from-dotenv\nBAR=from-dotenv\n",
    "other.env": "FOO=from-file\n",
  }, "envfile");
  const r = compose(root, d, ["--env-file", "other.env", "config", "--format", "json"]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).services.a.command).toEqual(["echo", "from-file", "unset"]);
});

test("files: -f twice merged, -f - from stdin, -p, --profile", () => {
  const merged = compose(root, dir, ["-f", "compose.yaml", "-f", "compose.override.yaml", "config", "--format", "json"], { GREETING: "hi", MODE: "" });
  const doc = JSON.parse(merged.stdout);
  expect(doc.services.worker.environment).toEqual({ GREETING: "hi", PRICE: "$5", MODE: "", EXTRA: "from-second-file" });
  expect(Object.keys(doc.services)).toEqual(["worker"]);
  expect(compose(root, dir, ["--profile", "tools", "config", "--services"]).stdout.split("\n").filter(Boolean).sort()).toEqual(["debug", "worker"]);
  const r = Bun.spawnSync({ cmd: [BERTH, "--root", root, "compose", "-p", "Other.Name", "-f", "-", "config", "--format", "json"], cwd: dir, stdin: Buffer.from("services:\n  x:\n    image: busybox\n"), env: { ...process.env, ...NET_ENV } });
  expect(r.exitCode).toBe(0);
  expect(JSON.parse(r.stdout.toString()).name).toBe("othername");
});

test("foreground up: the services' output prefixed; Ctrl-C stops them gracefully", async () => {
  const dir2 = projectDir({ "compose.yaml": "services:\n  ticker:\n    image: busybox\n    init: true\n    command: [\"sh\", \"-c\", \"echo tick; exec sleep 100000\"]\n" }, "fg");
  const up = Bun.spawn({ cmd: [BERTH, "--root", root, "compose", "up"], cwd: dir2, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...NET_ENV } });
  const reader = up.stdout.getReader();
  let seen = "";
  while (!seen.includes("\n")) seen += new TextDecoder().decode((await reader.read()).value);
  expect(seen).toBe("ticker-1  | tick\n");
  up.kill("SIGINT");
  expect(await up.exited).toBe(0);
  expect(await new Response(up.stderr).text()).toContain("Gracefully stopping...");
  expect(state("fg-ticker-1")).toBe("exited");
  expect(compose(root, dir2, ["down"]).code).toBe(0);
});

test("create (nothing started), pause/unpause, top, images, wait (the exit status)", () => {
  const dir3 = projectDir({ "compose.yaml": "services:\n  a:\n    image: busybox\n    init: true\n    command: [\"sleep\", \"100000\"]\n  b:\n    image: busybox\n    command: [\"sh\", \"-c\", \"sleep 1; exit 4\"]\n" }, "verbs");
  expect(compose(root, dir3, ["create"]).code).toBe(0);
  expect(state("verbs-a-1")).toBe("created");
  expect(state("verbs-b-1")).toBe("created");
  expect(compose(root, dir3, ["up", "-d"]).code).toBe(0);
  expect(compose(root, dir3, ["pause", "a"]).code).toBe(0);
  expect(state("verbs-a-1")).toBe("paused");
  expect(compose(root, dir3, ["unpause", "a"]).code).toBe(0);
  expect(state("verbs-a-1")).toBe("running");
  expect(compose(root, dir3, ["top", "a"]).stdout).toContain("sleep 100000");
  expect(compose(root, dir3, ["images"]).stdout).toMatch(/verbs-a-1\s+busybox\s+latest/);
  const w = compose(root, dir3, ["wait", "b"]);
  expect(w.stdout).toBe("4\n");
  expect(w.code).toBe(4);
  expect(compose(root, dir3, ["down", "-t", "1"]).code).toBe(0);
  expect(run(root, "/", ["ps", "-aq"]).stdout).toBe("");
});

test("extends: a service of the same file and of another file, merged under the extending one; a loop is an error", () => {
  const d = projectDir({
    "compose.yaml": "services:\n  base:\n    image: busybox\n    environment: { A: \"1\", B: \"base\" }\n  web:\n    extends: base\n    environment: { B: web }\n  tool:\n    extends: { file: common.yaml, service: common }\n",
    "common.yaml": "services:\n  common:\n    image: busybox\n    command: [\"echo\", \"common\"]\n    labels: { from: common }\n",
  }, "ext");
  const doc = JSON.parse(compose(root, d, ["config", "--format", "json"]).stdout);
  expect(doc.services.web.image).toBe("busybox");
  expect(doc.services.web.environment).toEqual({ A: "1", B: "web" });
  expect(doc.services.tool.command).toEqual(["echo", "common"]);
  expect(doc.services.tool.labels).toEqual({ from: "common" });
  const loop = projectDir({ "compose.yaml": "services:\n  a:\n    image: busybox\n    extends: b\n  b:\n    image: busybox\n    extends: a\n" }, "loop");
  const r = compose(root, loop, ["config"]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("circular reference with extends: a -> b -> a");
});

test("up --exit-code-from: the first container to end stops the others; the status is that service's", () => {
  const d = projectDir({ "compose.yaml": "services:\n  server:\n    image: busybox\n    init: true\n    command: [\"sleep\", \"100000\"]\n  check:\n    image: busybox\n    command: [\"sh\", \"-c\", \"echo checking; exit 7\"]\n" }, "abort");
  const r = compose(root, d, ["up", "--exit-code-from", "check"]);
  expect(r.code).toBe(7);
  expect(r.stdout).toMatch(/check-1 +\| checking/);
  expect(r.stderr).toContain("Aborting on container exit...");
  expect(state("abort-server-1")).toBe("exited");
  expect(compose(root, d, ["down"]).code).toBe(0);
});
