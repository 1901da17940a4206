// Commands killed by SIGKILL (issue 18, item 7), at increasing moments, a bounded number of times:
// after each, the next command that reconciles (or system prune) leaves consistent state and no
// leftovers — a container a dead commit froze is thawed, a dead command's temporaries are gone, a
// --rm container whose foreground run died before it started is removed — while a container a
// live `run` is creating or starting is never touched.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { FileLock } from "../../src/storage/lock.ts";
import { join } from "node:path";
import { BERTH, berth, cleanupRoot, engineRoot, eventually, mountsUnder, processesUnder } from "./helpers.ts";
import { killDuring, randomArchive, reclaimed, temps } from "./disk-helpers.ts";

let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => cleanupRoot(root));

function names(): string[] {
  const r = berth(root, ["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout.split("\n").filter(Boolean);
}

describe("killed commands", () => {
  test("a killed commit: the next command thaws the container and removes what the commit wrote", async () => {
    // 16 MB in the container's layer: the commit takes a while to pack and store it.
    expect(berth(root, ["run", "-d", "--name", "src", "--network", "none", "busybox", "sh", "-c",
      "head -c 16000000 /dev/urandom > /big; echo data > /made; sleep 600"]).code).toBe(0);
    expect(await eventually(() => berth(root, ["exec", "src", "cat", "/made"]).stdout === "data\n")).toBe(true);
    const delays = [0, 25, 50, 100, 150, 200, 300, 450, 650, 900];
    for (const [i, d] of delays.entries()) {
      await killDuring(root, ["commit", "src", `snap:${i}`], d);
      // ps reconciles: the container runs again, and the dead commit's files are gone.
      expect(names()).toEqual(["src running"]);
      expect(temps(root)).toEqual([]);
      expect(berth(root, ["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "src"]).stdout).toBe("running false\n");
      expect(berth(root, ["exec", "src", "cat", "/made"], { timeoutMs: 30_000 }).stdout).toBe("data\n");
    }
    // The commits that finished made whole images.
    const images = berth(root, ["images", "--format", "{{.Repository}}:{{.Tag}}"]).stdout.split("\n").filter((n) => n.startsWith("snap:"));
    for (const name of images) {
      expect(berth(root, ["run", "--rm", "--network", "none", name, "cat", "/made"]).stdout).toBe("data\n");
      expect(berth(root, ["rmi", name]).code).toBe(0);
    }
    expect(berth(root, ["rm", "-f", "src"]).code).toBe(0);
    // Nothing a killed commit made is left for a prune to find.
    expect(berth(root, ["system", "prune", "-f"]).code).toBe(0);
    expect(reclaimed(berth(root, ["image", "prune", "-f"]).stdout)).toBe(0);
    expect(temps(root)).toEqual([]);
  }, 240_000);

  test("a foreground run --rm killed at any point leaves no container behind", async () => {
    for (let i = 0; i < 16; i++) await killDuring(root, ["run", "--rm", "--network", "none", "busybox", "sleep", "1"], i * 15);
    // Those that started end after a second (their monitor removes them); ps settles the others.
    expect(await eventually(() => names().length === 0, 30_000)).toBe(true);
    expect(readdirSync(join(root, "containers"))).toEqual([]);
    expect(mountsUnder(root)).toEqual([]);
    expect(await eventually(() => processesUnder(root).length === 0)).toBe(true);
    expect(readdirSync(join(root, "locks")).filter((n) => n !== "gc.lock")).toEqual([]);
  }, 240_000);

  test("the lock file of a container never recorded (its berth killed in between) is removed by the next command; a held one stays", async () => {
    const orphan = "a".repeat(64), held = "b".repeat(64);
    writeFileSync(join(root, "locks", `${orphan}.lock`), "");
    const holding = await FileLock.acquire(join(root, "locks", `${held}.lock`), "exclusive");
    try {
      expect(berth(root, ["ps"]).code).toBe(0);
      const left = readdirSync(join(root, "locks"));
      expect(left).not.toContain(`${orphan}.lock`);
      expect(left).toContain(`${held}.lock`); // someone is creating it right now
    } finally {
      holding.release();
    }
    expect(berth(root, ["ps"]).code).toBe(0);
    expect(readdirSync(join(root, "locks"))).not.toContain(`${held}.lock`);
  });

  test("a killed detached run --rm leaves no container behind either", async () => {
    for (let i = 0; i < 10; i++) await killDuring(root, ["run", "-d", "--rm", "--network", "none", "busybox", "true"], i * 20);
    expect(await eventually(() => names().length === 0, 30_000)).toBe(true);
    expect(readdirSync(join(root, "containers"))).toEqual([]);
    expect(mountsUnder(root)).toEqual([]);
  }, 240_000);

  test("a killed load leaves temporaries that the next command (or system prune) removes", async () => {
    const archive = join(root, "..", `berth-killed-${process.pid}.tar`);
    try {
      await randomArchive(archive, 24 << 20, "big:latest");
      const delays = [0, 20, 50, 100, 200, 350, 500];
      for (const [i, d] of delays.entries()) {
        await killDuring(root, ["load", "-i", archive], d);
        if (i % 2 === 0) {
          expect(berth(root, ["ps"]).code).toBe(0);
        } else {
          const r = berth(root, ["system", "prune", "-f"]);
          expect(r.code).toBe(0);
        }
        expect(temps(root)).toEqual([]);
      }
      // Whatever got loaded is whole.
      if (berth(root, ["images", "-q", "big"]).stdout.trim()) {
        expect(berth(root, ["run", "--rm", "--network", "none", "big", "sh", "-c", "wc -c < /random.bin"]).stdout.trim()).toBe(String(24 << 20));
        expect(berth(root, ["rmi", "big"]).code).toBe(0);
      }
    } finally {
      rmSync(archive, { force: true });
    }
  }, 240_000);

  test("containers that live runs are creating and starting are left alone by ps and prune", async () => {
    const runs = Array.from({ length: 4 }, (_, i) => Bun.spawn([BERTH, "--root", root, "run", "--rm", "--network", "none", "--name", `live${i}`, "busybox", "sh", "-c", `sleep 0.3; echo ok${i}`], { stdout: "pipe", stderr: "pipe" }));
    let done = false;
    const all = Promise.all(runs.map(async (p) => ({ code: await p.exited, out: await new Response(p.stdout).text(), err: await new Response(p.stderr).text() })))
      .finally(() => { done = true; });
    for (let n = 0; !done && n < 200; n++) {
      for (const args of [["ps", "-a"], ["container", "prune", "-f"], ["system", "prune", "-f"]]) {
        const r = berth(root, args);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
      }
      await Bun.sleep(1); // let the runs' promises settle
    }
    const outs = await all;
    outs.forEach((o, i) => {
      expect(o.err).toBe("");
      expect(o.out).toBe(`ok${i}\n`);
      expect(o.code).toBe(0);
    });
    expect(names()).toEqual([]);
    expect(temps(root)).toEqual([]);
  }, 240_000);
});
