// linux.namespaces: new ones, ones joined by path, user namespaces with id maps, time offsets.
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeBusyboxBundle, useBundles, type Bundle } from "../helpers/bundle.ts";
import { ok, runBundle, runtime, stateOf, uniqueId, useStateRoot, useCleanups } from "../helpers/runtime.ts";
import { HOST, lacks } from "../helpers/host.ts";

const NO_USERNS = lacks(HOST.userNamespaces, "user namespaces (CONFIG_USER_NS, user.max_user_namespaces > 0)");
const NO_TIMENS = lacks(HOST.timeNamespaces, "time namespaces (CONFIG_TIME_NS)");

const root = useStateRoot();
const defer = useCleanups();

const newBundle = useBundles(defer);
const bundle = (args: string[], opts: Parameters<typeof makeBusyboxBundle>[0] = {}): Bundle => newBundle({ ...opts, args });

function sh(cmd: string): string[] {
  return ["sh", "-c", cmd];
}

describe("no mount namespace (runc runs such a config)", () => {
  test("the process shares the host's mount namespace and filesystem, in its own pid namespace", () => {
    const b = bundle(["/bin/sh", "-c", "readlink /proc/self/ns/mnt; readlink /proc/self/ns/pid; echo $$; pwd; test -e /etc/debian_version && echo host-fs"]);
    b.config.linux!.namespaces = b.config.linux!.namespaces!.filter((ns) => ns.type !== "mount");
    delete b.config.linux!.maskedPaths;
    delete b.config.linux!.readonlyPaths;
    b.config.process!.cwd = "/tmp";
    b.save();
    const r = runBundle(root, b.dir);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("not applied (as runc)") });
    const [mnt, pid, self, cwd, fs] = r.stdout.trim().split("\n");
    expect(mnt).toBe(`mnt:[${statSync("/proc/self/ns/mnt").ino}]`);
    expect(pid).not.toBe(`pid:[${statSync("/proc/self/ns/pid").ino}]`);
    expect(self).toBe("1");
    expect(cwd).toBe("/tmp");
    expect(fs).toBe("host-fs");
    expect(r.stderr).toContain("not applied (as runc)");
  });
  test("masked paths without a mount namespace are refused in runc's words", () => {
    const b = bundle(["true"]);
    b.config.linux!.namespaces = b.config.linux!.namespaces!.filter((ns) => ns.type !== "mount");
    b.save();
    const r = runBundle(root, b.dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("unable to restrict sys entries without a private MNT namespace");
  });
});

describe("namespaces joined by path", () => {
  test("network namespace from `ip netns add` (inode equality)", () => {
    const name = uniqueId("berth-ns");
    const add = Bun.spawnSync(["ip", "netns", "add", name], { stderr: "pipe" });
    expect(add.exitCode).toBe(0);
    defer(() => {
      Bun.spawnSync(["ip", "netns", "del", name]);
    });
    const path = `/var/run/netns/${name}`;
    const b = bundle(["readlink", "/proc/self/ns/net"]);
    b.config.linux!.namespaces = b.config.linux!.namespaces!.map((ns) => (ns.type === "network" ? { type: "network", path } : ns));
    b.save();
    const r = runBundle(root, b.dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`net:[${statSync(path).ino}]`);
  });

  test("uts and ipc namespaces of a running container (/proc/PID/ns/*)", () => {
    const first = bundle(["sleep", "1000"]);
    first.config.hostname = "shared-uts";
    first.save();
    const id = uniqueId("owner");
    ok(root, ["run", "-d", "-b", first.dir, id]);
    const pid = stateOf(root, id).pid!;
    const b = bundle(sh("hostname; readlink /proc/self/ns/uts; readlink /proc/self/ns/ipc"));
    delete b.config.hostname; // the joined namespace keeps its own
    b.config.linux!.namespaces = b.config.linux!.namespaces!.map((ns) =>
      ns.type === "uts" || ns.type === "ipc" ? { type: ns.type, path: `/proc/${pid}/ns/${ns.type}` } : ns);
    b.save();
    const r = runBundle(root, b.dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [host, uts, ipc] = r.stdout.trim().split("\n");
    expect(host).toBe("shared-uts");
    expect(uts).toBe(`uts:[${statSync(`/proc/${pid}/ns/uts`).ino}]`);
    expect(ipc).toBe(`ipc:[${statSync(`/proc/${pid}/ns/ipc`).ino}]`);
  });
});

describe("new namespaces", () => {
  test("cgroup namespace: the container's cgroups appear as the root", () => {
    const b = bundle(["cat", "/proc/self/cgroup"]);
    // runc's spec (and so ours) has one only on a cgroup-v2-only host.
    if (!b.config.linux!.namespaces!.some((n) => n.type === "cgroup")) b.config.linux!.namespaces!.push({ type: "cgroup" });
    b.save();
    const r = runBundle(root, b.dir);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.endsWith(":/")).toBe(true);
  });

  test.skipIf(NO_USERNS)("user namespace: container uid 0 is host uid 100000", () => {
    const b = bundle(sh("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; exec sleep 1000"), { owner: { uid: 100000, gid: 100000 } });
    const hostdir = mkdtempSync(join(tmpdir(), "berth-host-"));
    chmodSync(hostdir, 0o755);
    writeFileSync(join(hostdir, "f"), "host\n");
    defer(() => rmSync(hostdir, { recursive: true, force: true }));
    b.config.mounts!.push({ destination: "/hostdir", type: "bind", source: hostdir, options: ["rbind", "rw"] });
    b.config.linux!.namespaces!.push({ type: "user" });
    b.config.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    b.config.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    b.save();
    const id = uniqueId("userns");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const pid = stateOf(root, id).pid!;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(/^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/)).toEqual(["100000", "100000", "100000", "100000"]);
    expect(/^Gid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/)).toEqual(["100000", "100000", "100000", "100000"]);
    expect(readFileSync(`/proc/${pid}/uid_map`, "utf8").trim().split(/\s+/)).toEqual(["0", "100000", "65536"]);
    expect(readFileSync(`/proc/${pid}/gid_map`, "utf8").trim().split(/\s+/)).toEqual(["0", "100000", "65536"]);
    expect(ok(root, ["exec", id, "id", "-u"]).stdout).toBe("0\n");
    // The container's root is not the host's root: a host root-owned file bound in rw stays unwritable.
    const w = runtime(root, ["exec", id, "sh", "-c", "echo x >> /hostdir/f"]);
    expect(w.code).not.toBe(0);
    expect(readFileSync(join(hostdir, "f"), "utf8")).toBe("host\n");
  });

  test.skipIf(NO_USERNS)("user namespace: a writable rootfs file made inside is owned by 100000 on the host", () => {
    const b = bundle(sh("touch /tmp/mine && id -u"), { owner: { uid: 100000, gid: 100000 } });
    b.config.root!.readonly = false;
    b.config.linux!.namespaces!.push({ type: "user" });
    b.config.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    b.config.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    b.save();
    const r = runBundle(root, b.dir);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("0\n");
    expect(statSync(`${b.rootfs}/tmp/mine`).uid).toBe(100000);
    expect(statSync(`${b.rootfs}/tmp/mine`).gid).toBe(100000);
  });

  test.skipIf(NO_TIMENS)("time namespace: boottime and monotonic offsets", () => {
    const days = 10 * 86400;
    const b = bundle(sh("cat /proc/uptime; readlink /proc/self/ns/time"));
    b.config.linux!.namespaces!.push({ type: "time" });
    b.config.linux!.timeOffsets = { boottime: { secs: days, nanosecs: 0 }, monotonic: { secs: days, nanosecs: 0 } };
    b.save();
    const hostUptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    const r = runBundle(root, b.dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [uptime, ns] = r.stdout.trim().split("\n");
    // /proc/uptime follows the boottime clock: at least the offset plus the host's uptime.
    expect(Number(uptime!.split(" ")[0])).toBeGreaterThanOrEqual(days + hostUptime);
    expect(ns).not.toBe(`time:[${statSync("/proc/self/ns/time").ino}]`);
  });
});
