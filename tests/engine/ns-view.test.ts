// `berth ns`: what `ls -l /proc/PID/ns` and `lsns` show by hand (seeds 002, 004), per container:
// each namespace's inode, and whether it is its own, the host's, or shared with which containers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readlinkSync } from "node:fs";
import { berth, cleanupRoot, engineRoot } from "./helpers.ts";

let root: string;
let a: string, b: string, idle: string;
const pidOf = (id: string) => berth(root, ["inspect", "-f", "{{.State.Pid}}", id]).stdout.trim();
const inode = (link: string) => /\[(\d+)\]/.exec(readlinkSync(link))![1]!;

beforeAll(async () => {
  root = await engineRoot();
  a = berth(root, ["run", "-d", "--name", "nsa", "--network", "none", "busybox", "sleep", "300"]).stdout.trim();
  // Like seed 002's `unshare -p`: b joins a's network and shares the host's PID namespace.
  b = berth(root, ["run", "-d", "--name", "nsb", "--network", "container:nsa", "--pid", "host", "busybox", "sleep", "300"]).stdout.trim();
  idle = berth(root, ["create", "--name", "nsidle", "busybox", "true"]).stdout.trim();
  expect([a, b, idle].every((x) => /^[0-9a-f]{64}$/.test(x))).toBe(true);
});
afterAll(() => cleanupRoot(root));

describe("berth ns CONTAINER...", () => {
  test("each namespace's inode, as /proc/PID/ns says, and who shares it", () => {
    const r = berth(root, ["ns", "nsa", "nsb", "nsidle"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [blockA, blockB, blockIdle] = r.stdout.split("\n\n");
    const row = (block: string, type: string) => block.split("\n").find((l) => l.startsWith(`${type} `))!.trim().split(/\s{2,}/);
    const pa = pidOf(a), pb = pidOf(b);
    expect(blockA!.split("\n")[0]).toBe(`nsa (${a.slice(0, 12)}), init pid ${pa} on the host`);
    expect(blockA!.split("\n")[1]!.split(/\s+/)).toEqual(["TYPE", "NS", "SHARED", "WITH"]);
    for (const type of ["cgroup", "ipc", "mnt", "net", "pid", "uts", "user"]) {
      expect(row(blockA!, type)[1]).toBe(`${type}:[${inode(`/proc/${pa}/ns/${type}`)}]`);
      expect(row(blockB!, type)[1]).toBe(`${type}:[${inode(`/proc/${pb}/ns/${type}`)}]`);
    }
    expect(row(blockA!, "net")[2]).toBe("nsb");
    expect(row(blockB!, "net")[2]).toBe("nsa");
    expect(row(blockA!, "pid")[2]).toBe("nobody (its own)");
    expect(row(blockB!, "pid")[2]).toBe("the host");
    expect(row(blockA!, "mnt")[2]).toBe("nobody (its own)");
    expect(row(blockA!, "user")[2]).toBe("the host, nsb");
    expect(blockIdle).toBe(`nsidle (${idle.slice(0, 12)}): not running, so it has no namespaces\n`);
  });

  test("--format json", () => {
    const r = berth(root, ["ns", "--format", "json", "nsb", "nsidle"]);
    const out = JSON.parse(r.stdout) as { Name: string; Running: boolean; Pid: number; Namespaces: { Type: string; Inode: number; Host: boolean; SharedWith: string[] }[] }[];
    expect(out.map((c) => [c.Name, c.Running])).toEqual([["nsb", true], ["nsidle", false]]);
    const pid = out[0]!.Namespaces.find((n) => n.Type === "pid")!;
    expect(pid).toEqual({ Type: "pid", Inode: Number(inode("/proc/self/ns/pid")), Host: true, SharedWith: [] });
    expect(out[0]!.Namespaces.find((n) => n.Type === "net")!.SharedWith).toEqual(["nsa"]);
    expect(out[1]!.Namespaces).toEqual([]);
  });

  test("errors: no such container, a format it does not know", () => {
    const r = berth(root, ["ns", "no-such"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("no-such");
    expect(berth(root, ["ns", "--format", "yaml"]).stderr).toContain(`invalid --format "yaml"`);
  });
});

describe("berth ns (every container's namespaces, like lsns)", () => {
  test("one row per namespace in use, with its processes and containers", () => {
    const r = berth(root, ["ns"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]!.split(/\s+/)).toEqual(["NS", "TYPE", "NPROCS", "PID", "HOST", "CONTAINERS"]);
    const rows = lines.slice(1).map((l) => l.trim().split(/\s{2,}/));
    const find = (ino: string) => rows.find((x) => x[0] === ino)!;
    const pa = pidOf(a);
    // a's own pid namespace: one process (its sleep), a's pid, not the host's.
    expect(find(inode(`/proc/${pa}/ns/pid`))).toEqual([inode(`/proc/${pa}/ns/pid`), "pid", "1", pa, "no", "nsa"]);
    // The network namespace a and b share.
    expect(find(inode(`/proc/${pa}/ns/net`)).slice(1)).toEqual(["net", "2", pa, "no", "nsa, nsb"]);
    // The host's pid namespace, which b is in.
    const hostPid = find(inode("/proc/self/ns/pid"));
    expect(hostPid[1]).toBe("pid");
    expect(hostPid[4]).toBe("yes");
    expect(hostPid[5]).toBe("nsb");
    expect(rows.some((x) => x[5]!.includes("nsidle"))).toBe(false);
    const json = JSON.parse(berth(root, ["ns", "--format", "json"]).stdout) as { Type: string; Host: boolean; Containers: string[] }[];
    expect(json.find((u) => u.Type === "pid" && u.Host)!.Containers).toEqual(["nsb"]);
  });
});
