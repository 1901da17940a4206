// --pid, --ipc, --uts and --cgroupns (docker's namespace modes), compared with the host and with
// another container the way seed 002 compares `ls -l /proc/PID/ns` by hand.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readlinkSync, readFileSync } from "node:fs";
import { berth, cleanupRoot, engineRoot, mountsUnder } from "./helpers.ts";

let root: string;
beforeAll(async () => {
  root = await engineRoot();
});
afterAll(() => cleanupRoot(root));

const run = (...args: string[]) => berth(root, ["run", "--rm", "--network", "none", ...args]);
const hostNs = (type: string) => readlinkSync(`/proc/self/ns/${type}`);
function detached(...args: string[]): string {
  const r = berth(root, ["run", "-d", "--network", "none", ...args]);
  expect(r.stderr).toBe("");
  return r.stdout.trim();
}
const nsOf = (id: string, type: string) => readlinkSync(`/proc/${berth(root, ["inspect", "-f", "{{.State.Pid}}", id]).stdout.trim()}/ns/${type}`);

describe("--pid", () => {
  test("host: the container sees the host's processes (this test's own pid) in the host's pid namespace", () => {
    const r = run("--pid", "host", "busybox", "sh", "-c", `readlink /proc/self/ns/pid; test -d /proc/${process.pid} && echo sees-host`);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${hostNs("pid")}\nsees-host\n`);
    // The default: a namespace of its own, where the command is pid 1's child and the host is invisible.
    expect(run("busybox", "sh", "-c", `test -d /proc/${process.pid} || echo isolated`).stdout).toBe("isolated\n");
  });
  test("container:X: X's processes, X's namespace; X must run", () => {
    const x = detached("--name", "pidx", "busybox", "sleep", "300");
    try {
      const r = run("--pid", "container:pidx", "busybox", "sh", "-c", "readlink /proc/self/ns/pid; ps -o pid,args");
      expect(r.stderr).toBe("");
      const [ns, ...ps] = r.stdout.trim().split("\n");
      expect(ns).toBe(nsOf(x, "pid"));
      expect(ps.some((l) => /^\s*1\s+sleep 300$/.test(l))).toBe(true);
      expect(berth(root, ["inspect", "-f", "{{.HostConfig.PidMode}}", berth(root, ["create", "--pid", "container:pidx", "busybox"]).stdout.trim()]).stdout.trim()).toBe(`container:${x}`);
      berth(root, ["stop", "-t", "0", x]);
      const dead = run("--pid", "container:pidx", "busybox", "true");
      expect(dead.code).toBe(125);
      expect(dead.stderr).toContain("cannot join PID of a non running container");
    } finally {
      berth(root, ["rm", "-f", x]);
    }
  });
  test("bad values are refused before anything is made", () => {
    const r = run("--pid", "nope", "busybox", "true");
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("invalid --pid: nope");
    expect(run("--pid", "container:no-such-container", "busybox", "true").stderr).toContain("no-such-container");
  });
});

describe("--ipc", () => {
  test("container:X shares X's IPC namespace and its /dev/shm objects; X must be shareable", () => {
    const x = detached("--name", "ipcx", "--ipc", "shareable", "busybox", "sh", "-c", "echo from-x > /dev/shm/obj; sleep 300");
    const plain = detached("--name", "ipcplain", "busybox", "sleep", "300");
    try {
      const r = run("--ipc", "container:ipcx", "busybox", "sh", "-c", "readlink /proc/self/ns/ipc; cat /dev/shm/obj; echo from-y > /dev/shm/back");
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe(`${nsOf(x, "ipc")}\nfrom-x\n`);
      expect(berth(root, ["exec", x, "cat", "/dev/shm/back"]).stdout).toBe("from-y\n");
      expect(berth(root, ["inspect", "-f", "{{.HostConfig.IpcMode}}", x]).stdout.trim()).toBe("shareable");
      const refused = run("--ipc", "container:ipcplain", "busybox", "true");
      expect(refused.code).toBe(125);
      expect(refused.stderr).toContain("non-shareable IPC");
    } finally {
      berth(root, ["rm", "-f", x, plain]);
    }
    // The shareable /dev/shm was mounted on the host; it went with the container.
    expect(mountsUnder(root)).toEqual([]);
  });
  test("host: the host's IPC namespace and /dev/shm; none: no /dev/shm", () => {
    expect(run("--ipc", "host", "busybox", "readlink", "/proc/self/ns/ipc").stdout.trim()).toBe(hostNs("ipc"));
    expect(run("busybox", "readlink", "/proc/self/ns/ipc").stdout.trim()).not.toBe(hostNs("ipc"));
    expect(run("--ipc", "none", "busybox", "sh", "-c", "grep -c ' /dev/shm ' /proc/self/mountinfo || true").stdout.trim()).toBe("0");
    const bad = run("--ipc", "host", "--sysctl", "kernel.shmmax=1000000", "busybox", "true");
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain("not allowed with --ipc host");
  });
});

describe("--uts and --cgroupns", () => {
  test("--uts host: the host's hostname and UTS namespace; -h conflicts with it", () => {
    const host = readFileSync("/proc/sys/kernel/hostname", "utf8").trim();
    const r = run("--uts", "host", "busybox", "sh", "-c", "hostname; readlink /proc/self/ns/uts; cat /etc/hostname");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${host}\n${hostNs("uts")}\n${host}\n`);
    const c = run("--uts", "host", "-h", "other", "busybox", "true");
    expect(c.code).toBe(125);
    expect(c.stderr).toContain("conflicting options: hostname and the UTS mode");
  });
  test("--cgroupns host shares the host's cgroup namespace; private (default) has its own", () => {
    expect(run("--cgroupns", "host", "busybox", "readlink", "/proc/self/ns/cgroup").stdout.trim()).toBe(hostNs("cgroup"));
    expect(run("--cgroupns", "private", "busybox", "readlink", "/proc/self/ns/cgroup").stdout.trim()).not.toBe(hostNs("cgroup"));
    expect(run("busybox", "readlink", "/proc/self/ns/cgroup").stdout.trim()).not.toBe(hostNs("cgroup"));
    expect(run("--cgroupns", "shared", "busybox", "true").stderr).toContain(`invalid cgroup namespace mode`);
  });
});
