// runc's command-line conventions that runc's own integration suite (tests/integration, see
// scripts/runc-bats.sh) checks: --debug lines and where they go, ps through the host's ps(1),
// `foo -h`. BERTH_TEST_RUNTIME=runc runs the same expectations against runc.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { useBundles } from "../helpers/bundle.ts";
import { RUNTIME, ok, runtime, stateOf, uniqueId, useCleanups, useStateRoot, waitFor } from "../helpers/runtime.ts";

const root = useStateRoot();
const defer = useCleanups();
const bundle = useBundles(defer);

function detached(args = ["sleep", "1000"]): { id: string; dir: string } {
  const b = bundle({ args });
  b.config.process!.terminal = false;
  b.save();
  const id = uniqueId("cli");
  ok(root, ["run", "-d", "--bundle", b.dir, id]);
  return { id, dir: b.dir };
}

describe("--debug", () => {
  test("without --log: debug lines on stderr in logrus' text format", () => {
    const b = bundle({ args: ["true"] });
    b.config.process!.terminal = false;
    b.save();
    const r = runtime(root, ["--debug", "run", "--bundle", b.dir, uniqueId("dbg")]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^time="[^"]+" level=debug msg="/m);
    expect(r.stderr).toContain("nsexec container setup");
  });

  test("with --log: debug lines only in the log (text or json), none on stderr", () => {
    for (const format of ["text", "json"]) {
      const b = bundle({ args: ["true"] });
      b.config.process!.terminal = false;
      b.save();
      const log = join(b.dir, "log.out");
      const r = runtime(root, ["--log", log, "--log-format", format, "--debug", "run", "--bundle", b.dir, uniqueId("dbg")]);
      expect(r.code).toBe(0);
      expect(r.stderr).not.toContain("level=debug");
      const text = readFileSync(log, "utf8");
      expect(text).toContain(format === "json" ? '"level":"debug"' : "level=debug");
      expect(text).toContain("init: closing the pipe to signal completion");
    }
  });

  test("exec --debug names its steps", () => {
    const { id } = detached();
    const r = runtime(root, ["--debug", "exec", id, "true"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("level=debug");
    expect(r.stderr).toContain("setns_init: about to exec");
  });
});

describe("ps", () => {
  test("the host's ps -ef, filtered to the container's processes; arguments after the ID go to ps", () => {
    const { id } = detached();
    const init = stateOf(root, id).pid;
    const table = ok(root, ["ps", id]).stdout.trim().split("\n");
    expect(table[0]).toMatch(/UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD/);
    expect(table.length).toBe(2);
    expect(table[1]!.trim().split(/\s+/)[1]).toBe(String(init));
    const ex = ok(root, ["ps", id, "-e", "-x"]).stdout.trim().split("\n");
    expect(ex[0]).toMatch(/PID\s+TTY\s+STAT\s+TIME\s+COMMAND/);
    expect(ex[1]).toContain("sleep 1000");
  });

  test("a stopped container: the header only, status 0", async () => {
    const { id } = detached();
    ok(root, ["kill", id, "KILL"]);
    await waitFor(() => stateOf(root, id).status === "stopped", "the container to stop");
    const r = ok(root, ["ps", id]);
    expect(r.stdout.trim().split("\n").length).toBe(1);
    expect(JSON.parse(ok(root, ["ps", "--format", "json", id]).stdout) ?? []).toEqual([]); // runc prints null
  });
});

test("a .env or bunfig.toml in the working directory is not read (as runc reads neither)", () => {
  const dir = bundle().dir;
  writeFileSync(join(dir, ".env"), "BERTH_TRACE=1\n");
  writeFileSync(join(dir, "bunfig.toml"), "preload = [\"./nothing-here.ts\"]\n");
  const r = runtime(root, ["state", "nope"], { cwd: dir });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("does not exist");
  expect(r.stderr).not.toContain("[trace");
});

test("an unknown command's -h: urfave/cli's 'No help topic'", () => {
  const r = runtime(root, ["foo", "-h"]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("No help topic for 'foo'");
});

describe("cgroups that already exist", () => {
  const FREEZER = "/sys/fs/cgroup/freezer";

  test.if(existsSync(`${FREEZER}/tasks`))("a frozen one is refused (runc's words), not waited on forever, and left as it was", () => {
    const path = `/berth-test-frozen-${uniqueId()}`;
    mkdirSync(FREEZER + path);
    defer(() => rmdirSync(FREEZER + path));
    writeFileSync(`${FREEZER}${path}/freezer.state`, "FROZEN");
    const b = bundle({ args: ["true"] });
    b.config.process!.terminal = false;
    b.config.linux!.cgroupsPath = path;
    b.save();
    for (const verb of ["run", "create"]) {
      const r = runtime(root, [verb, "--bundle", b.dir, ...(verb === "run" ? ["-d"] : []), uniqueId("frz")], { timeoutMs: 30_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("container's cgroup unexpectedly frozen");
    }
    expect(readFileSync(`${FREEZER}${path}/freezer.state`, "utf8").trim()).toBe("FROZEN");
  });

  test("a second container in the same cgroup: refused, it is not empty (runc 1.2)", () => {
    const path = `/berth-test-shared-${uniqueId()}`;
    const b = bundle({ args: ["sleep", "1000"] });
    b.config.process!.terminal = false;
    b.config.linux!.cgroupsPath = path;
    b.save();
    const first = uniqueId("sh1");
    ok(root, ["run", "-d", "--bundle", b.dir, first]);
    for (const verb of ["run", "create"]) {
      const r = runtime(root, [verb, "--bundle", b.dir, ...(verb === "run" ? ["-d"] : []), uniqueId("sh2")]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("container's cgroup is not empty: 1 process(es) found");
    }
    // the first container, in the group, is left as it was
    expect(JSON.parse(ok(root, ["state", first]).stdout).status).toBe("running");
  });

  test("exec into a paused container: refused, or with --ignore-paused run once resumed", async () => {
    const { id } = detached();
    ok(root, ["pause", id]);
    const refused = runtime(root, ["exec", id, "true"]);
    expect(refused.code).toBe(255);
    expect(refused.stderr).toContain("cannot exec in a paused container");
    const exec = Bun.spawn([RUNTIME, "--root", root, "exec", "--ignore-paused", id, "echo", "ok"], { stdout: "pipe" });
    await Bun.sleep(300); // let it reach the frozen group first (not an assertion on timing)
    ok(root, ["resume", id]);
    expect(await exec.exited).toBe(0);
    expect(await new Response(exec.stdout).text()).toBe("ok\n");
  });
});

test.if(existsSync("/sys/fs/cgroup/memory/tasks") && existsSync("/sys/fs/cgroup/unified/cgroup.procs"))("unified resources for a controller bound to v1: 'invalid configuration' (runc's words)", () => {
  const b = bundle({ args: ["true"] });
  b.config.process!.terminal = false;
  b.config.linux!.resources = { unified: { "memory.min": "131072" } };
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("uni")]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("invalid configuration");
});

test("a device in linux.devices under a 'deny all' device cgroup: the node exists, opening it is not permitted (as in runc)", () => {
  const b = bundle({ args: ["sh", "-c", "test -c /dev/kmsg && echo node; head -c1 /dev/kmsg; echo status=$?"] });
  b.config.process!.terminal = false;
  b.config.linux!.resources = { devices: [{ allow: false, access: "rwm" }] };
  b.config.linux!.devices = [{ path: "/dev/kmsg", type: "c", major: 1, minor: 11 }];
  // CAP_SYSLOG, or reading the kernel log is refused whatever the device cgroup says.
  const caps = b.config.process!.capabilities!;
  for (const set of ["bounding", "effective", "permitted"] as const) caps[set] = [...(caps[set] ?? []), "CAP_SYSLOG"];
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("dev")]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("node\n");
  expect(r.stdout).toContain("status=1");
  expect(r.stderr).toContain("Operation not permitted");
});

test("events --interval takes Go durations (100ms, 1s); it ends when the container is deleted", async () => {
  const { id } = detached();
  const events = Bun.spawn([RUNTIME, "--root", root, "events", "--interval", "100ms", id], { stdout: "pipe", stderr: "pipe" });
  const reader = events.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  expect(first).toStartWith(`{"type":"stats","id":"${id}",`);
  ok(root, ["delete", "--force", id]);
  expect(await events.exited).toBe(0);
  const bad = runtime(root, ["events", "--interval", "5x", id]);
  expect(bad.code).not.toBe(0);
});

test("list: containers by name, as runc lists them", () => {
  const prefix = uniqueId("ls");
  for (const n of ["2", "3", "1"]) {
    const b = bundle({ args: ["sleep", "1000"] });
    b.config.process!.terminal = false;
    b.save();
    ok(root, ["run", "-d", "--bundle", b.dir, `${prefix}-${n}`]);
  }
  const ids = ok(root, ["list", "-q"]).stdout.split("\n").filter((l) => l.startsWith(prefix));
  expect(ids).toEqual([1, 2, 3].map((n) => `${prefix}-${n}`));
  const table = ok(root, ["list"]).stdout.split("\n").filter((l) => l.startsWith(prefix));
  expect(table[0]).toMatch(new RegExp(`^${prefix}-1\\s+\\d+\\s+running\\s+/`));
});

test("proc or sysfs on a symlink in the image is refused (runc's words), nothing mounted through it", () => {
  for (const dir of ["proc", "sys"]) {
    const b = bundle({ args: ["true"] });
    b.config.process!.terminal = false;
    b.save();
    rmSync(join(b.rootfs, dir), { recursive: true, force: true });
    symlinkSync("/symlink", join(b.rootfs, dir));
    const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("sym")]);
    expect(r.code).toBe(1);
    if (dir === "proc") expect(r.stderr).toContain("must be mounted on ordinary directory"); // runc's /sys may fail earlier on cgroup v1
    expect(existsSync(join(b.rootfs, "symlink"))).toBe(false);
  }
});

test("the process's stdio belongs to its user (runc's fixStdioPermissions)", () => {
  const b = bundle({ args: ["sh", "-c", "stat -c %u /proc/self/fd/1"] });
  b.config.process!.terminal = false;
  b.config.process!.user = { uid: 1000, gid: 100 };
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("own")]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("1000\n");
});

test.if(existsSync("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"))("update --memory -1 lifts a swap limit too; --cpu-share is runc's spelling", () => {
  const b = bundle({ args: ["sleep", "1000"] });
  b.config.process!.terminal = false;
  const path = `/berth-test-upd-${uniqueId()}`;
  b.config.linux!.cgroupsPath = path;
  b.config.linux!.resources = { memory: { limit: 32 << 20, swap: 64 << 20 } };
  b.save();
  const id = uniqueId("upd");
  ok(root, ["run", "-d", "--bundle", b.dir, id]);
  const r = runtime(root, ["update", "--memory", "-1", id]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const mem = `/sys/fs/cgroup/memory${path}`;
  expect(Number(readFileSync(`${mem}/memory.limit_in_bytes`, "utf8"))).toBeGreaterThan(2 ** 40);
  expect(Number(readFileSync(`${mem}/memory.memsw.limit_in_bytes`, "utf8"))).toBeGreaterThan(2 ** 40);
  ok(root, ["update", "--cpu-share", "200", id]);
  expect(readFileSync(`/sys/fs/cgroup/cpu${path}/cpu.shares`, "utf8").trim()).toBe("200");
});

test.if(existsSync("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"))("update --cpu-period with --cpu-quota under a parent with a CPU limit (runc's pod case)", () => {
  const pod = `/berth-test-pod-${uniqueId()}`;
  mkdirSync(`/sys/fs/cgroup/cpu${pod}`);
  // The runtime makes the pod's directory in the other hierarchies (as runc does) and leaves it.
  defer(() => {
    for (const h of readdirSync("/sys/fs/cgroup")) if (existsSync(`/sys/fs/cgroup/${h}${pod}`)) rmdirSync(`/sys/fs/cgroup/${h}${pod}`);
  });
  writeFileSync(`/sys/fs/cgroup/cpu${pod}/cpu.cfs_quota_us`, "50000");
  const b = bundle({ args: ["sleep", "1000"] });
  b.config.process!.terminal = false;
  b.config.linux!.cgroupsPath = `${pod}/ct`;
  b.config.linux!.resources = { cpu: { quota: 500000, period: 1000000 } }; // 50 %, as runc's update.bats sets up
  b.save();
  const id = uniqueId("pod");
  ok(root, ["run", "-d", "--bundle", b.dir, id]);
  defer(() => runtime(root, ["delete", "--force", id]));
  expect(runtime(root, ["update", "--cpu-quota", "600000", id]).code).toBe(1); // above the pod's 50 %
  const r = runtime(root, ["update", "--cpu-period", "10000", "--cpu-quota", "3000", id]);
  expect(r.stderr).toBe("");
  expect(readFileSync(`/sys/fs/cgroup/cpu${pod}/ct/cpu.cfs_period_us`, "utf8").trim()).toBe("10000");
  expect(readFileSync(`/sys/fs/cgroup/cpu${pod}/ct/cpu.cfs_quota_us`, "utf8").trim()).toBe("3000");
});

test("sharing the host's pid namespace, /proc may be a bind of the host's proc (runc's start_hello); any other bind there is refused", () => {
  const b = bundle({ args: ["sh", "-c", "test -e /proc/1/status && echo proc-ok"] });
  b.config.process!.terminal = false;
  b.config.linux!.namespaces = b.config.linux!.namespaces!.filter((n) => n.type !== "pid");
  b.config.mounts = b.config.mounts!.map((m) => (m.type === "proc" ? { destination: "/proc", type: "none", source: "/proc", options: ["rbind", "nosuid", "nodev", "noexec"] } : m));
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("hostpid")]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("proc-ok\n");
  b.config.mounts = b.config.mounts!.map((m) => (m.destination === "/proc" ? { ...m, source: "/tmp" } : m));
  b.save();
  const bad = runtime(root, ["run", "--bundle", b.dir, uniqueId("hostpid")]);
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain("cannot be mounted because it is not of type proc");
});

test("createContainer hooks run from the container's root (relative paths name its files)", () => {
  const b = bundle({ args: ["cat", "/lib/marker"] });
  b.config.process!.terminal = false;
  b.config.root!.readonly = false;
  mkdirSync(join(b.rootfs, "lib"), { recursive: true });
  b.config.hooks = { createContainer: [{ path: "/bin/sh", args: ["sh", "-c", "echo from-hook > ./lib/marker"] }] };
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("hook")]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("from-hook\n");
});

test("seccomp notify errors in runc's words", () => {
  const b = bundle({ args: ["true"] });
  b.config.process!.terminal = false;
  b.config.linux!.seccomp = { defaultAction: "SCMP_ACT_ALLOW", listenerPath: join(b.dir, "nobody.sock"), syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] };
  b.save();
  expect(runtime(root, ["run", "--bundle", b.dir, uniqueId("ntf")]).stderr).toContain("failed to connect with seccomp agent");
  b.config.linux!.seccomp.syscalls = [{ names: ["write"], action: "SCMP_ACT_NOTIFY" }];
  b.save();
  expect(runtime(root, ["run", "--bundle", b.dir, uniqueId("ntf")]).stderr).toContain("SCMP_ACT_NOTIFY cannot be used for the write syscall");
});
