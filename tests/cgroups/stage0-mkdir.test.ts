// Stage 0 makes a container's groups from "cgroup CPUSET MOUNT DIR" control lines while the
// runtime builds the plan (native/init/cgroups.c): parents first, a new v1 cpuset group with its
// parent's cpus and mems, and a clear error for a line or a directory it cannot use.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { discoverHierarchies } from "../../src/cgroups/layout.ts";
import { expectMessage, startInit } from "../../src/runtime/native.ts";
import { cgroupMkdirLines } from "../../src/runtime/cgroup-entry.ts";
import { openCgroup } from "../../src/cgroups/index.ts";

const h = discoverHierarchies();
const cpuset = h.v1.get("cpuset")?.mountPoint;
const parent = `berth-test-stage0-${process.pid}`;
const made: string[] = [];
afterAll(() => {
  for (const d of made.reverse()) try { rmdirSync(d); } catch { /* already gone */ }
});

/** Sends the lines, then a plan that does not exist, and returns stage 0's answer (an error either way). */
function ask(lines: string[]): string {
  const init = startInit("create", "-", [], ["ignore", "ignore", "ignore"]);
  try {
    for (const l of lines) init.send(l);
    init.send("plan /nonexistent/berth-plan");
    try {
      expectMessage(init, "pid ");
      return "no error";
    } catch (e) {
      return (e as Error).message;
    }
  } finally {
    init.closeControl();
  }
}

describe("stage 0 makes the groups", () => {
  test.if(cpuset !== undefined)("parents first; a new cpuset group starts with its parent's cpus and mems", () => {
    const dir = join(cpuset!, parent, "c1");
    made.push(join(cpuset!, parent), dir);
    // Stage 0 got past the lines: what stops it is the missing plan.
    expect(ask([`cgroup 1 ${cpuset} ${dir}`])).toMatch(/open plan \/nonexistent\/berth-plan/);
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      const want = readFileSync(join(cpuset!, file), "utf8").trim();
      expect(want).not.toBe("");
      expect(readFileSync(join(cpuset!, parent, file), "utf8").trim()).toBe(want);
      expect(readFileSync(join(dir, file), "utf8").trim()).toBe(want);
    }
  });

  test.if(cpuset !== undefined)("stage 0s making groups under one new parent at once all get cpus and mems", () => {
    const shared = join(cpuset!, `${parent}-race`);
    const dirs = Array.from({ length: 12 }, (_, i) => join(shared, `c${i}`));
    made.push(shared, ...dirs);
    const inits = dirs.map(() => startInit("create", "-", [], ["ignore", "ignore", "ignore"]));
    Bun.sleepSync(200); // every stage 0 up and waiting: the lines below reach them at once
    inits.forEach((init, i) => init.send(`cgroup 1 ${cpuset} ${dirs[i]}\nplan /nonexistent/berth-plan`));
    for (const init of inits) {
      expect(() => expectMessage(init, "pid ")).toThrow(/open plan/);
      init.closeControl();
    }
    const want = readFileSync(join(cpuset!, "cpuset.cpus"), "utf8").trim();
    for (const d of dirs) expect(readFileSync(join(d, "cpuset.cpus"), "utf8").trim()).toBe(want);
  });

  test("the runtime asks for every hierarchy's directory, and stage 0 makes them all", () => {
    const cg = openCgroup({ containerId: `${parent}-all`, cgroupsPath: `/${parent}/all` });
    const lines = cgroupMkdirLines(cg)!;
    expect(lines.length).toBe(new Set(Object.values(cg.paths())).size);
    for (const d of Object.values(cg.paths())) made.push(join(d, ".."), d);
    expect(ask(lines)).toMatch(/open plan/);
    expect(cg.exists()).toBe(true);
    cg.destroy();
    expect(cg.exists()).toBe(false);
  });

  test("a line outside its mount point, or a directory that cannot be made, is a clear error", () => {
    expect(ask(["cgroup 0 /sys/fs/cgroup/pids /tmp/elsewhere"])).toBe("bad cgroup line: 0 /sys/fs/cgroup/pids /tmp/elsewhere");
    expect(ask(["cgroup 0 /proc /proc/berth-test/x"])).toMatch(/^cannot create cgroup \/proc\/berth-test: /);
    expect(existsSync("/tmp/elsewhere")).toBe(false);
  });
});
