// berth cp both ways (never through a symlink out of the container), volumes and bind mounts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { berth, cleanupRoot, engineRoot, mountsUnder } from "./helpers.ts";
import { hostDevices, hostInitBinary } from "../../src/engine/host.ts";
import { HOST, lacks } from "../helpers/host.ts";

let root = "";
let host = "";
beforeAll(async () => {
  root = await engineRoot();
  host = mkdtempSync(join(tmpdir(), "berth-cp-"));
});
afterAll(() => {
  cleanupRoot(root);
  rmSync(host, { recursive: true, force: true });
});

describe("cp", () => {
  test("copies files and directories in and out", () => {
    berth(root, ["run", "-d", "--name", "box", "--network", "none", "busybox", "sleep", "60"]);
    writeFileSync(join(host, "in.txt"), "to the container\n");
    expect(berth(root, ["cp", join(host, "in.txt"), "box:/tmp/"]).code).toBe(0);
    expect(berth(root, ["exec", "box", "cat", "/tmp/in.txt"]).stdout).toBe("to the container\n");
    berth(root, ["exec", "box", "sh", "-c", "mkdir -p /srv/d/e && echo deep > /srv/d/e/f && ln -s f /srv/d/e/link"]);
    expect(berth(root, ["cp", "box:/srv/d", join(host, "out")]).code).toBe(0);
    expect(readFileSync(join(host, "out/e/f"), "utf8")).toBe("deep\n");
    expect(readFileSync(join(host, "out/e/link"), "utf8")).toBe("deep\n");
  }, 180_000);

  test("never follows a symlink out of the container", () => {
    const secret = join(host, "secret");
    writeFileSync(secret, "host only\n");
    mkdirSync(join(host, "target"), { recursive: true });
    // Links that point at host paths, absolute and through ../..
    berth(root, ["exec", "box", "sh", "-c", `ln -s ${secret} /abs-link && ln -s ../../../../../../../../${host.slice(1)}/target /rel-link`]);
    // -L follows the link inside the container's root, where the host file is not.
    const out = berth(root, ["cp", "-L", "box:/abs-link", join(host, "got")]);
    expect(out.code).not.toBe(0);
    expect(existsSync(join(host, "got"))).toBe(false);
    // Without -L the link itself is copied (docker's semantics): no file content is read.
    expect(berth(root, ["cp", "box:/abs-link", join(host, "link")]).code).toBe(0);
    expect(lstatSync(join(host, "link")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(host, "link"))).toBe(secret);
    writeFileSync(join(host, "payload"), "x\n");
    const into = berth(root, ["cp", join(host, "payload"), "box:/rel-link/payload"]);
    // Resolved inside the container's root: the file lands in the container, not in host/target.
    expect(existsSync(join(host, "target/payload"))).toBe(false);
    if (into.code === 0) expect(berth(root, ["exec", "box", "cat", `/${host.slice(1)}/target/payload`]).stdout).toBe("x\n");
    expect(berth(root, ["rm", "-f", "box"]).code).toBe(0);
  }, 180_000);

  test("sees the container's volumes and bind mounts", () => {
    const dir = join(host, "bound");
    mkdirSync(dir);
    writeFileSync(join(dir, "b"), "bound file\n");
    berth(root, ["run", "-d", "--name", "mnt", "-v", `${dir}:/mnt`, "-v", "cpvol:/vol", "--network", "none", "busybox", "sh", "-c", "echo in-volume > /vol/v; sleep 60"]);
    expect(berth(root, ["exec", "mnt", "cat", "/vol/v"]).stdout).toBe("in-volume\n");
    expect(berth(root, ["cp", "mnt:/mnt/b", join(host, "b-out")]).code).toBe(0);
    expect(readFileSync(join(host, "b-out"), "utf8")).toBe("bound file\n");
    expect(berth(root, ["cp", "mnt:/vol/v", join(host, "v-out")]).code).toBe(0);
    expect(readFileSync(join(host, "v-out"), "utf8")).toBe("in-volume\n");
    expect(berth(root, ["cp", join(host, "b-out"), "mnt:/vol/"]).code).toBe(0);
    expect(berth(root, ["exec", "mnt", "cat", "/vol/b-out"]).stdout).toBe("bound file\n");
    expect(berth(root, ["rm", "-f", "mnt"]).code).toBe(0);
    expect(berth(root, ["volume", "rm", "cpvol"]).code).toBe(0);
  }, 180_000);

  test("works on a stopped container and unmounts afterwards", () => {
    berth(root, ["run", "--name", "done", "--network", "none", "busybox", "sh", "-c", "echo kept > /result"]);
    expect(berth(root, ["cp", "done:/result", join(host, "result")]).code).toBe(0);
    expect(readFileSync(join(host, "result"), "utf8")).toBe("kept\n");
    expect(mountsUnder(root)).toEqual([]);
    berth(root, ["rm", "done"]);
  }, 180_000);
});

describe("volumes and binds", () => {
  test("a named volume keeps data between containers; in-use volumes cannot be removed", () => {
    expect(berth(root, ["volume", "create", "data"]).stdout).toBe("data\n");
    expect(berth(root, ["run", "--rm", "--network", "none", "-v", "data:/data", "busybox", "sh", "-c", "echo persisted > /data/f"]).code).toBe(0);
    expect(berth(root, ["run", "--rm", "--network", "none", "-v", "data:/data:ro", "busybox", "cat", "/data/f"]).stdout).toBe("persisted\n");
    expect(berth(root, ["run", "--rm", "--network", "none", "-v", "data:/data:ro", "busybox", "sh", "-c", "echo no > /data/g"]).code).not.toBe(0);
    expect(berth(root, ["volume", "ls", "-q"]).stdout).toBe("data\n");
    berth(root, ["create", "--name", "holder", "-v", "data:/data", "busybox", "true"]);
    expect(berth(root, ["volume", "rm", "data"]).stderr).toContain("volume is in use");
    berth(root, ["rm", "holder"]);
    const info = JSON.parse(berth(root, ["volume", "inspect", "data"]).stdout);
    expect(info[0].Name).toBe("data");
    expect(berth(root, ["volume", "rm", "data"]).code).toBe(0);
    expect(berth(root, ["volume", "ls", "-q"]).stdout).toBe("");
  }, 180_000);

  test("bind mounts, read-only binds, tmpfs and --read-only", () => {
    const dir = join(host, "bind");
    mkdirSync(dir);
    writeFileSync(join(dir, "hello"), "from host\n");
    expect(berth(root, ["run", "--rm", "--network", "none", "-v", `${dir}:/mnt`, "busybox", "sh", "-c", "cat /mnt/hello; echo back > /mnt/back"]).stdout).toBe("from host\n");
    expect(readFileSync(join(dir, "back"), "utf8")).toBe("back\n");
    expect(berth(root, ["run", "--rm", "--network", "none", "-v", `${dir}:/mnt:ro`, "busybox", "touch", "/mnt/x"]).code).not.toBe(0);
    expect(berth(root, ["run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c", "touch /scratch/ok && ! touch /nope 2>/dev/null && echo ro-ok"]).stdout).toBe("ro-ok\n");
    expect(mountsUnder(root)).toEqual([]);
  }, 180_000);

  test("anonymous volumes go with rm -v; volume prune removes unused anonymous ones", () => {
    berth(root, ["create", "--name", "anon", "-v", "/cache", "busybox", "true"]);
    expect(berth(root, ["volume", "ls", "-q"]).stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    berth(root, ["rm", "-v", "anon"]);
    expect(berth(root, ["volume", "ls", "-q"]).stdout).toBe("");
    berth(root, ["create", "--name", "anon2", "-v", "/cache", "busybox", "true"]);
    berth(root, ["rm", "anon2"]);
    expect(berth(root, ["volume", "prune", "-f"]).stdout).toContain("Deleted Volumes:");
    expect(berth(root, ["volume", "ls", "-q"]).stdout).toBe("");
  }, 180_000);
});

describe("security flags", () => {
  test("default capabilities, --cap-drop ALL --cap-add, --privileged fitted to the host", () => {
    const eff = (args: string[]) => BigInt("0x" + /CapEff:\s*([0-9a-f]+)/.exec(berth(root, ["run", "--rm", "--network", "none", ...args, "busybox", "cat", "/proc/self/status"]).stdout)![1]);
    expect(eff([])).toBe(0xa80425fbn); // docker's default 14
    expect(eff(["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"])).toBe(1n << 12n);
    const host = BigInt("0x" + /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]);
    expect(eff(["--privileged"])).toBe(host);
    // The host's block devices come along: any one of them (loop devices exist only with the loop
    // module loaded, a VM may have only vda); a host without any has only sysfs to check.
    const disk = hostDevices().find((d) => d.type === "b")?.path;
    const r = berth(root, ["run", "--rm", "--network", "none", "--privileged", "busybox", "sh", "-c", `${disk ? `test -b ${disk} && ` : ""}grep -q ' /sys sysfs rw' /proc/mounts && echo ok`]);
    expect(r.stdout).toBe("ok\n");
  }, 180_000);

  test("seccomp: default blocks, unconfined allows; no-new-privileges", () => {
    // unshare(CLONE_NEWUSER) is refused by the default profile without CAP_SYS_ADMIN.
    expect(berth(root, ["run", "--rm", "--network", "none", "busybox", "unshare", "-U", "true"]).code).not.toBe(0);
    if (!lacks(HOST.userNamespaces, "user namespaces (CONFIG_USER_NS, user.max_user_namespaces > 0): seccomp=unconfined's unshare -U not checked")) {
      expect(berth(root, ["run", "--rm", "--network", "none", "--security-opt", "seccomp=unconfined", "busybox", "unshare", "-U", "true"]).code).toBe(0);
    }
    expect(berth(root, ["run", "--rm", "--network", "none", "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status"]).stdout).toMatch(/NoNewPrivs:\s+1/);
  }, 180_000);

  // --init needs tini on the host (Debian package tini; the static build serves any image).
  test.skipIf(lacks(hostInitBinary() !== null, "tini (apt-get install tini)"))("--init runs the command under tini as pid 1", () => {
    const r = berth(root, ["run", "--rm", "--network", "none", "--init", "busybox", "sh", "-c", "echo $$ $(cat /proc/1/comm); exit 7"]);
    expect(r.stdout).toMatch(/^\d+ (docker-init|tini)/);
    expect(r.stdout).not.toMatch(/^1 /);
    expect(r.code).toBe(7);
  }, 180_000);

  test.skipIf(lacks(!HOST.swapEscapesV1Limit, "swap accounting while swap is on (memory limits cannot force an OOM kill)"))("the OOM killer is recorded", () => {
    const r = berth(root, ["run", "--name", "hog", "-m", "8m", "--memory-swap", "8m", "--network", "none", "busybox", "sh", "-c", "x=$(head -c 64m /dev/zero | tr '\\0' a); echo survived"]);
    expect(r.stdout).toBe("");
    expect(r.code).toBe(137);
    expect(berth(root, ["inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog"]).stdout).toBe("true 137\n");
    expect(berth(root, ["rm", "hog"]).code).toBe(0);
  }, 180_000);

  test("resource limits reach the cgroup", () => {
    const id = berth(root, ["run", "-d", "--network", "none", "-m", "32m", "--cpus", "0.5", "--pids-limit", "50", "--cpu-shares", "512", "busybox", "sleep", "30"]).stdout.trim();
    try {
      const read = (ctrl: string, file: string) => readFileSync(`/sys/fs/cgroup/${ctrl}/berth/${id}/${file}`, "utf8").trim();
      if (existsSync(`/sys/fs/cgroup/memory/berth/${id}`)) {
        expect(read("memory", "memory.limit_in_bytes")).toBe(String(32 * 1024 * 1024));
        expect(read("pids", "pids.max")).toBe("50");
        expect(read("cpu", "cpu.cfs_quota_us")).toBe("50000");
        expect(read("cpu", "cpu.shares")).toBe("512");
      }
      expect(berth(root, ["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}", id]).stdout).toBe(`${32 * 1024 * 1024} 500000000\n`);
    } finally {
      berth(root, ["rm", "-f", id]);
    }
  }, 180_000);
});

describe("root filesystem mount", () => {
  // The root overlay's options as the container's own mount table shows them.
  const rootOptions = (out: string) => out.split("\n").find((l) => l.split(" ")[1] === "/")?.split(" ")[3] ?? "";

  test("run --rm mounts it volatile (no syncs: its upper dir is thrown away); a kept container does not", () => {
    const rm = berth(root, ["run", "--rm", "--network", "none", "busybox", "cat", "/proc/self/mounts"]);
    expect(rm.code).toBe(0);
    expect(rootOptions(rm.stdout)).toContain("volatile");
    const kept = berth(root, ["run", "--name", "kept", "--network", "none", "busybox", "cat", "/proc/self/mounts"]);
    expect(kept.code).toBe(0);
    expect(rootOptions(kept.stdout)).toMatch(/^[a-z]/);
    expect(rootOptions(kept.stdout)).not.toContain("volatile");
    // Started again after a volatile-free run it mounts fine; and writes survive a restart.
    expect(berth(root, ["start", "-a", "kept"]).code).toBe(0);
    expect(berth(root, ["rm", "kept"]).code).toBe(0);
    expect(mountsUnder(root)).toEqual([]);
  }, 120_000);
});
