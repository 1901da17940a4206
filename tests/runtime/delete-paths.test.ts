// The short ways delete takes, and their fallbacks. A stopped container's cgroups: rmdir of the
// directories create recorded in its state (cgroupDirs), with the cgroup manager's careful way
// (kill what is left, remove the tree) when a group is still busy or the state has no such record
// (written by an older build). Its state directory: unlink of create's files, then rmdir, with a
// recursive removal for anything else found there.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { useBundles } from "../helpers/bundle.ts";
import { IS_BERTH, cgroupLeftovers, ok, processAlive, stateOf, uniqueId, useCleanups, useStateRoot, waitFor } from "../helpers/runtime.ts";

const root = useStateRoot();
const defer = useCleanups();
const bundle = useBundles(defer);

/** A container whose `true` has run and exited: stopped, its groups still there. */
async function stopped(): Promise<string> {
  const b = bundle({ args: ["true"] });
  b.config.process!.terminal = false;
  b.save();
  const id = uniqueId("delcg");
  ok(root, ["create", "--bundle", b.dir, id]);
  defer(() => { if (existsSync(join(root, id))) ok(root, ["delete", "--force", id]); });
  ok(root, ["start", id]);
  await waitFor(() => stateOf(root, id).status === "stopped", "the container to stop");
  return id;
}

const statePath = (id: string) => join(root, id, "state.json");

describe.if(IS_BERTH)("delete and the container's cgroups", () => {
  test("create records the group directories; delete removes them all", async () => {
    const id = await stopped();
    const dirs = JSON.parse(readFileSync(statePath(id), "utf8")).cgroupDirs as Record<string, string>;
    expect(Object.keys(dirs).length).toBeGreaterThan(0);
    for (const d of Object.values(dirs)) expect(existsSync(d)).toBe(true);
    expect(cgroupLeftovers(id).length).toBeGreaterThan(0);
    ok(root, ["delete", id]);
    expect(cgroupLeftovers(id)).toEqual([]);
    expect(existsSync(join(root, id))).toBe(false);
  });

  test("a state without the record (an older build's): delete still removes the groups", async () => {
    const id = await stopped();
    const rec = JSON.parse(readFileSync(statePath(id), "utf8"));
    delete rec.cgroupDirs;
    writeFileSync(statePath(id), JSON.stringify(rec));
    ok(root, ["delete", id]);
    expect(cgroupLeftovers(id)).toEqual([]);
    expect(existsSync(join(root, id))).toBe(false);
  });

  test("a group that still holds a process: delete kills it and removes the groups", async () => {
    const id = await stopped();
    const dirs = JSON.parse(readFileSync(statePath(id), "utf8")).cgroupDirs as Record<string, string>;
    const dir = dirs.pids ?? dirs.memory ?? dirs.unified!;
    // A process of the host's, moved into one of the container's groups after its init exited.
    const straggler = Bun.spawn(["sleep", "1000"], { stdio: ["ignore", "ignore", "ignore"] });
    defer(() => straggler.kill(9));
    writeFileSync(join(dir, "cgroup.procs"), String(straggler.pid));
    ok(root, ["delete", id]);
    await straggler.exited;
    expect(processAlive(straggler.pid)).toBe(false);
    expect(cgroupLeftovers(id)).toEqual([]);
  });
});

describe("delete and the state directory", () => {
  test("files create did not make (a sub-directory too) are removed with it", async () => {
    const id = await stopped();
    writeFileSync(join(root, id, "exec-1-2.plan"), "left by an exec");
    mkdirSync(join(root, id, "sub"));
    writeFileSync(join(root, id, "sub", "x"), "x");
    ok(root, ["delete", id]);
    expect(existsSync(join(root, id))).toBe(false);
  });

  test("delete --force of a state path that is a symlink removes the link, never what it points to", () => {
    const id = uniqueId("dellink");
    const target = join(root, `target-${id}`);
    mkdirSync(target, { recursive: true }); // the root too, when this test runs alone
    writeFileSync(join(target, "plan"), "keep me"); // no state.json: the container counts as missing
    symlinkSync(target, join(root, id));
    ok(root, ["delete", "--force", id]);
    expect(existsSync(join(root, id))).toBe(false);
    expect(readFileSync(join(target, "plan"), "utf8")).toBe("keep me");
  });
});
