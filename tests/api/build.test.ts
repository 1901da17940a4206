// docker build through the service: the classic builder protocol (the context as a tar, JSON
// lines, the image ID in aux) over the builder `berth build` uses.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { berth } from "../engine/helpers.ts";
import { startTestService, type TestService } from "./helpers.ts";

let s: TestService;
let ctxDir: string;
beforeAll(async () => {
  s = await startTestService();
  ctxDir = join(s.dir, "ctx");
  mkdirSync(ctxDir);
  writeFileSync(join(ctxDir, "hello.txt"), "hello from the context\n");
  writeFileSync(join(ctxDir, "Dockerfile"), [
    "FROM busybox AS base",
    "ARG GREETING=unset",
    "COPY hello.txt /hello.txt",
    "RUN echo \"greeting=$GREETING\" && echo to-stderr >&2 && cp /hello.txt /copied.txt",
    "FROM base AS final",
    "LABEL stage=final",
    "CMD [\"cat\", \"/copied.txt\"]",
    "",
  ].join("\n"));
  writeFileSync(join(ctxDir, "Other.Dockerfile"), "FROM busybox\nRUN exit 3\n");
});
afterAll(async () => { await s?.stop(); });

test("DOCKER_BUILDKIT=0 docker build -t: steps, RUN output, the image runs; build args, labels, target; berth sees it", () => {
  const r = s.docker(["build", "-t", "apibuilt:1", "--build-arg", "GREETING=hi", "--label", "by=api", ctxDir], { env: { DOCKER_BUILDKIT: "0" } });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Step 1/7 : FROM busybox AS base");
  expect(r.stdout).toContain("greeting=hi");
  expect(r.stdout + r.stderr).toContain("to-stderr");
  expect(r.stdout).toMatch(/Successfully built [0-9a-f]{12}/);
  expect(r.stdout).toContain("Successfully tagged apibuilt:1");
  expect(s.docker(["run", "--rm", "--network", "none", "apibuilt:1"]).stdout).toBe("hello from the context\n");
  const labels = JSON.parse(s.docker(["image", "inspect", "--format", "{{json .Config.Labels}}", "apibuilt:1"]).stdout);
  expect(labels).toEqual({ stage: "final", by: "api" });
  expect(berth(s.root, ["images", "--format", "{{.Repository}}:{{.Tag}}"], { env: s.env }).stdout).toContain("apibuilt:1");

  // cached the second time; --target stops at the stage; -q prints the ID alone
  const again = s.docker(["build", "-t", "apibuilt:1", "--build-arg", "GREETING=hi", "--label", "by=api", ctxDir], { env: { DOCKER_BUILDKIT: "0" } });
  expect(again.stdout).toContain("Using cache");
  const base = s.docker(["build", "-q", "--target", "base", "-t", "apibase", ctxDir], { env: { DOCKER_BUILDKIT: "0" } });
  expect(base.code).toBe(0);
  expect(base.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(s.docker(["image", "inspect", "--format", "{{.Id}}", "apibase"]).stdout.trim()).toBe(base.stdout.trim());
});

test("docker build without DOCKER_BUILDKIT: /_ping's Builder-Version 1 makes the CLI use the classic builder", () => {
  const r = s.docker(["build", "-t", "apibuilt:2", ctxDir]);
  // the CLI's own notice (it has no buildx here), not "BuildKit is enabled but the buildx component is missing"
  expect(r.stderr).not.toContain("ERROR");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Step 1/7 : FROM busybox AS base");
  expect(r.stdout).toContain("Successfully tagged apibuilt:2");
});

test("a failing RUN: the errorDetail line, docker build exits 1, nothing tagged; -f picks the Dockerfile", () => {
  const r = s.docker(["build", "-f", join(ctxDir, "Other.Dockerfile"), "-t", "apifail", ctxDir], { env: { DOCKER_BUILDKIT: "0" } });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("returned a non-zero code: 3");
  expect(s.docker(["image", "inspect", "apifail"]).code).not.toBe(0);
});

test("the raw protocol: JSON lines ending in aux's ID and the Successfully lines; bad parameters are 400s", async () => {
  const tar = Bun.spawnSync(["tar", "-c", "-C", ctxDir, "."]).stdout;
  const r = await s.api("POST", `/build?t=rawbuilt&buildargs=${encodeURIComponent(JSON.stringify({ GREETING: "raw" }))}`, tar, { "Content-Type": "application/x-tar" });
  expect(r.status).toBe(200);
  const lines = (await r.text()).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.every((l) => "stream" in l || "aux" in l)).toBe(true);
  const aux = lines.find((l) => "aux" in l)!.aux as { ID: string };
  expect(aux.ID).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(lines.at(-1)).toEqual({ stream: "Successfully tagged rawbuilt:latest\n" });
  expect(lines.map((l) => l.stream).join("")).toContain("greeting=raw");

  const fail = await s.api("POST", "/build?dockerfile=Other.Dockerfile", tar);
  expect(fail.status).toBe(200);
  const last = JSON.parse((await fail.text()).trim().split("\n").at(-1)!) as { error: string; errorDetail: { message: string } };
  expect(last.error).toContain("returned a non-zero code: 3");
  expect(last.errorDetail.message).toBe(last.error);

  expect((await s.api("POST", "/build?buildargs=notjson", tar)).status).toBe(400);
  expect((await s.api("POST", "/build?remote=https://example.com/x.git", tar)).status).toBe(400);
  const noFile = await s.api("POST", "/build?dockerfile=Missing", tar);
  expect((await noFile.text())).toContain("cannot find a Dockerfile");
});

test("docker-compose 1.29 build: through the docker CLI and through docker-py's own /build (COMPOSE_DOCKER_CLI_BUILD=0)", () => {
  const d = join(s.dir, "proj");
  mkdirSync(d);
  writeFileSync(join(d, "Dockerfile"), "FROM busybox\nARG X=1\nRUN echo built-$X > /b\nCMD cat /b\n");
  writeFileSync(join(d, "docker-compose.yml"), "version: '3'\nservices:\n  app:\n    build:\n      context: .\n      args:\n        X: composed\n    image: projapp:1\n    network_mode: none\n");
  for (const cliBuild of ["1", "0"]) {
    const r = Bun.spawnSync(["docker-compose", "build", "--no-cache"], {
      cwd: d, env: { ...process.env, DOCKER_HOST: `unix://${s.socket}`, DOCKER_CONFIG: join(s.dir, "docker-config"), COMPOSE_DOCKER_CLI_BUILD: cliBuild },
      stdout: "pipe", stderr: "pipe", timeout: 120_000,
    });
    expect(`${cliBuild} ${r.exitCode} ${r.stderr.toString().includes("ERROR")}`).toBe(`${cliBuild} 0 false`);
    expect(r.stdout.toString()).toContain("Successfully tagged projapp:1");
    expect(s.docker(["run", "--rm", "--network", "none", "projapp:1"]).stdout).toBe("built-composed\n");
    expect(s.docker(["rmi", "projapp:1"]).code).toBe(0);
  }
});

test("docker build --pull through the service pulls FROM's image from a registry on loopback; a missing one is pulled too", async () => {
  const { startRegistry } = await import("../registry/helpers.ts");
  const reg = await startRegistry();
  try {
    const ref = `${reg.host}/test/apibase:1`;
    expect(berth(s.root, ["tag", "busybox", ref]).code).toBe(0);
    expect(berth(s.root, ["push", ref]).code).toBe(0);
    const dir = join(s.dir, "pull-ctx");
    mkdirSync(dir);
    writeFileSync(join(dir, "Dockerfile"), `FROM ${ref}\nRUN echo on-the-pulled-base\n`);
    const r = s.docker(["build", "--pull", dir], { env: { DOCKER_BUILDKIT: "0" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Pulling ${ref}`);
    expect(r.stdout).toContain("Status: Image is up to date");
    expect(r.stdout).not.toContain("NOTE");
    // untagged here: the build pulls it back
    expect(berth(s.root, ["rmi", ref]).code).toBe(0);
    const again = s.docker(["build", dir], { env: { DOCKER_BUILDKIT: "0" } });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Unable to find image '${ref}' locally`);
    expect(berth(s.root, ["image", "inspect", ref]).code).toBe(0);
  } finally {
    await reg.stop();
  }
});
