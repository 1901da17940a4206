// `compose cp` (from index 1 by default or --index; to every replica or --index) and
// `compose events [--json]` (the project's container events only, as they happen).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BERTH, cleanupRoot, engineRoot, eventually } from "../engine/helpers.ts";
import { NET_ENV, compose, projectDir, removeProjectDirs, run } from "./helpers.ts";

let root = "";
let dir = "";
const scratch = mkdtempSync(join(tmpdir(), "berth-compose-cp-"));
beforeAll(async () => {
  root = await engineRoot();
  dir = projectDir({
    "compose.yaml": `services:\n  w:\n    image: busybox\n    command: ["sleep", "100000"]\n    init: true\n    network_mode: none\n    deploy:\n      replicas: 2\n`,
  }, "ce");
});
afterAll(() => {
  if (!root) return;
  compose(root, dir, ["down", "-v", "-t", "1", "--remove-orphans"]);
  run(root, "/", ["rm", "-f", "outsider"]);
  run(root, "/", ["system", "reset", "-f"]);
  cleanupRoot(root);
  removeProjectDirs();
  rmSync(scratch, { recursive: true, force: true });
});

const sh = (n: number, cmd: string) => run(root, "/", ["exec", `ce-w-${n}`, "sh", "-c", cmd]).stdout;

test("compose cp: to every replica or --index; from index 1 or --index; errors", () => {
  expect(compose(root, dir, ["up", "-d"]).code).toBe(0);
  writeFileSync(join(scratch, "f.txt"), "to-all\n");
  expect(compose(root, dir, ["cp", join(scratch, "f.txt"), "w:/tmp/f.txt"]).code).toBe(0);
  expect(sh(1, "cat /tmp/f.txt")).toBe("to-all\n");
  expect(sh(2, "cat /tmp/f.txt")).toBe("to-all\n");
  writeFileSync(join(scratch, "g.txt"), "to-two\n");
  expect(compose(root, dir, ["cp", "--index", "2", join(scratch, "g.txt"), "w:/tmp/g.txt"]).code).toBe(0);
  expect(sh(2, "cat /tmp/g.txt")).toBe("to-two\n");
  expect(run(root, "/", ["exec", "ce-w-1", "test", "-e", "/tmp/g.txt"]).code).not.toBe(0);

  sh(1, "echo one > /tmp/id");
  sh(2, "echo two > /tmp/id");
  expect(compose(root, dir, ["cp", "w:/tmp/id", join(scratch, "id1")]).code).toBe(0);
  expect(readFileSync(join(scratch, "id1"), "utf8")).toBe("one\n");
  expect(compose(root, dir, ["cp", "--index", "2", "w:/tmp/id", join(scratch, "id2")]).code).toBe(0);
  expect(readFileSync(join(scratch, "id2"), "utf8")).toBe("two\n");

  expect(compose(root, dir, ["cp", "nosuch:/x", scratch]).stderr).toContain("no such service: nosuch");
  expect(compose(root, dir, ["cp", "--index", "5", "w:/tmp/id", scratch]).stderr).toContain("no container with index 5");
  expect(compose(root, dir, ["cp", join(scratch, "f.txt"), join(scratch, "x")]).code).not.toBe(0);
});

test("compose events --json: the project's container events as they happen, no other container's", async () => {
  expect(run(root, "/", ["run", "-d", "--name", "outsider", "--network", "none", "busybox", "sleep", "100000"]).code).toBe(0);
  const outFile = join(scratch, "events.out");
  const proc = Bun.spawn([BERTH, "--root", root, "compose", "events", "--json"], { cwd: dir, stdout: Bun.file(outFile), stderr: "pipe", env: { ...process.env, ...NET_ENV } });
  try {
    const text = () => { try { return readFileSync(outFile, "utf8"); } catch { return ""; } };
    // The follower reads from the log's end when it starts: signal until a kill event shows.
    expect(await eventually(() => {
      compose(root, dir, ["kill", "-s", "SIGWINCH", "w"]);
      run(root, "/", ["kill", "-s", "SIGWINCH", "outsider"]);
      return text().includes('"action":"kill"');
    })).toBe(true);
    expect(compose(root, dir, ["stop", "-t", "1"]).code).toBe(0);
    expect(await eventually(() => text().includes('"action":"stop"'))).toBe(true);
    const events = text().trim().split("\n").map((l) => JSON.parse(l));
    expect(events.every((e) => e.type === "container" && e.service === "w" && /^ce-w-[12]$/.test(e.attributes.name))).toBe(true);
    expect(events.some((e) => e.action === "die")).toBe(true);
    expect(events[0].id).toMatch(/^[0-9a-f]{64}$/);
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
});
