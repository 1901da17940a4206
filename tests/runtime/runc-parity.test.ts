// What runc's integration suite (tests/integration at v1.1.x, run by scripts/runc-bats.sh) checks
// and berth-runtime now does as runc does: help and -v under the name the program was run by,
// exec --cgroup, a read-only /dev, the recursive mount options, --no-pivot hiding the host's
// /proc, startContainer hooks under the process's seccomp filter, device access letters, a named
// cgroup hierarchy joined, a tmpfs's mode and tmpcopyup, joining another container's user namespace.
// From v1.2.9's suite: an execve error said by the process, a failing poststart hook, personality,
// ioPriority, scheduler, the CPU affinity reset, kill KILL without a pid namespace, joining a time
// namespace, no state-dir fd in a created init.
// BERTH_TEST_RUNTIME=PATH runs the same expectations against runc: the v1.2.9 ones pass against
// runc 1.2.9, the earlier ones against runc 1.1.15 (against 1.2.9 all but the startContainer
// seccomp one, whose failure text runc 1.2 words differently; Debian's runc 1.1.5 predates the
// tmpfs mode and joined-user-namespace fixes).
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bundle, useBundles } from "../helpers/bundle.ts";
import { IS_BERTH, RUNTIME, ok, runtime, uniqueId, useCleanups, useStateRoot } from "../helpers/runtime.ts";

const root = useStateRoot();
const defer = useCleanups();
const bundle = useBundles(defer);

/** Runs the runtime through a symlink with another name, as a tool that looks for "runc" would. */
function runAs(name: string, args: string[]): { code: number; lines: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "berth-name-"));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(RUNTIME, join(dir, name));
  const r = Bun.spawnSync([join(dir, name), ...args], { stdout: "pipe", stderr: "pipe" });
  // bats' `lines`: the output's non-empty lines.
  return { code: r.exitCode ?? -1, lines: r.stdout.toString().split("\n").filter((l) => l !== "") };
}

describe("help and -v: urfave/cli's layout, under the name the program was run by", () => {
  test("installed as runc, it answers as runc's suite expects (help.bats, version.bats)", () => {
    for (const flag of ["-h", "--help"]) {
      const h = runAs("runc", [flag]);
      expect(h.code).toBe(0);
      expect(h.lines[0]).toBe("NAME:");
      expect(h.lines[1]).toMatch(/^ *runc - Open Container Initiative runtime/);
    }
    for (const cmd of ["delete", "exec", "kill", "list", "run", "spec", "state", "update"]) {
      const h = runAs("runc", [cmd, "-h"]);
      expect(h.code).toBe(0);
      expect(h.lines[0]).toBe("NAME:");
      expect(h.lines[1]).toMatch(new RegExp(`^ *runc ${cmd}\\b`));
    }
    const v = runAs("runc", ["-v"]);
    expect(v.code).toBe(0);
    expect(v.lines[0]).toMatch(/^runc version \d+\.\d+\.\d+/);
    expect(v.lines[1]).toMatch(/^commit: ./);
    expect(v.lines[2]).toMatch(/^spec: \d+\.\d+\.\d+/);
  });

  test.if(IS_BERTH)("as berth-runtime, it names itself berth-runtime", () => {
    const h = runAs("berth-runtime", ["delete", "--help"]);
    expect(h.lines.slice(0, 2)).toEqual(["NAME:", "   berth-runtime delete - remove a stopped container"]);
    expect(runAs("berth-runtime", ["-v"]).lines[0]).toMatch(/^berth-runtime version \d+\.\d+\.\d+$/);
  });
});

const V1_CPU_MEMORY = existsSync("/sys/fs/cgroup/memory/tasks") && existsSync("/sys/fs/cgroup/cpu/tasks") && existsSync("/sys/fs/cgroup/cpuacct/tasks");

test.if(V1_CPU_MEMORY)("exec --cgroup joins existing sub-cgroups of the container's; '..', a missing one, an unknown controller are refused (runc's words)", () => {
  const path = `/berth-test-sub-${uniqueId()}`;
  const b = bundle({ args: ["sleep", "1000"] });
  b.config.process!.terminal = false;
  b.config.linux!.cgroupsPath = path;
  b.save();
  const id = uniqueId("sub");
  ok(root, ["run", "-d", "--bundle", b.dir, id]);

  const up = runtime(root, ["exec", "--cgroup", "..", id, "true"]);
  expect(up.code).not.toBe(0);
  expect(up.stderr).toContain(" .. is not a sub cgroup path");
  for (const arg of ["nonexistent", "cpu:nonexistent"]) {
    const missing = runtime(root, ["exec", "--cgroup", arg, id, "true"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/ adding pid .*\/nonexistent\/cgroup\.procs: no such file /);
  }
  const unknown = runtime(root, ["exec", "--cgroup", "whaaat:/", id, "true"]);
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toContain("unknown controller ");

  // No --cgroup, or "/": the container's own groups.
  for (const extra of [[], ["--cgroup", "/"]]) {
    const own = ok(root, ["exec", ...extra, id, "cat", "/proc/self/cgroup"]).stdout;
    expect(own).toContain(`:memory:${path}\n`);
  }
  // The sub-groups are made from the host here (the suite makes them through a writable cgroup
  // mount); delete removes them with the container's groups.
  mkdirSync(`/sys/fs/cgroup/memory${path}/submem`);
  for (const c of new Set([realpathSync("/sys/fs/cgroup/cpu"), realpathSync("/sys/fs/cgroup/cpuacct")])) mkdirSync(`${c}${path}/subcpu`);
  const r = ok(root, ["exec", "--cgroup", "memory:submem", "--cgroup", "cpu,cpuacct:subcpu", id, "cat", "/proc/self/cgroup"]);
  expect(r.stdout).toContain(`:memory:${path}/submem\n`);
  expect(r.stdout).toMatch(new RegExp(`:cpu[,:].*${path}/subcpu\n`));
  expect(r.stdout).toMatch(new RegExp(`:pids:${path}\n`)); // the others: the container's own
});

test.if(V1_CPU_MEMORY)("every hierarchy is joined, a named one (name=systemd) too: each line of /proc/self/cgroup names the container's path", () => {
  const path = `/berth-test-all-${uniqueId()}`;
  const b = bundle({ args: ["cat", "/proc/self/cgroup"] });
  b.config.process!.terminal = false;
  b.config.linux!.cgroupsPath = path;
  b.save();
  const lines = ok(root, ["run", "--bundle", b.dir, uniqueId("all")]).stdout.split("\n").filter((l) => l);
  expect(lines.length).toBeGreaterThan(1);
  expect(lines.filter((l) => !l.endsWith(`:${path}`))).toEqual([]);
});

test("tmpfs: over an existing directory it takes the directory's mode unless mode= is given; tmpcopyup starts it with the directory's contents", () => {
  const b = bundle({ args: ["sh", "-c", "stat -c %a /d1 /d2 /d3; stat -c %a /d3/sub; cat /d3/sub/f; readlink /d3/l"] });
  b.config.process!.terminal = false;
  for (const d of ["d1", "d2", "d3"]) mkdirSync(join(b.rootfs, d));
  Bun.spawnSync(["chmod", "1710", join(b.rootfs, "d1")]);
  mkdirSync(join(b.rootfs, "d3/sub"));
  Bun.spawnSync(["chmod", "777", join(b.rootfs, "d3/sub")]);
  writeFileSync(join(b.rootfs, "d3/sub/f"), "copied\n");
  symlinkSync("sub/f", join(b.rootfs, "d3/l"));
  b.config.mounts!.push(
    { destination: "/d1", type: "tmpfs", source: "tmpfs", options: ["nosuid"] },
    { destination: "/d2", type: "tmpfs", source: "tmpfs", options: ["mode=0410"] },
    { destination: "/d3", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup"] },
  );
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("tmpfs")]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("1710\n410\n755\n777\ncopied\nsub/f\n");
});

/** A running container whose namespaces `setup` adds to (a user namespace mapped to 100000/200000),
 *  and a second one joining every namespace of it by path but the mount namespace, whose path is
 *  empty (a new one). Returns the second's id. */
function joinedContainer(setup: (config: Bundle["config"]) => void): string {
  const target = bundle({ args: ["sleep", "1000"] });
  target.config.process!.terminal = false;
  setup(target.config);
  target.config.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65534 }];
  target.config.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65534 }];
  target.save();
  Bun.spawnSync(["chown", "-R", "100000:200000", target.rootfs]);
  const tid = uniqueId("target");
  ok(root, ["run", "-d", "--bundle", target.dir, tid]);
  const pid = JSON.parse(ok(root, ["state", tid]).stdout).pid as number;
  const b = bundle({ args: ["sleep", "1000"] });
  b.config.process!.terminal = false;
  b.config.linux!.namespaces = target.config.linux!.namespaces!.map((ns) =>
    ns.type === "mount" ? { type: "mount", path: "" } : { type: ns.type, path: `/proc/${pid}/ns/${{ network: "net" }[ns.type as string] ?? ns.type}` });
  b.save();
  Bun.spawnSync(["chown", "-R", "100000:200000", b.rootfs]);
  const id = uniqueId("joined");
  ok(root, ["run", "-d", "--bundle", b.dir, id]);
  return id;
}

test("joining another container's namespaces by path: its user namespace too (the init is root there), and an empty path is a new namespace", () => {
  const id = joinedContainer((c) => c.linux!.namespaces!.push({ type: "user" }));
  expect(ok(root, ["exec", id, "cat", "/proc/self/uid_map"]).stdout).toMatch(/^\s+0\s+100000\s+65534$/m);
  expect(ok(root, ["exec", id, "cat", "/proc/self/gid_map"]).stdout).toMatch(/^\s+0\s+200000\s+65534$/m);
});

test("a read-only /dev is filled first (device nodes, devpts), then made read-only (runc's ro /dev)", () => {
  const b = bundle({ args: ["sh", "-c", "grep '^tmpfs /dev ' /proc/mounts; test -c /dev/null && test -d /dev/pts/ && echo filled; touch /dev/x 2>&1; true"] });
  b.config.process!.terminal = false;
  b.config.mounts = b.config.mounts!.map((m) => (m.destination === "/dev" ? { ...m, options: [...(m.options ?? []), "ro"] } : m));
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("rodev")]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^tmpfs \/dev tmpfs ro,nosuid,/m);
  expect(r.stdout).toContain("filled\n");
  expect(r.stdout).toContain("Read-only file system");
});

describe("recursive mount options (mount_setattr AT_RECURSIVE)", () => {
  /** A host directory with a tmpfs mounted at sub/, removed (unmounted first) after the test. */
  function treeWithSubmount(): string {
    const src = mkdtempSync(join(tmpdir(), "berth-rro-"));
    mkdirSync(join(src, "sub"));
    const m = Bun.spawnSync(["mount", "-t", "tmpfs", "tmpfs", join(src, "sub")], { stderr: "pipe" });
    if (m.exitCode !== 0) throw new Error(`mount tmpfs: ${m.stderr}`);
    defer(() => {
      Bun.spawnSync(["umount", join(src, "sub")]);
      rmSync(src, { recursive: true, force: true });
    });
    return src;
  }

  for (const options of [["rbind", "rro"], ["rbind", "ro", "rro"]]) {
    test(`${options.join(",")}: the bind and every mount under it are read-only; the host's stay writable`, () => {
      const src = treeWithSubmount();
      const b = bundle({ args: ["sh", "-c", "touch /mnt/a 2>&1; touch /mnt/sub/b 2>&1; true"] });
      b.config.process!.terminal = false;
      b.config.mounts!.push({ destination: "/mnt", type: "bind", source: src, options });
      b.save();
      const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("rro")]);
      expect(r.stderr).toBe("");
      expect(r.stdout.match(/Read-only file system/g)?.length).toBe(2);
      expect(existsSync(join(src, "a")) || existsSync(join(src, "sub/b"))).toBe(false);
      writeFileSync(join(src, "sub/host"), "still writable");
    });
  }

  test("rnoexec: nothing under the bind runs, and it stays writable", () => {
    const src = treeWithSubmount();
    writeFileSync(join(src, "sub/run.sh"), "#!/bin/sh\necho ran\n", { mode: 0o755 });
    const b = bundle({ args: ["sh", "-c", "/mnt/sub/run.sh 2>&1; touch /mnt/sub/w 2>&1 && echo wrote"] });
    b.config.process!.terminal = false;
    b.config.mounts!.push({ destination: "/mnt", type: "bind", source: src, options: ["rbind", "rnoexec"] });
    b.save();
    const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("rnoexec")]);
    expect(r.stdout).toContain("Permission denied");
    expect(r.stdout).not.toContain("ran\n");
    expect(r.stdout).toContain("wrote\n");
  });
});

test("--no-pivot: the host's /proc is not left for a user namespace to copy (unshare cannot mount a bare /proc)", () => {
  const b = bundle({ args: ["unshare", "-mrpf", "sh", "-euxc", "mount -t proc none /proc && echo h > /proc/sysrq-trigger"] });
  b.config.process!.terminal = false;
  const caps = b.config.process!.capabilities!;
  for (const set of ["bounding", "permitted"] as const) caps[set] = [...(caps[set] ?? []), "CAP_SETFCAP"];
  b.save();
  const r = runtime(root, ["run", "--no-pivot", "--bundle", b.dir, uniqueId("nopivot")]);
  expect(r.code).toBe(1);
  expect(r.stdout + r.stderr).toContain("mount: permission denied");
});

test("startContainer hooks run under the process's seccomp filter, as runc runs them; the failure in runc's words", () => {
  const b = bundle({ args: ["/bin/true"] });
  b.config.process!.terminal = false;
  b.config.linux!.seccomp = {
    defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_KILL" }],
  };
  b.config.hooks = { startContainer: [{ path: "/bin/sh", args: ["sh", "-c", "mkdir /dev/shm/foo"] }] };
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("schook")]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("error running hook");
  expect(r.stderr).toContain("bad system call");
});

test("device rule access letters other than r, w, m are dropped, as runc's rule emulator drops them", () => {
  const b = bundle({ args: ["sh", "-c", "echo x > /dev/null && echo fine"] });
  b.config.process!.terminal = false;
  b.config.linux!.resources = { devices: [{ allow: false, access: "rwm" }, { allow: false, type: "c", major: 1, minor: 11, access: "rwa" }] };
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("rwa")]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("fine\n");
  if (IS_BERTH) expect(r.stderr).toContain(`linux.resources.devices[1].access: "rwa" has letters other than r, w, m; using "rw"`);
});

test("a foreground run with a terminal passes the process's output as written: no \\r added (runc clears ONLCR on the pty)", () => {
  const b = bundle({ args: ["sh", "-c", "echo one; echo two"] });
  b.config.process!.terminal = true;
  b.save();
  // As runc's suite runs it: stdin a terminal (script's pty), stdout a file.
  const out = join(b.dir, "out");
  const cmd = `${RUNTIME} --root ${root} run --bundle ${b.dir} ${uniqueId("onlcr")} > ${out}`;
  const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  expect(r.exitCode).toBe(0);
  const text = readFileSync(out, "utf8");
  expect(text).toEndWith("one\ntwo\n"); // after the pty's echo of what script(1) sends first
  expect(text).not.toContain("\r");
});

test("a failing hook reads as runc's at every stage the runtime or the init runs: error running STAGE hook #N", () => {
  for (const stage of ["prestart", "createRuntime", "createContainer", "startContainer"] as const) {
    const b = bundle({ args: ["echo", "ran"] });
    b.config.process!.terminal = false;
    b.config.hooks = { [stage]: [{ path: "/bin/true" }, { path: "/bin/false" }] };
    b.save();
    const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("hookfail")]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toContain("ran");
    expect(r.stderr).toContain(`error running ${stage} hook #1:`); // runc 1.2's words (1.1's are checked with seccomp above)
  }
});

test("process.user with a uid only runs as gid 0 (runc reads a missing id as 0)", () => {
  const b = bundle({ args: ["id", "-g"] });
  b.config.process!.terminal = false;
  b.config.process!.user = { uid: 0 } as { uid: number; gid: number };
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("nogid")]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("0\n");
});

test.if(existsSync("/sys/fs/cgroup/cpu/cpu.cfs_burst_us"))("update --cpu-burst sets the CFS burst, and a later update of something else leaves it (runc 1.2)", () => {
  const path = `/berth-test-burst-${uniqueId()}`;
  const b = bundle({ args: ["sleep", "1000"] });
  b.config.process!.terminal = false;
  b.config.linux!.cgroupsPath = path;
  b.save();
  const id = uniqueId("burst");
  ok(root, ["run", "-d", "--bundle", b.dir, id]);
  const burst = () => readFileSync(`/sys/fs/cgroup/cpu${path}/cpu.cfs_burst_us`, "utf8").trim();
  expect(burst()).toBe("0");
  ok(root, ["update", id, "--cpu-period", "900000", "--cpu-burst", "500000"]);
  expect(burst()).toBe("500000");
  ok(root, ["update", id, "--pids-limit", "100"]);
  expect(burst()).toBe("500000");
  ok(root, ["update", id, "--cpu-period", "900000", "--cpu-burst", "0"]);
  expect(burst()).toBe("0");
});

test("exec --cap: a capability the config makes inheritable is raised into the ambient set too (runc 1.2)", () => {
  const b = bundle({ args: ["sleep", "1000"] });
  b.config.process!.terminal = false;
  b.config.process!.capabilities = {
    bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_SYSLOG"], effective: ["CAP_CHOWN", "CAP_KILL"], permitted: ["CAP_CHOWN", "CAP_KILL"],
    inheritable: ["CAP_CHOWN", "CAP_SYSLOG"], ambient: ["CAP_CHOWN"],
  };
  b.save();
  const id = uniqueId("ambient");
  ok(root, ["run", "-d", "--bundle", b.dir, id]);
  expect(ok(root, ["exec", id, "cat", "/proc/self/status"]).stdout).toContain("CapAmb:\t0000000000000001");
  const r = ok(root, ["exec", "--cap", "CAP_SYSLOG", id, "cat", "/proc/self/status"]).stdout;
  expect(r).toContain("CapEff:\t0000000400000021");
  expect(r).toContain("CapAmb:\t0000000400000001");
});

test("an execve failure is said by the process alone, in runc 1.2's words, status 255 (run and exec)", () => {
  const b = bundle({ args: ["/run.sh"] });
  b.config.process!.terminal = false;
  b.save();
  writeFileSync(join(b.rootfs, "run.sh"), "#!/mmnnttbb foo bar\nsh\n", { mode: 0o755 });
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("execve")]);
  expect(r.code).toBe(255);
  expect(r.stdout + r.stderr).toBe("exec /run.sh: no such file or directory\n");

  const d = bundle({ args: ["sleep", "1000"] });
  d.config.process!.terminal = false;
  d.save();
  writeFileSync(join(d.rootfs, "run.sh"), "#!/mmnnttbb foo bar\nsh\n", { mode: 0o755 });
  const id = uniqueId("execve");
  ok(root, ["run", "-d", "--bundle", d.dir, id]);
  const e = runtime(root, ["exec", id, "/run.sh"]);
  expect(e.code).toBe(255);
  expect(e.stdout + e.stderr).toBe("exec /run.sh: no such file or directory\n");
});

test("a failing poststart hook fails run and kills the process (runc 1.2)", () => {
  const b = bundle({ args: ["sh", "-c", "sleep 2; echo ran"] });
  b.config.process!.terminal = false;
  b.config.hooks = { poststart: [{ path: "/bin/true" }, { path: "/bin/false" }] };
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("poststart")]);
  expect(r.code).not.toBe(0);
  expect(r.stdout).not.toContain("ran");
  expect(r.stderr).toContain("error running poststart hook #1:");
});

test.if(process.arch === "x64")("linux.personality: LINUX32 makes uname say i686 for the init and for exec; LINUX keeps x86_64", () => {
  for (const [domain, machine] of [["LINUX32", "i686"], ["LINUX", "x86_64"]] as const) {
    const b = bundle({ args: ["uname", "-m"] });
    b.config.process!.terminal = false;
    b.config.linux!.personality = { domain, flags: [] };
    b.save();
    expect(ok(root, ["run", "--bundle", b.dir, uniqueId("pers")]).stdout).toBe(`${machine}\n`);
    b.config.process!.args = ["sleep", "1000"];
    b.save();
    const id = uniqueId("pers");
    ok(root, ["run", "-d", "--bundle", b.dir, id]);
    expect(ok(root, ["exec", id, "uname", "-m"]).stdout).toBe(`${machine}\n`);
  }
  const bad = bundle({ args: ["true"] });
  bad.config.process!.terminal = false;
  bad.config.linux!.personality = { domain: "LINUX64" };
  bad.save();
  const r = runtime(root, ["run", "--bundle", bad.dir, uniqueId("pers")]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("invalid personality domain LINUX64");
});

test("process.ioPriority (ioprio_set) for the init and for exec; a bad class in runc's words", () => {
  const b = bundle({ args: ["sleep", "1000"] });
  b.config.process!.terminal = false;
  b.config.process!.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 4 };
  b.save();
  const id = uniqueId("ioprio");
  ok(root, ["run", "-d", "--bundle", b.dir, id]);
  expect(ok(root, ["exec", id, "ionice", "-p", "1"]).stdout).toContain("best-effort: prio 4");
  expect(ok(root, ["exec", id, "ionice"]).stdout).toContain("best-effort: prio 4");
  const bad = bundle({ args: ["true"] });
  bad.config.process!.terminal = false;
  bad.config.process!.ioPriority = { class: "IOPRIO_CLASS_NONE", priority: 4 };
  bad.save();
  const r = runtime(root, ["run", "--bundle", bad.dir, uniqueId("ioprio")]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("invalid io priority class: IOPRIO_CLASS_NONE");
});

test("process.scheduler (sched_setattr): the policy and nice are the process's; SCHED_DEADLINE with pinned CPUs in runc's words", () => {
  const b = bundle({ args: ["sh", "-c", "cut -d' ' -f19,41 /proc/self/stat"] });
  b.config.process!.terminal = false;
  b.config.process!.scheduler = { policy: "SCHED_BATCH", nice: 7 };
  b.save();
  const r = runtime(root, ["run", "--bundle", b.dir, uniqueId("sched")]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("7 3\n"); // nice 7, policy 3 (SCHED_BATCH)

  const d = bundle({ args: ["true"] });
  d.config.process!.terminal = false;
  d.config.linux!.resources = { ...d.config.linux!.resources, cpu: { cpus: "0" } };
  d.config.process!.scheduler = { policy: "SCHED_DEADLINE", nice: 19, runtime: 42000, deadline: 1000000, period: 1000000 };
  d.save();
  const dl = runtime(root, ["run", "--bundle", d.dir, uniqueId("sched")]);
  expect(dl.code).not.toBe(0);
  expect(dl.stderr).toContain("process scheduler can't be used together with AllowedCPUs");
});

const ONLINE_CPUS = readFileSync("/sys/devices/system/cpu/online", "utf8").trim();
test.if(ONLINE_CPUS !== "0" && existsSync("/usr/bin/taskset"))("the CPU affinity the runtime ran with is reset to the cgroup's cpuset for run and exec (runc 1.2)", () => {
  const allowed = (text: string) => /Cpus_allowed_list:\s*(\S+)/.exec(text)?.[1];
  const mine = allowed(readFileSync("/proc/self/status", "utf8"));
  const b = bundle({ args: ["grep", "-F", "Cpus_allowed_list:", "/proc/self/status"] });
  b.config.process!.terminal = false;
  b.save();
  const run = (args: string[]) => Bun.spawnSync(["taskset", "-c", "0", RUNTIME, "--root", root, ...args], { stdout: "pipe", stderr: "pipe" });
  const r = run(["run", "--bundle", b.dir, uniqueId("aff")]);
  expect(r.exitCode).toBe(0);
  expect(allowed(r.stdout.toString())).toBe(mine!);

  b.config.linux!.cgroupsPath = `/berth-test-aff-${uniqueId()}`;
  b.config.linux!.resources = { ...b.config.linux!.resources, cpu: { cpus: "1", mems: "0" } };
  b.config.process!.args = ["sleep", "1000"];
  b.save();
  const id = uniqueId("aff");
  ok(root, ["run", "-d", "--bundle", b.dir, id]);
  const e = run(["exec", id, "grep", "-F", "Cpus_allowed_list:", "/proc/self/status"]);
  expect(e.exitCode).toBe(0);
  expect(allowed(e.stdout.toString())).toBe("1");
});

test("kill KILL without a pid namespace of its own reaches every process of the container, even once its init is gone (runc 1.2)", () => {
  for (const killInit of [false, true]) {
    const b = bundle({ args: ["sleep", "1000"] });
    b.config.process!.terminal = false;
    b.config.linux!.namespaces = b.config.linux!.namespaces!.filter((n) => n.type !== "pid");
    b.config.linux!.cgroupsPath = `/berth-test-hostpid-${uniqueId()}`;
    b.save();
    const id = uniqueId("hostpid");
    ok(root, ["run", "-d", "--bundle", b.dir, id]);
    for (let i = 0; i < 3; i++) ok(root, ["exec", "-d", id, "sleep", "1000"]);
    const pids: number[] = JSON.parse(ok(root, ["ps", "--format", "json", id]).stdout);
    expect(pids.length).toBe(4);
    const live = () => pids.filter((p) => existsSync(`/proc/${p}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${p}/status`, "utf8")));
    if (killInit) {
      process.kill(JSON.parse(ok(root, ["state", id]).stdout).pid, "SIGKILL");
      for (let i = 0; i < 100 && live().length !== 3; i++) Bun.sleepSync(50);
      expect(live().length).toBe(3); // the execs outlive the init: no pid namespace takes them down
    }
    ok(root, ["kill", id, "KILL"]);
    for (let i = 0; i < 200 && live().length; i++) Bun.sleepSync(50);
    expect(live()).toEqual([]);
  }
});

test.if(existsSync("/proc/self/ns/time"))("joining another container's user and time namespaces by path: the time offsets are its own", () => {
  const id = joinedContainer((c) => {
    c.linux!.namespaces!.push({ type: "user" }, { type: "time" });
    c.linux!.timeOffsets = { monotonic: { secs: 7881, nanosecs: 2718281 }, boottime: { secs: 1337, nanosecs: 3141519 } };
  });
  const offsets = ok(root, ["exec", id, "cat", "/proc/self/timens_offsets"]).stdout;
  expect(offsets).toMatch(/^monotonic\s+7881\s+2718281$/m);
  expect(offsets).toMatch(/^boottime\s+1337\s+3141519$/m);
});

test("a created container's init holds no fd of its state directory: only the fifo and /proc to reopen it (runc 1.2's fd leak check)", () => {
  for (const userns of [false, true]) {
    const b = bundle({ args: ["echo", "started"] });
    b.config.process!.terminal = false;
    if (userns) {
      b.config.linux!.namespaces!.push({ type: "user" });
      b.config.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65534 }];
      b.config.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65534 }];
      Bun.spawnSync(["chown", "-R", "100000:200000", b.rootfs]);
    }
    b.save();
    const id = uniqueId("fdleak");
    ok(root, ["create", "--bundle", b.dir, id]); // stdio: files of the test helper's

    const pid = JSON.parse(ok(root, ["state", id]).stdout).pid as number;
    const fdDir = `/proc/${pid}/fd`;
    const targets = (Bun.spawnSync(["sh", "-c", `for f in ${fdDir}/*; do readlink "$f"; done`]).stdout.toString()).trim().split("\n");
    const allowed = [/^\/dev\/pts\/\d+$/, /^anon_inode:\[.+\]$/, /^\/(proc)?$/, /^socket:\[\d+\]$/, /^pipe:\[\d+\]$/, /\/exec\.fifo$/, /\/berth-test-out-[^/]+\/\d+\.(out|err)( \(deleted\))?$/, /^\/dev\/null$/,
      // the rest of runc's own list (create.bats): its fifo reopen and its sealed binary
      /^(\/proc)?\/1\/task\/1\/fd$/, /^\/runc$/, /^\/memfd:runc_cloned:\/proc\/self\/exe \(deleted\)$/];
    expect(targets.length).toBeGreaterThanOrEqual(4); // stdio and the fifo at least
    expect(targets.filter((t) => !allowed.some((re) => re.test(t)))).toEqual([]);
    ok(root, ["start", id]); // and the fifo reopened through /proc still releases it
  }
});
