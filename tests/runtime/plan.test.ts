// src/runtime/plan.ts on its own: a spec in, the plan's records out (native/PLAN.md says what
// each means). No container is started and nothing needs root: the bundle is a temp dir.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Mount, Spec } from "../../src/oci/spec.ts";
import { OciConfigError } from "../../src/oci/validate.ts";
import { buildCreatePlan, buildCreatePlanParts, type CreatePlanOptions } from "../../src/runtime/plan.ts";
import { capabilityMask, CAPABILITY_NAMES } from "../../src/security/capabilities.ts";
import { MOUNT_ATTR, MS } from "../../src/sys/libc.ts";
import type { PlanRecord } from "../../src/sys/plan-encoding.ts";

const bundle = mkdtempSync(join(tmpdir(), "berth-plan-test-"));
mkdirSync(join(bundle, "rootfs"));
const hostFile = join(bundle, "host-file");
writeFileSync(hostFile, "x");
afterAll(() => rmSync(bundle, { recursive: true, force: true }));

const STATE_DIR = "/run/berth-runtime/plan-test";

/** A small valid spec; `edit` changes it before the plan is built. */
function spec(edit: (s: Spec) => void = () => {}): Spec {
  const s: Spec = {
    ociVersion: "1.2.0",
    process: { user: { uid: 0, gid: 0 }, args: ["sh"], cwd: "/", env: ["PATH=/bin"] },
    root: { path: "rootfs" },
    linux: { namespaces: [{ type: "pid" }, { type: "mount" }] },
  };
  edit(s);
  return s;
}

function plan(s: Spec, opts: Partial<CreatePlanOptions> = {}): PlanRecord[] {
  return buildCreatePlan(s, { bundle, stateDir: STATE_DIR, ...opts });
}

const ops = (records: readonly PlanRecord[], op: string) => records.filter((r) => r[0] === op);
const withMounts = (...mounts: Mount[]) => spec((s) => { s.mounts = mounts; });

describe("plan: namespaces and id maps", () => {
  test("one ns record per namespace, in the spec's order; a path joins, no path creates", () => {
    const records = plan(spec((s) => {
      s.linux!.namespaces = [{ type: "pid" }, { type: "network", path: "/proc/self/ns/net" }, { type: "mount" }, { type: "uts" }, { type: "ipc" }, { type: "cgroup" }];
    }));
    expect(ops(records, "ns")).toEqual([
      ["ns", "pid", ""], ["ns", "net", "/proc/self/ns/net"], ["ns", "mnt", ""], ["ns", "uts", ""], ["ns", "ipc", ""], ["ns", "cgroup", ""],
    ]);
    // A joined network namespace is not ours: no loopback_up.
    expect(ops(records, "loopback_up")).toEqual([]);
    expect(ops(plan(spec((s) => { s.linux!.namespaces!.push({ type: "network" }); })), "loopback_up")).toEqual([["loopback_up"]]);
  });

  test("a new user namespace takes its id maps; maps without one, or one without maps, are errors", () => {
    const records = plan(spec((s) => {
      s.linux!.namespaces!.push({ type: "user" });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 1 }, { containerID: 1, hostID: 300000, size: 10 }];
    }));
    expect(ops(records, "uidmap")).toEqual([["uidmap", 0, 100000, 65536]]);
    expect(ops(records, "gidmap")).toEqual([["gidmap", 0, 200000, 1], ["gidmap", 1, 300000, 10]]);
    expect(() => plan(spec((s) => { s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]; }))).toThrow(/need a new user namespace/);
    expect(() => plan(spec((s) => { s.linux!.namespaces!.push({ type: "user" }); }))).toThrow(/needs linux.uidMappings and linux.gidMappings/);
  });

  test("a time namespace takes its offsets; offsets without one are an error", () => {
    const records = plan(spec((s) => {
      s.linux!.namespaces!.push({ type: "time" });
      s.linux!.timeOffsets = { monotonic: { secs: 10, nanosecs: 5 }, boottime: { secs: 3 } };
    }));
    expect(ops(records, "timens")).toEqual([["timens", "monotonic", 10, 5], ["timens", "boottime", 3, 0]]);
    expect(() => plan(spec((s) => { s.linux!.timeOffsets = { monotonic: { secs: 1 } }; }))).toThrow(/timeOffsets needs a new time namespace/);
  });

  test("no mount namespace: no root of its own (as runc); masked/read-only paths refused in runc's words", () => {
    const records = plan(spec((s) => {
      s.linux!.namespaces = [{ type: "pid" }];
      delete s.linux!.maskedPaths;
      delete s.linux!.readonlyPaths;
    }));
    expect(ops(records, "rootfs")).toEqual([]);
    expect(ops(records, "mount")).toEqual([]);
    expect(() => plan(spec((s) => { s.linux!.namespaces = [{ type: "pid" }]; s.linux!.maskedPaths = ["/proc/kcore"]; }))).toThrow(/unable to restrict sys entries without a private MNT namespace/);
  });

  test("errors: a namespace path that does not exist", () => {
    expect(() => plan(spec((s) => { s.linux!.namespaces!.push({ type: "ipc", path: "/no/such/ns" }); }))).toThrow(/ipc.path \/no\/such\/ns does not exist/);
  });
});

describe("plan: mounts as flags", () => {
  test("options become MS_* flags, filesystem data and propagation; destinations are normalized", () => {
    const records = plan(withMounts(
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "dev/", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/data/../shared", type: "tmpfs", source: "tmpfs", options: ["ro", "rw", "noexec", "rshared"] },
    ));
    expect(ops(records, "mount")).toEqual([
      ["mount", "proc", "/proc", "proc", 0, 0, "", 0],
      ["mount", "tmpfs", "/dev", "tmpfs", MS.NOSUID | MS.STRICTATIME, 0, "mode=755,size=65536k", 0],
      ["mount", "tmpfs", "/shared", "tmpfs", MS.NOEXEC, MS.SHARED | MS.REC, "", 0],
    ]);
  });

  test("a bind mount: MS_BIND (+MS_REC for rbind) now, its other flags for the remount", () => {
    const records = plan(withMounts(
      { destination: "/etc/hosts", type: "bind", source: hostFile, options: ["rbind", "ro", "nosuid", "rprivate"] },
      { destination: "/opt", source: bundle, options: ["bind"] },
    ));
    expect(ops(records, "mount")).toEqual([
      ["mount", hostFile, "/etc/hosts", "bind", MS.BIND | MS.REC, MS.PRIVATE | MS.REC, "", MS.RDONLY | MS.NOSUID],
      ["mount", bundle, "/opt", "bind", MS.BIND, 0, "", 0],
    ]);
  });

  test("filesystem options on a bind are dropped with a warning; a word it does not know is an error", () => {
    const warnings: string[] = [];
    const records = plan(withMounts({ destination: "/opt", type: "bind", source: bundle, options: ["bind", "mode=755"] }), { warn: (m) => warnings.push(m) });
    expect(ops(records, "mount")).toEqual([["mount", bundle, "/opt", "bind", MS.BIND, 0, "mode=755", 0]]);
    expect(warnings).toEqual(["mounts[0] (/opt): filesystem options mode=755 mean nothing on a bind mount; ignored"]);
    expect(() => plan(withMounts({ destination: "/opt", type: "bind", source: bundle, options: ["bind", "frobnicate"] }))).toThrow(/unknown option "frobnicate" for a bind mount/);
  });

  test("sysfs without a network namespace of its own is the host's, bound read-only", () => {
    const sysfs: Mount = { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid"] };
    expect(ops(plan(withMounts(sysfs)), "mount")).toEqual([
      ["mount", "/sys", "/sys", "bind", MS.BIND | MS.REC, 0, "", MS.NOSUID | MS.RDONLY | MS.NODEV | MS.NOEXEC],
    ]);
    const own = spec((s) => { s.mounts = [sysfs]; s.linux!.namespaces!.push({ type: "network" }); });
    expect(ops(plan(own), "mount")).toEqual([["mount", "sysfs", "/sys", "sysfs", MS.NOSUID, 0, "", 0]]);
  });

  test("a cgroup mount: cgroup2 on a unified host, else a tmpfs with the container's groups bound under it", () => {
    const cgroup: Mount = { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro"] };
    expect(ops(plan(withMounts(cgroup)), "mount")).toEqual([["mount", "cgroup2", "/sys/fs/cgroup", "cgroup2", MS.RDONLY, 0, "", 0]]);
    const dirs = { memory: "/sys/fs/cgroup/memory/c1", unified: "/sys/fs/cgroup/unified/c1" };
    const bind = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC;
    expect(ops(plan(withMounts(cgroup), { cgroupDirs: dirs }), "mount")).toEqual([
      ["mount", "tmpfs", "/sys/fs/cgroup", "tmpfs", MS.NOSUID | MS.NODEV | MS.NOEXEC, 0, "mode=755", 0],
      ["mount", dirs.memory, "/sys/fs/cgroup/memory", "bind", MS.BIND, 0, "", bind],
      ["mount", dirs.unified, "/sys/fs/cgroup/unified", "bind", MS.BIND, 0, "", bind],
    ]);
  });

  test("errors: a destination that climbs out, a bind without a source or with a missing one, no type, idmapped", () => {
    expect(() => plan(withMounts({ destination: "/../etc", type: "tmpfs" }))).toThrow(/mounts\[0\].destination "\/..\/etc" escapes the container's root/);
    expect(() => plan(withMounts({ destination: "/x", type: "bind" }))).toThrow(/a bind mount needs a source/);
    expect(() => plan(withMounts({ destination: "/x", type: "bind", source: "/no/such/dir" }))).toThrow(/bind source \/no\/such\/dir does not exist/);
    expect(() => plan(withMounts({ destination: "/x", source: "none" }))).toThrow(/mounts\[0\] \(\/x\): type is missing/);
    expect(() => plan(withMounts({ destination: "/x", type: "tmpfs", uidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }))).toThrow(/idmapped mounts are not supported/);
    expect(() => plan(withMounts({ destination: "/x", type: "tmpfs", options: ["ridmap"] }))).toThrow(/"ridmap" is not supported/);
  });

  test("recursive options: a mount_attr record after the mount (attributes to set, to clear); the last option wins", () => {
    const attrs = (options: string[]) => ops(plan(withMounts({ destination: "/opt", type: "bind", source: bundle, options: ["rbind", ...options] })), "mount_attr");
    expect(attrs([])).toEqual([]);
    expect(attrs(["rro"])).toEqual([["mount_attr", "/opt", MOUNT_ATTR.RDONLY, 0]]);
    expect(attrs(["rro", "rnosuid", "rrw"])).toEqual([["mount_attr", "/opt", MOUNT_ATTR.NOSUID, MOUNT_ATTR.RDONLY]]);
    // An atime mode is one value, set with the whole _ATIME field cleared.
    expect(attrs(["rnoatime", "rstrictatime"])).toEqual([["mount_attr", "/opt", MOUNT_ATTR.STRICTATIME, MOUNT_ATTR._ATIME]]);
    expect(attrs(["rnoatime", "ratime"])).toEqual([["mount_attr", "/opt", MOUNT_ATTR.RELATIME, MOUNT_ATTR._ATIME]]);
    const records = plan(withMounts({ destination: "/opt", type: "bind", source: bundle, options: ["rbind", "rro"] }));
    const at = records.findIndex((r) => r[0] === "mount_attr");
    expect(records[at - 1]![0]).toBe("mount"); // right after its mount
  });

  test("tmpcopyup: an 8th field on a tmpfs's mount record; elsewhere ignored with a warning (as runc)", () => {
    expect(ops(plan(withMounts({ destination: "/x", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup"] })), "mount")).toEqual([["mount", "tmpfs", "/x", "tmpfs", 0, 0, "", 0, "tmpcopyup"]]);
    const warnings: string[] = [];
    expect(ops(plan(withMounts({ destination: "/x", type: "bind", source: bundle, options: ["rbind", "tmpcopyup"] }), { warn: (m) => warnings.push(m) }), "mount")[0]!.length).toBe(8);
    expect(warnings).toEqual(["mounts[0] (/x): tmpcopyup is for tmpfs mounts; ignored (as runc)"]);
  });

  test("a read-only /dev is mounted writable and remounted read-only at the end (remount_ro)", () => {
    const dev: Mount = { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "ro", "mode=755"] };
    const records = plan(withMounts(dev));
    expect(ops(records, "mount")).toEqual([["mount", "tmpfs", "/dev", "tmpfs", MS.NOSUID, 0, "mode=755", 0]]);
    expect(ops(records, "remount_ro")).toEqual([["remount_ro", "/dev", MS.NOSUID | MS.RDONLY]]);
    expect(ops(plan(withMounts({ ...dev, destination: "/run" })), "remount_ro")).toEqual([]); // only /dev is filled after its mount
  });
});

describe("plan: devices", () => {
  const DEFAULTS: PlanRecord[] = [
    ["device", "/dev/null", "c", 1, 3, 0o666, 0, 0], ["device", "/dev/zero", "c", 1, 5, 0o666, 0, 0],
    ["device", "/dev/full", "c", 1, 7, 0o666, 0, 0], ["device", "/dev/random", "c", 1, 8, 0o666, 0, 0],
    ["device", "/dev/urandom", "c", 1, 9, 0o666, 0, 0], ["device", "/dev/tty", "c", 5, 0, 0o666, 0, 0],
  ];

  test("the default devices and /dev symlinks, then the spec's (u as c; the spec's wins over a default)", () => {
    const records = plan(spec((s) => {
      s.mounts = [{ destination: "/dev/pts", type: "devpts", source: "devpts" }];
      s.linux!.devices = [
        { path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 0 },
        { path: "/dev/sdz", type: "b", major: 8, minor: 0 },
        { path: "dev/kmsg", type: "u", major: 1, minor: 11 },
        { path: "/dev/pipe", type: "p" },
        { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o640, uid: 5, gid: 6 },
      ];
    }));
    expect(ops(records, "device")).toEqual([
      ["device", "/dev/null", "c", 1, 3, 0o640, 5, 6], ...DEFAULTS.slice(1),
      ["device", "/dev/fuse", "c", 10, 229, 0o600, 0, 0], ["device", "/dev/sdz", "b", 8, 0, 0o666, 0, 0],
      ["device", "/dev/kmsg", "c", 1, 11, 0o666, 0, 0], ["device", "/dev/pipe", "p", 0, 0, 0o666, 0, 0],
    ]);
    expect(ops(records, "symlink")).toEqual([
      ["symlink", "/proc/self/fd", "/dev/fd"], ["symlink", "/proc/self/fd/0", "/dev/stdin"],
      ["symlink", "/proc/self/fd/1", "/dev/stdout"], ["symlink", "/proc/self/fd/2", "/dev/stderr"],
      ["symlink", "pts/ptmx", "/dev/ptmx"],
    ]);
  });

  test("a bind-mounted /dev gets neither default devices nor symlinks", () => {
    const records = plan(withMounts({ destination: "/dev", type: "bind", source: bundle, options: ["rbind"] }));
    expect(ops(records, "device")).toEqual([]);
    expect(ops(records, "symlink")).toEqual([]);
  });

  test("errors: an unknown type, a missing major/minor, a path that climbs out", () => {
    const bad = (d: Record<string, unknown>) => () => plan(spec((s) => { s.linux!.devices = [d as never]; }));
    expect(bad({ path: "/dev/x", type: "z", major: 1, minor: 1 })).toThrow(/linux.devices\[0\].type must be c, b, u or p/);
    expect(bad({ path: "/dev/x", type: "c", major: 1 })).toThrow(/linux.devices\[0\] \(\/dev\/x\) needs major and minor/);
    expect(bad({ path: "/../x", type: "c", major: 1, minor: 1 })).toThrow(/escapes the container's root/);
  });
});

describe("plan: the process", () => {
  test("user, groups, cwd, env, args, no_new_privs, oom_score_adj, preserve_fds", () => {
    const records = plan(spec((s) => {
      s.process = {
        user: { uid: 1000, gid: 100, umask: 0o27, additionalGids: [10, 20] }, args: ["sh", "-c", "id"], cwd: "/home/u",
        env: ["A=1", "B=2"], noNewPrivileges: true, oomScoreAdj: -500,
      };
    }), { preserveFds: 2 });
    expect(ops(records, "user")).toEqual([["user", 1000, 100, 0o27]]);
    expect(ops(records, "groups")).toEqual([["groups", 10, 20]]);
    expect(ops(records, "cwd")).toEqual([["cwd", "/home/u"]]);
    expect(ops(records, "env")).toEqual([["env", "A=1", "B=2"]]);
    expect(ops(records, "args")).toEqual([["args", "sh", "-c", "id"]]);
    expect(ops(records, "no_new_privs")).toEqual([["no_new_privs"]]);
    expect(ops(records, "oom_score_adj")).toEqual([["oom_score_adj", -500]]);
    expect(ops(records, "preserve_fds")).toEqual([["preserve_fds", 2]]);
    // No umask: -1 (leave it); no extra groups: no record.
    const plain = plan(spec());
    expect(ops(plain, "user")).toEqual([["user", 0, 0, -1]]);
    expect(ops(plain, "groups")).toEqual([]);
    expect(ops(plain, "no_new_privs")).toEqual([]);
  });

  test("capabilities: five masks, then the names by bit number", () => {
    const records = plan(spec((s) => {
      s.process!.capabilities = { bounding: ["CAP_CHOWN", "CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"], ambient: ["CAP_KILL"] };
    }));
    const kill = capabilityMask(["CAP_KILL"]).toString();
    expect(ops(records, "caps")).toEqual([["caps", capabilityMask(["CAP_CHOWN", "CAP_KILL"]).toString(), kill, kill, "0", kill, ...CAPABILITY_NAMES]]);
    // No capabilities object: every set empty, as runc does.
    expect(ops(plan(spec()), "caps")).toEqual([["caps", "0", "0", "0", "0", "0", ...CAPABILITY_NAMES]]);
    expect(() => plan(spec((s) => { s.process!.capabilities = { permitted: ["CAP_NOPE"] }; }))).toThrow(/process.capabilities.permitted.*CAP_NOPE/);
  });

  test("rlimits: the resource's number; 2^63 and above mean unlimited (-1); an unknown type is an error", () => {
    const records = plan(spec((s) => {
      s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 4096 }, { type: "RLIMIT_CORE", soft: 0, hard: 2 ** 64 }, { type: "RLIMIT_CPU", soft: 2 ** 63, hard: 2 ** 63 }];
    }));
    expect(ops(records, "rlimit")).toEqual([["rlimit", 7, 1024, 4096], ["rlimit", 4, 0, -1], ["rlimit", 0, -1, -1]]);
    expect(() => plan(spec((s) => { s.process!.rlimits = [{ type: "RLIMIT_NOPE", soft: 1, hard: 1 }]; }))).toThrow(/process.rlimits: unknown type RLIMIT_NOPE/);
  });

  test("a terminal and its console socket go to stage 0's part; the rest of the process to the init's", () => {
    const s = spec((x) => { x.process!.terminal = true; x.process!.consoleSize = { height: 30, width: 100 }; });
    const parts = buildCreatePlanParts(s, { bundle, stateDir: STATE_DIR, consoleSocket: "/run/console.sock" });
    const init = parts.init();
    expect(ops(parts.stage0, "terminal")).toEqual([["terminal", 30, 100]]);
    expect(ops(parts.stage0, "console_socket")).toEqual([["console_socket", "/run/console.sock"]]);
    expect(ops(parts.stage0, "state_dir")).toEqual([["state_dir", STATE_DIR]]);
    expect(parts.stage0.map((r) => r[0])).not.toContain("args");
    expect(init.map((r) => r[0])).not.toContain("terminal");
    for (const op of ["rootfs", "cwd", "user", "env", "args", "caps"]) expect(ops(init, op).length).toBe(1);
    // buildCreatePlan is the two parts in order.
    expect(plan(s, { consoleSocket: "/run/console.sock" })).toEqual([...parts.stage0, ...init]);
  });

  test("errors: no process, no args, AppArmor, SELinux, scheduler, ioPriority", () => {
    expect(() => plan(spec((s) => { delete s.process; }))).toThrow(/process is missing/);
    expect(() => plan(spec((s) => { s.process!.args = []; }))).toThrow(/process.args is empty/);
    expect(() => plan(spec((s) => { s.process!.apparmorProfile = "docker-default"; }))).toThrow(/AppArmor is not available/);
    expect(() => plan(spec((s) => { s.process!.selinuxLabel = "system_u:system_r:container_t:s0"; }))).toThrow(/SELinux is not available/);
    expect(() => plan(spec((s) => { s.process!.scheduler = { policy: "SCHED_NOPE" }; }))).toThrow(/invalid scheduler policy: SCHED_NOPE/);
    expect(() => plan(spec((s) => { s.process!.scheduler = {}; }))).toThrow(/scheduler policy is required/);
    expect(() => plan(spec((s) => { s.process!.scheduler = { policy: "SCHED_OTHER", nice: 20 }; }))).toThrow(/invalid scheduler.nice: 20 when scheduler.policy is SCHED_OTHER/);
    expect(() => plan(spec((s) => { s.process!.scheduler = { policy: "SCHED_OTHER", priority: 3 }; }))).toThrow(/priority can only be specified for SchedFIFO or SchedRR/);
    expect(() => plan(spec((s) => { s.process!.scheduler = { policy: "SCHED_FIFO", runtime: 3 }; }))).toThrow(/runtime\/deadline\/period can only be specified for SchedDeadline/);
    expect(() => plan(spec((s) => { s.process!.scheduler = { policy: "SCHED_RR", flags: ["SCHED_FLAG_NOPE"] }; }))).toThrow(/invalid scheduler flag: SCHED_FLAG_NOPE/);
    expect(() => plan(spec((s) => { s.process!.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 8 }; }))).toThrow(/invalid ioPriority.Priority: 8/);
    expect(() => plan(spec((s) => { s.process!.execCPUAffinity = { initial: "0" }; }))).toThrow(/execCPUAffinity is not supported/);
  });

  test("scheduler, ioPriority and personality records (sched_setattr, ioprio_set, personality values)", () => {
    const p = plan(spec((s) => {
      s.process!.scheduler = { policy: "SCHED_DEADLINE", flags: ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN"], runtime: 42000, deadline: 1000000, period: 1000000 };
      s.process!.ioPriority = { class: "IOPRIO_CLASS_IDLE", priority: 7 };
      s.linux!.personality = { domain: "LINUX32" };
      s.linux!.resources = { cpu: { cpus: "0-1" } };
    }));
    expect(p).toContainEqual(["scheduler", 6, 5, 0, 0, 42000, 1000000, 1000000, 1]);
    expect(p).toContainEqual(["ioprio", (3 << 13) | 7]);
    expect(p).toContainEqual(["personality", 8]);
    const warnings: string[] = [];
    plan(spec((s) => { s.linux!.personality = { domain: "LINUX", flags: ["ADDR_NO_RANDOMIZE"] }; }), { warn: (m: string) => warnings.push(m) });
    expect(warnings).toEqual(['ignoring unsupported personality flags: ["ADDR_NO_RANDOMIZE"] because personality flag has not supported at this time']);
  });
});

describe("plan: the root filesystem and the rest of linux", () => {
  test("rootfs is resolved against the bundle; readonly, propagation, no_pivot, hostname, masked and read-only paths", () => {
    const records = plan(spec((s) => {
      s.root!.readonly = true;
      s.hostname = "box";
      s.domainname = "example.org";
      s.linux!.namespaces!.push({ type: "uts" });
      s.linux!.rootfsPropagation = "rslave";
      s.linux!.maskedPaths = ["/proc/kcore", "proc/../sys/firmware"];
      s.linux!.readonlyPaths = ["/proc/sys"];
    }), { noPivot: true });
    expect(ops(records, "rootfs")).toEqual([["rootfs", join(bundle, "rootfs")]]);
    expect(ops(records, "readonly_rootfs")).toEqual([["readonly_rootfs"]]);
    expect(ops(records, "rootfs_propagation")).toEqual([["rootfs_propagation", MS.SLAVE | MS.REC]]);
    expect(ops(records, "no_pivot")).toEqual([["no_pivot"]]);
    expect(ops(records, "hostname")).toEqual([["hostname", "box"]]);
    expect(ops(records, "domainname")).toEqual([["domainname", "example.org"]]);
    expect(ops(records, "masked")).toEqual([["masked", "/proc/kcore"], ["masked", "/sys/firmware"]]);
    expect(ops(records, "readonly_path")).toEqual([["readonly_path", "/proc/sys"]]);
    expect(ops(plan(spec()), "rootfs_propagation")).toEqual([]); // the C core's default: rslave
  });

  test("sysctls only in a namespace the container has; hooks the init runs, with their args and env", () => {
    const records = plan(spec((s) => {
      s.linux!.namespaces!.push({ type: "network" }, { type: "ipc" });
      s.linux!.sysctl = { "net.ipv4.ip_forward": "1", "kernel.shmmax": "1000" };
      s.hooks = {
        createContainer: [{ path: "/bin/hook", args: ["hook", "a"], env: ["X=1"], timeout: 5 }],
        startContainer: [{ path: "/bin/other" }],
        prestart: [{ path: "/bin/run-by-typescript" }],
      };
    }));
    expect(ops(records, "sysctl")).toEqual([["sysctl", "net.ipv4.ip_forward", "1"], ["sysctl", "kernel.shmmax", "1000"]]);
    expect(ops(records, "hook")).toEqual([
      ["hook", "createContainer", 5, "/bin/hook", 2, "hook", "a", "X=1"],
      ["hook", "startContainer", 0, "/bin/other", 1, "/bin/other"],
    ]);
    expect(() => plan(spec((s) => { s.linux!.sysctl = { "net.ipv4.ip_forward": "1" }; }))).toThrow(/needs a network namespace of the container's own/);
    expect(() => plan(spec((s) => { s.linux!.sysctl = { "vm.swappiness": "1" }; }))).toThrow(/vm.swappiness is not in a separate kernel namespace/);
    expect(() => plan(spec((s) => { s.linux!.sysctl = { "net/../kernel": "1" }; }))).toThrow(/bad name/);
  });

  test("errors: root.path missing or not a directory, hostname without a uts namespace, unsupported linux fields", () => {
    expect(() => plan(spec((s) => { delete s.root; }))).toThrow(/root.path is missing/);
    expect(() => plan(spec((s) => { s.root!.path = "/no/such/rootfs"; }))).toThrow(/root.path \/no\/such\/rootfs does not exist/);
    expect(() => plan(spec((s) => { s.root!.path = hostFile; }))).toThrow(/is not a directory/);
    expect(() => plan(spec((s) => { s.hostname = "box"; }))).toThrow(/hostname needs a uts namespace/);
    expect(() => plan(spec((s) => { s.linux!.rootfsPropagation = "sideways"; }))).toThrow(/unknown propagation "sideways"/);
    expect(() => plan(spec((s) => { s.linux!.personality = { domain: "LINUX64" }; }))).toThrow(/invalid personality domain LINUX64/);
    expect(() => plan(spec((s) => { s.linux!.mountLabel = "x"; }))).toThrow(/SELinux is not available/);
    // Spec errors are OciConfigError, named after config.json.
    expect(() => plan(spec((s) => { delete s.process; }))).toThrow(OciConfigError);
    expect(() => plan(spec((s) => { delete s.process; }))).toThrow(/^config.json: /);
  });
});
