// Bad input: each gets a one-line error that says what is wrong, a non-zero exit, and leaves
// nothing behind: no state dir, no cgroup dir, no process, no mount.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeBusyboxBundle, type Bundle } from "../helpers/bundle.ts";
import { cgroupLeftovers, IS_BERTH, ok, processAlive, runtime, stateOf, uniqueId, useStateRoot, type RunResult, useCleanups } from "../helpers/runtime.ts";

const root = useStateRoot();
const defer = useCleanups();

function bundle(): Bundle {
  const b = makeBusyboxBundle({ args: ["sleep", "1000"] });
  defer(() => b.cleanup());
  return b;
}

/** Host processes whose command line mentions `needle` (the bundle or state root). */
function processesMentioning(needle: string): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(needle) && processAlive(Number(p));
    } catch {
      return false;
    }
  }).map(Number);
}

/** Host mounts that involve the bundle or the container's state dir (others' tests mount things too). */
function mountsMentioning(...needles: string[]): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => needles.some((n) => l.includes(n)));
}

/** The error contract: non-zero, one line that matches `says`. */
function expectOneLineError(r: RunResult, says: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBe(-1 /* our timeout guard */);
  const lines = r.stderr.trim().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]!).toMatch(says);
}

/** Creates, expects a clean failure, checks nothing is left. */
function createFails(b: Bundle, says: RegExp, id = uniqueId("bad")): RunResult {
  b.save();
  const r = runtime(root, ["create", "-b", b.dir, id]);
  expectOneLineError(r, says);
  expect(existsSync(join(root, id))).toBe(false);
  expect(runtime(root, ["state", id]).code).not.toBe(0);
  expect(cgroupLeftovers(id)).toEqual([]);
  expect(processesMentioning(b.dir)).toEqual([]);
  expect(processesMentioning(join(root, id))).toEqual([]);
  expect(mountsMentioning(b.dir, join(root, id))).toEqual([]);
  return r;
}

describe("bad config.json", () => {
  test("invalid JSON", () => {
    const b = bundle();
    b.save();
    writeFileSync(join(b.dir, "config.json"), '{"ociVersion": "1.2.0", "process": ');
    const id = uniqueId("badjson");
    const r = runtime(root, ["create", "-b", b.dir, id]);
    expectOneLineError(r, /JSON|json/);
    expect(existsSync(join(root, id))).toBe(false);
    expect(cgroupLeftovers(id)).toEqual([]);
  });

  test("no config.json at all", () => {
    const b = bundle();
    rmSync(join(b.dir, "config.json"));
    const id = uniqueId("nocfg");
    const r = runtime(root, ["create", "-b", b.dir, id]);
    expectOneLineError(r, /config\.json/);
    expect(existsSync(join(root, id))).toBe(false);
  });

  test.if(IS_BERTH)("unsupported ociVersion", () => {
    const b = bundle();
    b.config.ociVersion = "2.0.0";
    createFails(b, /ociVersion.*2\.0\.0/);
  });

  test("missing rootfs", () => {
    const b = bundle();
    b.config.root!.path = "no-such-rootfs";
    createFails(b, /no-such-rootfs/);
  });

  test("missing args", () => {
    const b = bundle();
    b.config.process!.args = [];
    createFails(b, /args/);
  });

  test("a command that does not exist in the rootfs", () => {
    const b = bundle();
    b.config.process!.args = ["/no/such/binary"];
    createFails(b, /\/no\/such\/binary/);
  });

  test("a mount destination that escapes the rootfs (../../NAME)", () => {
    const b = bundle();
    const name = uniqueId("berth-escape");
    b.config.mounts!.push({ destination: `../../${name}`, type: "tmpfs", source: "tmpfs" });
    createFails(b, new RegExp(`\\.\\./\\.\\./${name}|escape|outside`));
    expect(existsSync(join(b.dir, "..", name))).toBe(false);
    expect(existsSync(join(b.dir, name))).toBe(false);
  });

  test("a mount destination /../../NAME", () => {
    const b = bundle();
    const name = uniqueId("berth-escape");
    b.config.mounts!.push({ destination: `/../../${name}`, type: "tmpfs", source: "tmpfs" });
    b.save();
    const r = runtime(root, ["create", "-b", b.dir, uniqueId("esc2")]);
    // runc cleans such a path to /NAME; refusing is as good. What matters: nothing lands outside.
    expect(existsSync(join(b.dir, name))).toBe(false);
    expect(existsSync(join(b.dir, "..", name))).toBe(false);
    if (r.code === 0) expect(existsSync(join(b.rootfs, name))).toBe(true);
    else expect(r.stderr.trim().split("\n").length).toBe(1);
  });

  test("a bind source that does not exist", () => {
    const b = bundle();
    b.config.mounts!.push({ destination: "/m", type: "bind", source: "/no/such/source", options: ["bind"] });
    createFails(b, /\/no\/such\/source/);
  });

  test("a namespace path that does not exist", () => {
    const b = bundle();
    b.config.linux!.namespaces = b.config.linux!.namespaces!.map((n) => (n.type === "network" ? { type: "network", path: "/var/run/netns/no-such-ns" } : n));
    createFails(b, /no-such-ns/);
  });

  test("a NUL byte in any string (it reached the plan: 'plan field for env contains a NUL byte')", () => {
    const b = bundle();
    b.config.process!.env = [...(b.config.process!.env ?? []), "A=b\0c"];
    createFails(b, /"process.env\[\d+\]" contains a NUL byte/);
  });

  test("a mount over /proc or inside it (runc's rule: it could hide the masked paths)", () => {
    const over = bundle();
    over.config.mounts!.push({ destination: "/proc", type: "bind", source: over.rootfs, options: ["rbind"] });
    createFails(over, /"\/proc" cannot be mounted because it is not of type proc/);
    const inside = bundle();
    inside.config.mounts!.push({ destination: "/proc/sys", type: "tmpfs", source: "tmpfs" });
    createFails(inside, /"\/proc\/sys" cannot be mounted because it is inside \/proc/);
  });

  test.if(IS_BERTH)("a resource value out of range is refused before anything is made, on any host", () => {
    // No BFQ here means no blkio weight file: the value is still what is wrong, and it says so.
    const b = bundle();
    b.config.linux!.resources = { blockIO: { weight: 5 } };
    createFails(b, /linux.resources.blockIO.weight: 5 is below the minimum 10/);
  });

  test("a failure inside the init (a sysctl that does not exist) leaves nothing", () => {
    const b = bundle();
    b.config.linux!.sysctl = { "net.ipv4.no_such_knob": "1" };
    createFails(b, /no_such_knob/);
  });
});

describe("nothing in config.json is silently ignored", () => {
  const unsupported: [string, (b: Bundle) => void, RegExp][] = [
    ["an unknown linux.personality domain", (b) => { b.config.linux!.personality = { domain: "LINUX64" }; }, /personality/],
    ["process.apparmorProfile", (b) => { b.config.process!.apparmorProfile = "berth-test"; }, /apparmor/i],
    ["process.selinuxLabel", (b) => { b.config.process!.selinuxLabel = "system_u:system_r:container_t:s0"; }, /selinux/i],
    ["linux.mountLabel", (b) => { b.config.linux!.mountLabel = "system_u:object_r:container_file_t:s0"; }, /mountLabel|selinux/i],
  ];
  unsupported.push(
    ["an unknown option on a bind mount (the kernel would ignore it)", (b) => {
      b.config.mounts!.push({ destination: "/m", type: "bind", source: b.rootfs, options: ["rbind", "bogus-option"] });
    }, /bogus-option/],
    ["a tmpfs option the kernel refuses", (b) => {
      b.config.mounts!.push({ destination: "/m", type: "tmpfs", source: "tmpfs", options: ["bogus-option=1"] });
    }, /\/m|bogus-option|tmpfs/],
  );
  for (const [field, set, says] of unsupported) {
    test.if(IS_BERTH)(`${field}: create fails with a clear message`, () => {
      const b = bundle();
      set(b);
      createFails(b, says);
    });
  }
});

describe("bad IDs and unknown containers", () => {
  for (const bad of ["../escape", "a/b", ".", "..", "has space"]) {
    test(`bad ID ${JSON.stringify(bad)}`, () => {
      const b = bundle();
      const before = existsSync(root) ? readdirSync(root) : [];
      const r = runtime(root, ["create", "-b", b.dir, bad]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split("\n").length).toBeLessThanOrEqual(IS_BERTH ? 1 : 3);
      expect(existsSync(root) ? readdirSync(root) : []).toEqual(before);
      expect(existsSync(join(root, "..", "escape"))).toBe(false);
    });
  }

  test("duplicate ID: the second create fails, the first container is untouched", () => {
    const b = bundle();
    const id = uniqueId("dup");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const first = stateOf(root, id);
    const r = runtime(root, ["create", "-b", b.dir, id]);
    expectOneLineError(r, IS_BERTH ? new RegExp(`${id}.*(exists|already)|(exists|already).*${id}`) : /exists/);
    const after = stateOf(root, id);
    expect(after.status).toBe("running");
    expect(after.pid).toBe(first.pid);
    expect(processAlive(first.pid!)).toBe(true);
    expect(JSON.parse(ok(root, ["ps", "--format", "json", id]).stdout)).toEqual([first.pid]);
  });

  for (const cmd of [["state"], ["start"], ["kill"], ["delete"], ["ps"], ["exec", "--", "true"], ["pause"], ["resume"]]) {
    test(`unknown container: ${cmd[0]}`, () => {
      const id = uniqueId("ghost");
      const args = cmd[0] === "exec" ? ["exec", id, "true"] : [cmd[0]!, id];
      const r = runtime(root, args);
      // berth names the container; runc only says "container does not exist".
      expectOneLineError(r, IS_BERTH ? new RegExp(`${id}.*(not exist|not found)|(not exist|not found).*${id}`) : /not exist|not found/);
    });
  }

  test("delete --force of an unknown container succeeds quietly (runc does the same)", () => {
    const r = runtime(root, ["delete", "--force", uniqueId("ghost")]);
    expect(r.code).toBe(0);
  });

  test("an ID that is a path is refused by every command, and nothing outside the root is touched", () => {
    const outside = join(root, "..", `berth-outside-${process.pid}`);
    writeFileSync(outside, "keep me\n");
    defer(() => rmSync(outside, { force: true }));
    for (const args of [["delete", "--force"], ["state"], ["kill"], ["delete"]]) {
      const r = runtime(root, [...args, `../berth-outside-${process.pid}`]);
      if (IS_BERTH) expectOneLineError(r, /invalid container ID/);
      else expect(r.code).not.toBe(0);
    }
    expect(readFileSync(outside, "utf8")).toBe("keep me\n");
  });
});
