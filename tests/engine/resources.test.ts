// docker's resource, device and process-limit flags of run/create reach the kernel (the
// container's cgroup files, its /proc, its mounts), and `berth update` changes a running
// container's cgroup and what inspect says.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BERTH, berth, cleanupRoot, engineRoot, eventually } from "./helpers.ts";
import { blkioWeightSupported } from "../../src/cgroups/features.ts";
import { lacks } from "../helpers/host.ts";

const V1 = "/sys/fs/cgroup";
const v1 = (ctrl: string) => existsSync(join(V1, ctrl, "cgroup.procs")) && !existsSync(join(V1, "cgroup.controllers"));
const HAS_V1 = v1("memory") && v1("cpu") && v1("pids") && v1("cpuset");
const BLOCK = readdirSync("/sys/block").find((d) => /^(vd|sd|nvme|xvd)/.test(d) && existsSync(`/dev/${d}`));

let root = "";
let scratch = "";
beforeAll(async () => {
  root = await engineRoot();
  scratch = mkdtempSync(join(tmpdir(), "berth-res-"));
});
afterAll(() => {
  cleanupRoot(root);
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs a command in a fresh container (no network) and returns its stdout; fails on error. */
function inside(flags: string[], script: string): string {
  const r = berth(root, ["run", "--rm", "--network", "none", ...flags, "busybox", "sh", "-c", script]);
  if (r.code !== 0) throw new Error(`run failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

function refused(flags: string[]): string {
  const r = berth(root, ["run", "--rm", "--network", "none", ...flags, "busybox", "true"]);
  expect(r.code).toBe(125);
  return r.stderr;
}

describe.skipIf(lacks(HAS_V1, "v1 memory, cpu, pids and cpuset controllers"))("run's resource flags reach the cgroup", () => {
  test("--cpu-quota, --cpu-period and --cpuset-cpus/--cpuset-mems", () => {
    const out = inside(["--cpu-quota", "50000", "--cpu-period", "200000", "--cpuset-cpus", "0", "--cpuset-mems", "0"],
      "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset/cpuset.mems; grep Cpus_allowed_list /proc/self/status");
    expect(out.split("\n").slice(0, 4)).toEqual(["50000", "200000", "0", "0"]);
    expect(out).toMatch(/Cpus_allowed_list:\s+0\n/);
  });

  test("--memory-reservation and --oom-kill-disable", () => {
    const out = inside(["-m", "64m", "--memory-reservation", "32m", "--oom-kill-disable"],
      "cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes; grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control");
    expect(out).toBe(`${32 * 1024 * 1024}\noom_kill_disable 1\n`);
  });

  test("--oom-score-adj, --ulimit and --shm-size reach the process", () => {
    const out = inside(["--oom-score-adj", "300", "--ulimit", "nofile=512:1024", "--ulimit", "nproc=100", "--shm-size", "8m"],
      "cat /proc/self/oom_score_adj; ulimit -n; ulimit -Hn; grep 'Max processes' /proc/self/limits; grep ' /dev/shm ' /proc/mounts");
    const [adj, soft, hard, nproc, shm] = out.trim().split("\n");
    expect([adj, soft, hard]).toEqual(["300", "512", "1024"]);
    expect(nproc).toMatch(/Max processes\s+100\s+100\s/);
    expect(shm).toContain("size=8192k");
  });

  test.skipIf(lacks(BLOCK !== undefined, "a block device (vd*, sd*, nvme*) to throttle"))("--device-read-bps and friends", () => {
    const dev = `/dev/${BLOCK}`;
    const out = inside(["--device-read-bps", `${dev}:1mb`, "--device-write-bps", `${dev}:2mb`, "--device-read-iops", `${dev}:100`, "--device-write-iops", `${dev}:200`],
      "cd /sys/fs/cgroup/blkio && cat blkio.throttle.read_bps_device blkio.throttle.write_bps_device blkio.throttle.read_iops_device blkio.throttle.write_iops_device");
    expect(out.trim().split("\n").map((l) => l.split(" ")[1])).toEqual(["1048576", "2097152", "100", "200"]);
    expect(refused(["--device-read-bps", "/dev/null:1mb"])).toContain("/dev/null is not a block device");
    expect(refused(["--device-read-bps", "/nonexistent:1mb"])).toContain("no such device: /nonexistent");
  });

  test("--blkio-weight: the weight where the host weighs I/O, a clear refusal where it cannot", () => {
    if (blkioWeightSupported()) {
      expect(inside(["--blkio-weight", "300"], "cat /sys/fs/cgroup/blkio/blkio.weight /sys/fs/cgroup/blkio/blkio.bfq.weight 2>/dev/null | head -1").trim()).toMatch(/300$/);
    } else {
      expect(refused(["--blkio-weight", "300"])).toContain("this host cannot weigh block I/O between groups");
    }
    expect(refused(["--blkio-weight", "5"])).toContain("Range of blkio weight is from 10 to 1000");
  });

  test("--cgroup-parent puts the container's group under the parent", () => {
    const parent = `berth-test-parent-${process.pid}`;
    try {
      const id = berth(root, ["run", "-d", "--network", "none", "--cgroup-parent", parent, "busybox", "sleep", "30"]).stdout.trim();
      expect(id).toMatch(/^[0-9a-f]{64}$/);
      const procs = readFileSync(join(V1, "memory", parent, id, "cgroup.procs"), "utf8").trim().split("\n");
      expect(procs.length).toBeGreaterThan(0);
      // The engine finds it there: pause freezes it, top lists it, rm removes it.
      expect(berth(root, ["pause", id]).code).toBe(0);
      expect(readFileSync(join(V1, "freezer", parent, id, "freezer.state"), "utf8").trim()).toBe("FROZEN");
      expect(berth(root, ["unpause", id]).code).toBe(0);
      expect(berth(root, ["top", id]).stdout).toContain("sleep 30");
      expect(berth(root, ["rm", "-f", id]).code).toBe(0);
      expect(existsSync(join(V1, "memory", parent, id))).toBe(false);
    } finally {
      for (const h of readdirSync(V1)) try { rmdirSync(join(V1, h, parent)); } catch { /* not there */ }
    }
  });

  test("refusals: --kernel-memory, --cpus with --cpu-quota, CPUs the host lacks, a negative OOM score without CAP_SYS_RESOURCE", () => {
    expect(refused(["--kernel-memory", "10m"])).toContain("--kernel-memory is not supported: the kernel has no separate kernel-memory limit");
    expect(refused(["--cpus", "1", "--cpu-quota", "5000"])).toContain("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    expect(refused(["--cpu-period", "10"])).toContain("--cpu-period: 10 is below the minimum 1000");
    expect(refused(["--cpuset-cpus", "0-4095"])).toMatch(/Requested CPUs are not available - requested 0-4095, available: /);
    expect(refused(["-m", "16m", "--memory-reservation", "32m"])).toContain("Minimum memory limit can not be less than memory reservation limit");
    expect(refused(["--oom-score-adj", "1001"])).toContain("range for oom score adj is [-1000, 1000]");
    expect(refused(["--ulimit", "nofile=10:5"])).toContain("ulimit soft limit must be less than or equal to hard limit");
    expect(refused(["--ulimit", "bogus=1"])).toContain("invalid ulimit type: bogus");
  });
});

describe("devices", () => {
  test("--device makes the host node in the container and allows it; without it the deny-all cgroup refuses the node", () => {
    // /dev/loop-control (10:237) is not among the devices every container may open.
    const denied = berth(root, ["run", "--rm", "--network", "none", "busybox", "sh", "-c", "mknod /dev/lc c 10 237 && dd if=/dev/lc of=/dev/null count=0"]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("Operation not permitted");
    const out = inside(["--device", "/dev/loop-control:/dev/lc:rw"], "ls -l /dev/lc; dd if=/dev/lc of=/dev/null count=0 2>&1; cat /sys/fs/cgroup/devices/devices.list 2>/dev/null");
    expect(out).toMatch(/^crw-------\s+1 root\s+root\s+10,\s+237 .* \/dev\/lc$/m);
    expect(out).toContain("0+0 records in");
    if (v1("devices")) expect(out).toContain("c 10:237 rw\n");
  });

  test("--device-cgroup-rule allows a node made in the container", () => {
    expect(inside(["--device-cgroup-rule", "c 10:* rwm"], "mknod /dev/lc c 10 237 && dd if=/dev/lc of=/dev/null count=0 2>&1")).toContain("0+0 records in");
    expect(refused(["--device-cgroup-rule", "c 10 rwm"])).toContain("use TYPE MAJOR:MINOR ACCESS");
    expect(refused(["--device", "/etc/passwd"])).toContain("/etc/passwd is not a device node");
  });
});

describe("process and mounts", () => {
  test("--group-add by name (the image's /etc/group) and by number", () => {
    expect(inside(["-u", "33", "--group-add", "nogroup", "--group-add", "1234"], "id -G").trim().split(" ").sort()).toEqual(["1234", "33", "65534"]);
    const r = berth(root, ["run", "--rm", "--network", "none", "--group-add", "nosuchgroup", "busybox", "true"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Unable to find group nosuchgroup");
  });

  test("--mount bind (readonly, propagation), volume (nocopy) and tmpfs (size, mode)", () => {
    const dir = join(scratch, "bind");
    require("node:fs").mkdirSync(dir);
    writeFileSync(join(dir, "f"), "from the host\n");
    const out = inside([
      "--mount", `type=bind,source=${dir},target=/b,readonly,bind-propagation=rshared`,
      "--mount", "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770",
      "--mount", "type=volume,src=mountvol,dst=/etc,volume-nocopy",
      "--mount", "type=volume,dst=/var/www",
    ], "cat /b/f; touch /b/x 2>&1; grep ' /t ' /proc/mounts; stat -c %a /t; ls /etc | wc -l; cat /var/www/index.html; grep ' /b ' /proc/self/mountinfo");
    expect(out).toContain("from the host\n");
    expect(out).toContain("Read-only file system");
    expect(out).toMatch(/ \/t tmpfs rw,.*size=1024k,mode=1770/);
    expect(out).toContain("\n1770\n");
    expect(out).toContain("\n0\n"); // volume-nocopy: the image's /etc was not copied in
    expect(out).toContain("hello from berth\n"); // an anonymous volume is filled from the image
    expect(out).toMatch(/ \/b ro,\S* shared:\d+ /); // rshared
    // The named volume stays; the anonymous one went with the --rm container.
    expect(berth(root, ["volume", "ls", "-q"]).stdout.trim().split("\n")).toEqual(["mountvol"]);
    expect(berth(root, ["volume", "rm", "mountvol"]).code).toBe(0);
    for (const [flags, msg] of [
      [["--mount", "type=bind,src=/nonexistent,dst=/x"], "bind source path does not exist: /nonexistent"],
      [["--mount", "type=tmpfs,src=x,dst=/x"], "field Source must not be specified"],
      [["--mount", "type=volume,dst=/x,tmpfs-size=1m"], "cannot mix 'tmpfs-size' with a volume mount"],
      [["--mount", "type=bind,src=/tmp"], "target is required"],
      [["--mount", "type=nfs,dst=/x"], "unsupported mount type"],
    ] as const) expect(refused([...flags])).toContain(msg);
  });

  test("-v honours its propagation and nocopy modes (they were accepted and dropped)", () => {
    const dir = join(scratch, "vbind");
    require("node:fs").mkdirSync(dir);
    const out = inside(["-v", `${dir}:/b:rshared`, "-v", "vnocopy:/etc:nocopy"], "grep ' /b ' /proc/self/mountinfo; ls /etc | wc -l");
    expect(out).toMatch(/ \/b rw,\S* shared:\d+ /);
    expect(out.trim().split("\n").at(-1)).toBe("0");
    berth(root, ["volume", "rm", "vnocopy"]);
    expect(refused(["-v", "vol:/x:rshared"])).toContain("applies to host directories");
  });

  test("--cidfile holds the new container's ID, and an existing one is refused", () => {
    const file = join(scratch, "cid");
    const id = berth(root, ["create", "--network", "none", "--cidfile", file, "busybox", "true"]).stdout.trim();
    expect(readFileSync(file, "utf8")).toBe(id);
    const again = berth(root, ["create", "--network", "none", "--cidfile", file, "busybox", "true"]);
    expect(again.code).toBe(125);
    expect(again.stderr).toContain(`Container ID file found, make sure the other container isn't running or delete ${file}`);
    berth(root, ["rm", id]);
  });
});

describe("run's attach flags", () => {
  test("-a shows only the streams asked for; -a with -d and an unknown stream are refused", () => {
    const script = "echo out; echo err >&2";
    const out = berth(root, ["run", "--rm", "--network", "none", "-a", "stdout", "busybox", "sh", "-c", script]);
    expect([out.code, out.stdout, out.stderr]).toEqual([0, "out\n", ""]);
    const err = berth(root, ["run", "--rm", "--network", "none", "-a", "STDERR", "busybox", "sh", "-c", script]);
    expect([err.code, err.stdout, err.stderr]).toEqual([0, "", "err\n"]);
    expect(berth(root, ["run", "--rm", "-d", "-a", "stdout", "busybox", "true"]).stderr).toContain("Conflicting options: -a and -d");
    expect(berth(root, ["run", "--rm", "-a", "stdlog", "busybox", "true"]).stderr).toContain("valid streams are STDIN, STDOUT and STDERR");
  });

  async function signalled(name: string, flags: string[]): Promise<number | null> {
    const p = Bun.spawn([BERTH, "--root", root, "run", "--name", name, "--network", "none", ...flags, "busybox", "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"], { stdout: "ignore", stderr: "ignore" });
    expect(await eventually(() => berth(root, ["ps", "--filter", `name=${name}`, "--format", "{{.State}}"]).stdout === "running\n")).toBe(true);
    p.kill("SIGTERM");
    await p.exited;
    return p.exitCode;
  }

  test("--sig-proxy (default): a TERM to berth reaches the container; --sig-proxy=false leaves it running", async () => {
    expect(await signalled("proxied", [])).toBe(7);
    expect(berth(root, ["inspect", "-f", "{{.State.ExitCode}}", "proxied"]).stdout).toBe("7\n");
    expect(await signalled("unproxied", ["--sig-proxy=false"])).not.toBe(7);
    expect(berth(root, ["ps", "--filter", "name=unproxied", "--format", "{{.State}}"]).stdout).toBe("running\n");
    berth(root, ["rm", "-f", "proxied", "unproxied"]);
  });
});

describe.skipIf(lacks(HAS_V1, "v1 memory, cpu and pids controllers"))("berth cgroup on a container", () => {
  test("stat, get and set find the container's group by name or ID (also under --cgroup-parent)", () => {
    const parent = `berth-test-cgp-${process.pid}`;
    let a = "", b = "";
    try {
      a = berth(root, ["run", "-d", "--name", "cg-by-name", "--network", "none", "-m", "32m", "--pids-limit", "20", "busybox", "sleep", "60"]).stdout.trim();
      b = berth(root, ["run", "-d", "--network", "none", "--cgroup-parent", parent, "busybox", "sleep", "60"]).stdout.trim();
      const stat = berth(root, ["cgroup", "stat", "cg-by-name"]);
      expect(stat.code).toBe(0);
      expect(stat.stdout).toContain(`cgroup /berth/${a} `);
      expect(stat.stdout).toMatch(/memory\s+\S+\s+32\.0MiB/);
      expect(stat.stdout).toMatch(/pids\s+1\s+20/);
      expect(berth(root, ["cgroup", "stat", b.slice(0, 12)]).stdout).toContain(`cgroup /${parent}/${b} `);
      expect(berth(root, ["cgroup", "get", "-r", "pids.max", a.slice(0, 12)]).stdout).toBe("pids.max: 20\n");
      // set changes the running group, and says that the container's record is changed by update.
      const set = berth(root, ["cgroup", "set", "-r", "pids.max=30", "cg-by-name"]);
      expect(set.code).toBe(0);
      expect(set.stderr).toContain("use `berth update` to change the container's limits");
      expect(readFileSync(join(V1, "pids", "berth", a, "pids.max"), "utf8").trim()).toBe("30");
      expect(berth(root, ["cgroup", "stat", "no-such-thing"]).code).not.toBe(0);
    } finally {
      // the containers first, even when an assertion failed: the parent group is busy until then
      const made = [a, b].filter(Boolean);
      if (made.length) berth(root, ["rm", "-f", ...made]);
      for (const h of readdirSync(V1)) try { rmdirSync(join(V1, h, parent)); } catch { /* not there */ }
    }
  });
});

describe.skipIf(lacks(HAS_V1, "v1 memory, cpu and pids controllers"))("berth update", () => {
  test("changes a running container's cgroup and what inspect says", () => {
    const id = berth(root, ["run", "-d", "--network", "none", "-m", "64m", "--cpus", "0.5", "--pids-limit", "50", "busybox", "sleep", "60"]).stdout.trim();
    const file = (ctrl: string, f: string) => readFileSync(join(V1, ctrl, "berth", id, f), "utf8").trim();
    expect(file("memory", "memory.limit_in_bytes")).toBe(String(64 * 1024 * 1024));
    const u = berth(root, ["update", "-m", "128m", "--cpus", "1.5", "--cpu-shares", "256", "--pids-limit", "80", "--restart", "on-failure:3", id.slice(0, 12)]);
    expect(u.code).toBe(0);
    expect(u.stdout).toBe(`${id.slice(0, 12)}\n`);
    expect(file("memory", "memory.limit_in_bytes")).toBe(String(128 * 1024 * 1024));
    expect(file("cpu", "cpu.cfs_quota_us")).toBe("150000");
    expect(file("cpu", "cpu.shares")).toBe("256");
    expect(file("pids", "pids.max")).toBe("80");
    const hc = JSON.parse(berth(root, ["inspect", id]).stdout)[0].HostConfig;
    expect([hc.Memory, hc.NanoCpus, hc.CpuShares, hc.PidsLimit, hc.RestartPolicy]).toEqual([128 * 1024 * 1024, 1_500_000_000, 256, 80, { Name: "on-failure", MaximumRetryCount: 3 }]);
    expect(berth(root, ["update", "--pids-limit", "-1", id]).code).toBe(0);
    expect(file("pids", "pids.max")).toBe("max");
    // A bad value changes nothing.
    const bad = berth(root, ["update", "-m", "3m", id]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain("Minimum memory limit allowed is 6MB");
    expect(file("memory", "memory.limit_in_bytes")).toBe(String(128 * 1024 * 1024));
    expect(berth(root, ["update", id]).stderr).toContain("You must provide one or more flags");
    berth(root, ["rm", "-f", id]);
  });

  test("a stopped container's new limits apply at its next start; --restart is refused with --rm", () => {
    const id = berth(root, ["create", "--network", "none", "busybox", "cat", "/sys/fs/cgroup/pids/pids.max"]).stdout.trim();
    expect(berth(root, ["update", "--pids-limit", "42", id]).code).toBe(0);
    expect(berth(root, ["start", "-a", id]).stdout).toBe("42\n");
    berth(root, ["rm", "-f", id]);
    const rm = berth(root, ["create", "--rm", "--network", "none", "busybox", "true"]).stdout.trim();
    expect(berth(root, ["update", "--restart", "always", rm]).stderr).toContain("Restart policy cannot be updated because AutoRemove is enabled");
    berth(root, ["rm", "-f", rm]);
  });
});
