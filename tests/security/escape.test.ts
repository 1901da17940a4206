// The escape suite (issue 4): every attempt to break out must fail inside a container started
// with Berth's defaults, with the errno the policy asks for — and the same operation must
// succeed where the config allows it, so the tests show the policy and not a broken box.
// Runtime under test: BERTH_TEST_RUNTIME, default bin/berth-runtime (runc works too).
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { RUNTIME, Sandbox, answer, chownTree, hardenedSpec } from "./container.ts";
import { NR, fixtures, removeFixtures } from "./helpers.ts";
import { capabilityMask } from "../../src/security/capabilities.ts";
import { defaultSeccompFor } from "../../src/security/default-profile.ts";

const EPERM = "errno EPERM 1";
const EROFS = "errno EROFS 30";
const ENOENT = "errno ENOENT 2";

let sandboxes: Sandbox[] = [];
function sandbox(): Sandbox {
  const sb = new Sandbox();
  sandboxes.push(sb);
  return sb;
}

beforeAll(() => {
  if (!existsSync(RUNTIME)) throw new Error(`runtime under test not found: ${RUNTIME} (set BERTH_TEST_RUNTIME)`);
  fixtures();
}, 120_000);
afterEach(() => {
  for (const sb of sandboxes) sb.cleanup();
  sandboxes = [];
});
afterAll(removeFixtures);

/** Runs `probe ARGS` in a fresh hardened container and returns its answer line. */
function probe(args: string[], policy: Parameters<typeof hardenedSpec>[2] = {}, edit?: (spec: ReturnType<typeof hardenedSpec>, sb: Sandbox) => void): string {
  const sb = sandbox();
  const spec = hardenedSpec(sb, ["/bin/probe", ...args], policy);
  edit?.(spec, sb);
  return answer(sb.run(spec));
}

describe(`escape attempts (${RUNTIME})`, () => {
  test("mount a filesystem: EPERM; with CAP_SYS_ADMIN it works", () => {
    expect(probe(["mount", "/mnt"])).toBe(EPERM);
    expect(probe(["mount", "/mnt"], { capAdd: ["CAP_SYS_ADMIN"] })).toMatch(/^ok/);
  });

  test("unshare a mount namespace: EPERM; with CAP_SYS_ADMIN it works", () => {
    expect(probe(["unshare-mount"])).toBe(EPERM);
    expect(probe(["unshare-mount"], { capAdd: ["CAP_SYS_ADMIN"] })).toMatch(/^ok/);
  });

  test("load a kernel module: EPERM; with CAP_SYS_MODULE the call reaches the kernel", () => {
    expect(probe(["init_module"])).toBe(EPERM);
    expect(probe(["finit_module"])).toBe(EPERM);
    // An empty image: the kernel rejects it (ENOEXEC/EINVAL, or ENOSYS without module support), never EPERM.
    const allowed = probe(["init_module"], { capAdd: ["CAP_SYS_MODULE"] });
    expect(allowed).toMatch(/^errno /);
    expect(allowed).not.toBe(EPERM);
  });

  test("reboot: EPERM; with CAP_SYS_BOOT the call reaches the kernel (EINVAL in a child pid namespace)", () => {
    expect(probe(["reboot"])).toBe(EPERM);
    expect(probe(["reboot"], { capAdd: ["CAP_SYS_BOOT"] })).toBe("errno EINVAL 22");
  });

  test("change the hostname: EPERM; with CAP_SYS_ADMIN only the container's own changes", () => {
    const before = hostname();
    expect(probe(["sethostname", "pwned"])).toBe(EPERM);
    expect(probe(["sethostname", "pwned"], { capAdd: ["CAP_SYS_ADMIN"] })).toMatch(/^ok/);
    expect(hostname()).toBe(before);
  });

  test("change the time: EPERM; with CAP_SYS_TIME the (no-op) call is permitted", () => {
    expect(probe(["settime"])).toBe(EPERM);
    expect(probe(["clock_settime"])).toBe(EPERM);
    expect(probe(["settime"], { capAdd: ["CAP_SYS_TIME"] })).toMatch(/^ok/);
  });

  test("write /proc/sys: EROFS; without the read-only path the (namespaced) write works", () => {
    expect(probe(["write", "/proc/sys/kernel/domainname", "pwned"])).toBe(EROFS);
    expect(probe(["write", "/proc/sys/kernel/domainname", "berth"], {}, (spec) => {
      spec.linux!.readonlyPaths = [];
    })).toMatch(/^ok/);
  });

  test("write /proc/sysrq-trigger: EROFS; without the read-only path it opens for writing", () => {
    if (!existsSync("/proc/sysrq-trigger")) {
      // This kernel has no sysrq: the attempt can only fail, there is nothing to allow.
      expect(probe(["openw", "/proc/sysrq-trigger"])).toMatch(/^errno (EROFS|ENOENT)/);
      return;
    }
    expect(probe(["openw", "/proc/sysrq-trigger"])).toBe(EROFS);
    expect(probe(["write", "/proc/sysrq-trigger", "h"])).toBe(EROFS);
    // Only opened, never written: writing it would act on the host.
    expect(probe(["openw", "/proc/sysrq-trigger"], {}, (spec) => {
      spec.linux!.readonlyPaths = [];
    })).toMatch(/^ok/);
  });

  test("read /proc/kcore: masked (an empty /dev/null); unmasked it is the kernel's image", () => {
    if (!existsSync("/proc/kcore")) {
      expect(probe(["read", "/proc/kcore", "64"])).toMatch(/^(ok 0|errno ENOENT 2)$/);
      return;
    }
    expect(probe(["stat", "/proc/kcore"])).toBe("ok type=chr rdev=1:3 size=0");
    expect(probe(["read", "/proc/kcore", "64"])).toBe("ok 0");
    expect(probe(["stat", "/proc/kcore"], {}, (spec) => {
      spec.linux!.maskedPaths = [];
    })).toMatch(/^ok type=reg/);
  });

  test("read the other masked paths: each is empty or gone; unmasked /proc/timer_list has content", () => {
    const files = ["/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats", "/proc/timer_stats"].filter((p) => existsSync(p));
    const dirs = ["/sys/firmware", "/proc/acpi", "/proc/scsi", "/proc/asound"].filter((p) => existsSync(p));
    const sb = sandbox();
    const script = [...files.map((p) => `probe read ${p} 64`), ...dirs.map((p) => `probe ls ${p}`), "echo end"].join("; ");
    const out = sb.run(hardenedSpec(sb, ["/bin/sh", "-c", script])).stdout.trim().split("\n");
    expect(out).toEqual([...files.map(() => "ok 0"), "end"]);
    if (existsSync("/proc/timer_list")) {
      expect(probe(["read", "/proc/timer_list", "64"], {}, (spec) => {
        spec.linux!.maskedPaths = [];
      })).toBe("ok 64");
    }
  });

  test("create a device node and open it: the device cgroup says EPERM; an allow rule opens it", () => {
    // /dev/loop-control (c 10:237) stands for any host device: opening it needs no capability,
    // and it is not in the default allow list.
    expect(probe(["mknod-open", "/tmp/dev", "10", "237"])).toBe("open errno EPERM 1");
    expect(probe(["mknod-open", "/tmp/dev", "10", "237"], {}, (spec) => {
      spec.linux!.resources!.devices!.push({ allow: true, type: "c", major: 10, minor: 237, access: "r" });
    })).toBe("open ok 0");
  });

  test("a config with no device rules at all still gets a device cgroup: deny all but the defaults (as runc)", () => {
    expect(probe(["mknod-open", "/tmp/dev", "10", "237"], {}, (spec) => {
      delete spec.linux!.resources;
    })).toBe("open errno EPERM 1");
    expect(probe(["mknod-open", "/tmp/null", "1", "3"], {}, (spec) => {
      delete spec.linux!.resources;
    })).toBe("open ok 0");
  });

  test("read the host disk through a device node: EPERM; allowed by a device rule it reads (where the host can)", () => {
    const disk = hostDisk();
    if (!disk) return; // no block device on this host
    const [major, minor] = disk;
    expect(probe(["mknod-read", "/tmp/disk", String(major), String(minor)])).toBe("open errno EPERM 1");
    if (!hostCanRead(major, minor)) return; // this host refuses even its own root: nothing to allow
    expect(probe(["mknod-read", "/tmp/disk", String(major), String(minor)], {}, (spec) => {
      spec.linux!.resources!.devices!.push({ allow: true, type: "b", major, minor, access: "r" });
    })).toBe("read ok 512");
  });

  test("ptrace a process outside: not even visible (ESRCH); sharing the host pid namespace with CAP_SYS_PTRACE it works", async () => {
    const outside = Bun.spawn([fixtures().probe, "sleep", "30"]);
    try {
      expect(probe(["ptrace", String(outside.pid)])).toBe("errno ESRCH 3");
      expect(probe(["ptrace", String(outside.pid)], { shareNamespaces: ["pid"], capAdd: ["CAP_SYS_PTRACE"] })).toBe("ok 0");
    } finally {
      outside.kill();
      await outside.exited;
    }
  });

  test("see host processes: /proc lists only the container's; sharing the pid namespace shows them", async () => {
    const outside = Bun.spawn([fixtures().probe, "sleep", "30"]);
    try {
      const sb = sandbox();
      const own = sb.run(hardenedSpec(sb, ["/bin/probe", "ls", "/proc"])).stdout.split("\n").filter((l) => /^\d+$/.test(l));
      expect(own).toEqual(["1"]);
      const sb2 = sandbox();
      const shared = sb2.run(hardenedSpec(sb2, ["/bin/probe", "ls", "/proc"], { shareNamespaces: ["pid"] })).stdout.split("\n");
      expect(shared).toContain(String(outside.pid));
    } finally {
      outside.kill();
      await outside.exited;
    }
  });

  test("reach files outside the rootfs via .., symlinks and /proc/1/root: ENOENT; a bind mount is the allowed way", () => {
    const sb = sandbox();
    symlinkSync("../host-secret", join(sb.rootfs, "relative-link"));
    symlinkSync(sb.secret, join(sb.rootfs, "absolute-link"));
    const script = [
      "probe cat /../host-secret",
      "probe cat /relative-link",
      "probe cat /absolute-link",
      "probe cat /proc/1/root/../host-secret",
      `probe cat /proc/1/root${sb.secret}`,
      "probe cat /proc/self/root/../../host-secret",
      "probe fchdir-escape host-secret",
      "echo end",
    ].join("; ");
    const out = sb.run(hardenedSpec(sb, ["/bin/sh", "-c", script])).stdout.trim().split("\n");
    expect(out).toEqual([ENOENT, ENOENT, ENOENT, ENOENT, ENOENT, ENOENT, ENOENT, "end"]);

    const sb2 = sandbox();
    const spec = hardenedSpec(sb2, ["/bin/probe", "cat", "/mnt/host-secret"]);
    spec.mounts!.push({ destination: "/mnt", type: "bind", source: sb2.bundle, options: ["rbind", "ro"] });
    expect(answer(sb2.run(spec))).toBe("ok host secret");
  });

  test("/proc/1/root is the container's root; sharing the pid namespace with CAP_SYS_PTRACE a host process's root is the host's", async () => {
    expect(probe(["readlink", "/proc/1/root"])).toBe("ok /");
    const outside = Bun.spawn([fixtures().probe, "sleep", "30"]);
    try {
      const sb = sandbox();
      const spec = hardenedSpec(sb, ["/bin/probe", "cat", `/proc/${outside.pid}/root${sb.secret}`], { shareNamespaces: ["pid"], capAdd: ["CAP_SYS_PTRACE"] });
      expect(answer(sb.run(spec))).toBe("ok host secret");
    } finally {
      outside.kill();
      await outside.exited;
    }
  });

  test("an open fd to a host directory does not survive into the container; --preserve-fds passes it on purpose", () => {
    const sb = sandbox();
    const fd = openSync(sb.bundle, "r");
    try {
      const leaked = sb.run(hardenedSpec(sb, ["/bin/probe", "fds"]), { extraFds: [fd] });
      const fds = leaked.stdout.trim().split("\n").map((l) => l.split(" ")[0]);
      // 0-2 are stdio; the one extra entry is the probe's own handle on /proc/self/fd.
      expect(fds.filter((n) => Number(n) > 2).length).toBeLessThanOrEqual(1);
      expect(leaked.stdout).not.toContain(sb.bundle);
      expect(answer(sb.run(hardenedSpec(sb, ["/bin/probe", "readlink", "/proc/self/cwd"]), { extraFds: [fd] }))).toBe("ok /");

      const kept = sb.run(hardenedSpec(sb, ["/bin/probe", "fds"]), { extraFds: [fd], preserveFds: 1 });
      expect(kept.stdout).toContain(`3 ${sb.bundle}`);
    } finally {
      closeSync(fd);
    }
  });

  test("keyctl and add_key: EPERM; a profile allowing keyctl lets it through", () => {
    expect(probe(["keyctl"])).toBe(EPERM);
    expect(probe(["add_key"])).toBe(EPERM);
    const allowed = probe(["keyctl"], {}, (spec) => {
      spec.linux!.seccomp!.syscalls!.push({ names: ["keyctl"], action: "SCMP_ACT_ALLOW" });
    });
    expect(allowed).not.toBe(EPERM);
  });

  test("unshare a user namespace (default profile): EPERM, by unshare and by clone; with CAP_SYS_ADMIN it works", () => {
    expect(probe(["unshare-user"])).toBe(EPERM);
    expect(probe(["clone-user"])).toBe(EPERM);
    expect(probe(["unshare-user"], { capAdd: ["CAP_SYS_ADMIN"] })).toMatch(/^ok/);
  });

  test("raise capabilities through a setuid binary: no_new_privs keeps uid and caps; without it the binary is root", () => {
    const sb = sandbox();
    const suid = join(sb.rootfs, "bin/suid-probe");
    copyFileSync(fixtures().probe, suid);
    chownSync(suid, 0, 0);
    chmodSync(suid, 0o4755);
    const locked = sb.run(hardenedSpec(sb, ["/bin/suid-probe", "ids"], { uid: 1000 })).stdout;
    expect(locked).toContain("uid=1000 euid=1000");
    expect(locked).toMatch(/CapEff:\s+0000000000000000/);
    expect(locked).toMatch(/NoNewPrivs:\s+1/);
    const open = sb.run(hardenedSpec(sb, ["/bin/suid-probe", "ids"], { uid: 1000, noNewPrivileges: false })).stdout;
    expect(open).toContain("uid=1000 euid=0");
    expect(open).not.toMatch(/CapEff:\s+0000000000000000/);
  });

  test("the errno is the one the policy asks for: errnoRet and defaultErrnoRet", () => {
    expect(probe(["keyctl"], {}, (spec) => {
      spec.linux!.seccomp!.syscalls!.push({ names: ["keyctl"], action: "SCMP_ACT_ERRNO", errnoRet: 38 });
    })).toBe("errno ENOSYS 38");
    expect(probe(["add_key"], {}, (spec) => {
      spec.linux!.seccomp!.defaultErrnoRet = 13;
    })).toBe("errno EACCES 13");
    // Newer than anything the profile names: ENOSYS (so libc falls back), as runc does.
    expect(probe(["syscall", "1000"])).toBe("errno ENOSYS 38");
  });

  test("without no_new_privs the filter still applies to a non-root process (installed before the uid switch)", () => {
    const sb = sandbox();
    const script = "probe ids; probe keyctl; probe mount /tmp/m";
    const out = sb.run(hardenedSpec(sb, ["/bin/sh", "-c", script], { uid: 1000, noNewPrivileges: false })).stdout;
    expect(out).toContain("uid=1000 euid=1000");
    expect(out).toMatch(/NoNewPrivs:\s+0/);
    expect(out).toMatch(/Seccomp:\s+2/);
    expect(out.trim().split("\n").slice(-2)).toEqual([EPERM, EPERM]);
  });

  test("processes started with exec get the same seccomp filter and capability bounding set", () => {
    const sb = sandbox();
    const spec = hardenedSpec(sb, ["/bin/probe", "sleep", "30"]);
    sb.start(spec);
    const exec = (...args: string[]) =>
      Bun.spawnSync([RUNTIME, "--root", sb.state, "exec", sb.id, "/bin/probe", ...args], { stdout: "pipe", stderr: "pipe", timeout: 30_000 });
    const ids = exec("ids").stdout.toString();
    expect(ids).toMatch(/Seccomp:\s+2/);
    const bounding = ids.match(/CapBnd:\s+([0-9a-f]+)/)?.[1];
    expect(bounding).toBe(capabilityMask(spec.process!.capabilities!.bounding).toString(16).padStart(16, "0"));
    expect(exec("keyctl").stdout.toString().trim()).toBe(EPERM);
    expect(exec("mount", "/tmp/m").stdout.toString().trim()).toBe(EPERM);
  });

  test("SCMP_ACT_NOTIFY: the agent at listenerPath gets the fd and the state, and decides the call", async () => {
    const sb = sandbox();
    const sock = join(sb.dir, "agent.sock");
    const agent = Bun.spawn([fixtures().probe, "notify-agent", sock, "20"], { stdout: "pipe", stderr: "pipe" });
    let result: string;
    try {
      for (let i = 0; i < 200 && !existsSync(sock); i++) await Bun.sleep(10);
      const spec = hardenedSpec(sb, ["/bin/probe", "syscall", String(NR.getpid), "7"]);
      spec.linux!.seccomp!.listenerPath = sock;
      spec.linux!.seccomp!.listenerMetadata = "berth-test";
      // An unconditional allow would win over the conditional rule (libseccomp), so take getpid out of it.
      for (const rule of spec.linux!.seccomp!.syscalls!) rule.names = rule.names.filter((n) => n !== "getpid");
      spec.linux!.seccomp!.syscalls = spec.linux!.seccomp!.syscalls!.filter((rule) => rule.names.length > 0);
      spec.linux!.seccomp!.syscalls!.push(
        { names: ["getpid"], action: "SCMP_ACT_NOTIFY", args: [{ index: 0, value: 7, op: "SCMP_CMP_EQ" }] },
        { names: ["getpid"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 7, op: "SCMP_CMP_NE" }] },
      );
      const r = sb.run(spec);
      result = r.stdout.trim() || r.stderr.trim();
    } finally {
      agent.kill();
      await agent.exited;
    }
    const out = await new Response(agent.stdout).text();
    if (process.env.BERTH_TEST_VERBOSE) console.log(out);
    expect(result).toBe("errno EXDEV 18");
    const message = JSON.parse(out.split("\n").find((l) => l.startsWith("state "))!.slice(6));
    expect(message.fds).toEqual(["seccompFd"]);
    expect(message.metadata).toBe("berth-test");
    expect(message.state.id).toBe(sb.id);
    expect(message.pid).toBeGreaterThan(1);
  });

  test("hardening knobs: read-only rootfs, rlimits, oomScoreAdj", () => {
    const sb = sandbox();
    const spec = hardenedSpec(sb, ["/bin/sh", "-c", "probe create /new-file; probe create /tmp/new-file; probe cat /proc/self/oom_score_adj; cat /proc/self/limits"]);
    spec.root!.readonly = true;
    spec.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 256, hard: 512 }];
    spec.process!.oomScoreAdj = 500;
    const out = sb.run(spec).stdout;
    const lines = out.trim().split("\n");
    expect(lines.slice(0, 3)).toEqual([EROFS, EROFS, "ok 500"]);
    expect(out).toMatch(/Max open files\s+256\s+512\s+files/);
    // The same rootfs writable: the write goes through.
    expect(probe(["create", "/tmp/new-file"])).toMatch(/^ok/);
  });

  test("bad policies are refused before anything starts, naming what was wrong", () => {
    const cases: [string, (spec: ReturnType<typeof hardenedSpec>) => void, string][] = [
      ["unknown capability", (spec) => spec.process!.capabilities!.bounding!.push("CAP_FLY"), "CAP_FLY"],
      ["unknown seccomp action", (spec) => spec.linux!.seccomp!.syscalls!.push({ names: ["keyctl"], action: "SCMP_ACT_MAYBE" }), "SCMP_ACT_MAYBE"],
      ["unknown seccomp operator", (spec) => spec.linux!.seccomp!.syscalls!.push({ names: ["keyctl"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, op: "SCMP_CMP_SOMETIMES" }] }), "SCMP_CMP_SOMETIMES"],
      ["unknown architecture", (spec) => { spec.linux!.seccomp!.architectures = ["SCMP_ARCH_Z80"]; }, "SCMP_ARCH_Z80"],
    ];
    for (const [what, edit, name] of cases) {
      const sb = sandbox();
      const spec = hardenedSpec(sb, ["/bin/probe", "pid"]);
      edit(spec);
      const r = sb.run(spec);
      expect({ what, refused: r.exitCode !== 0, ran: r.stdout.includes("ok") }).toEqual({ what, refused: true, ran: false });
      expect({ what, names: r.stderr.includes(name) }).toEqual({ what, names: true });
    }
  });

  test("`spec --seccomp` emits the default profile, and it is enforced", () => {
    const sb = sandbox();
    const r = Bun.spawnSync([RUNTIME, "spec", "--seccomp"], { cwd: sb.bundle, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0 && /seccomp/.test(r.stderr.toString())) return; // a runtime without this option (runc)
    expect(r.exitCode).toBe(0);
    const config = JSON.parse(readFileSync(join(sb.bundle, "config.json"), "utf8"));
    expect(config.linux.seccomp.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(config.linux.seccomp).toEqual(defaultSeccompFor(config.process.capabilities.bounding));
    config.process.terminal = false;
    config.process.args = ["/bin/sh", "-c", "probe keyctl; probe unshare-user; probe pid"];
    config.root = { path: sb.rootfs, readonly: true };
    writeFileSync(join(sb.bundle, "config.json"), JSON.stringify(config));
    const out = Bun.spawnSync([RUNTIME, "--root", sb.state, "run", "-b", sb.bundle, sb.id], { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
    expect(out.stdout.toString().trim().split("\n")).toEqual([EPERM, EPERM, "ok 1"]);
  });

  describe("hostile images and configs (paths from the image are never trusted)", () => {
    /** Runs the container; a refusal to start is an acceptable answer, an escape is not. */
    function runHostile(sb: Sandbox, args: string[], edit?: (spec: ReturnType<typeof hardenedSpec>) => void) {
      const spec = hardenedSpec(sb, args);
      edit?.(spec);
      return sb.run(spec);
    }
    function emptyDir(path: string): string[] {
      return existsSync(path) ? readdirSync(path) : [];
    }

    test("/dev shipped as a symlink out of the rootfs: device setup stays inside", () => {
      const sb = sandbox();
      const outside = join(sb.dir, "outside-dev");
      mkdirSync(outside);
      rmSync(join(sb.rootfs, "dev"), { recursive: true });
      symlinkSync("../../outside-dev", join(sb.rootfs, "dev"));
      runHostile(sb, ["/bin/probe", "ls", "/dev"]);
      expect(emptyDir(outside)).toEqual([]);
      expect(mountedUnder(sb.dir)).toEqual([]);
    });

    test("/proc shipped as a symlink out of the rootfs: procfs is not mounted, sysctls not written, on the host", () => {
      const sb = sandbox();
      const outside = join(sb.dir, "outside-proc");
      mkdirSync(join(outside, "sys/kernel"), { recursive: true });
      writeFileSync(join(outside, "sys/kernel/domainname"), "untouched\n");
      rmSync(join(sb.rootfs, "proc"), { recursive: true });
      symlinkSync(outside, join(sb.rootfs, "proc"));
      runHostile(sb, ["/bin/probe", "ls", "/proc"], (spec) => {
        spec.linux!.sysctl = { "kernel.domainname": "pwned" };
      });
      expect(readdirSync(outside)).toEqual(["sys"]);
      expect(readFileSync(join(outside, "sys/kernel/domainname"), "utf8")).toBe("untouched\n");
      expect(mountedUnder(sb.dir)).toEqual([]);
    });

    test("/dev/null shipped as a symlink into procfs: masking never binds a writable procfs file (CVE-2025-31133)", () => {
      const sb = sandbox();
      // No /dev tmpfs: the image's own /dev is used, with a booby-trapped null.
      mkdirSync(join(sb.rootfs, "dev"), { recursive: true });
      symlinkSync("/proc/sys/kernel/domainname", join(sb.rootfs, "dev/null"));
      const script = "probe read /proc/timer_list 64; probe write /proc/timer_list pwned; probe cat /proc/sys/kernel/domainname; probe stat /proc/timer_list";
      const r = runHostile(sb, ["/bin/sh", "-c", script], (spec) => {
        spec.mounts = spec.mounts!.filter((m) => !m.destination.startsWith("/dev"));
        spec.linux!.readonlyPaths = [];
      });
      if (r.exitCode !== 0 && !r.stdout) return; // refused to start: fine
      const lines = r.stdout.trim().split("\n");
      expect(lines[0]).toBe("ok 0"); // empty: really /dev/null…
      expect(lines[2]).not.toContain("pwned"); // …so the write went nowhere
      expect(lines[lines.length - 1]).toBe("ok type=chr rdev=1:3 size=0");
    });

    test("a mount destination through an absolute symlink lands inside the rootfs", () => {
      const sb = sandbox();
      const outside = join(sb.dir, "outside-mnt");
      mkdirSync(outside);
      const source = join(sb.dir, "volume");
      mkdirSync(source);
      writeFileSync(join(source, "file"), "volume\n");
      rmSync(join(sb.rootfs, "mnt"), { recursive: true });
      symlinkSync(outside, join(sb.rootfs, "mnt"));
      const r = runHostile(sb, ["/bin/probe", "cat", `${outside}/data/file`], (spec) => {
        spec.mounts!.push({ destination: "/mnt/data", type: "bind", source, options: ["rbind", "ro"] });
      });
      expect(emptyDir(outside)).toEqual([]);
      expect(mountedUnder(sb.dir)).toEqual([]);
      // If it started, the volume is where the symlink points *inside* the container.
      if (r.exitCode === 0) expect(answer(r)).toBe("ok volume");
    });

    test("cwd through a leaked /proc/self/fd/N never starts a process outside the rootfs (CVE-2024-21626)", () => {
      for (let n = 3; n <= 9; n++) {
        const sb = sandbox();
        const r = runHostile(sb, ["/bin/probe", "readlink", "/proc/self/cwd"], (spec) => {
          spec.process!.cwd = `/proc/self/fd/${n}`;
        });
        if (r.exitCode !== 0) continue; // refused: fine
        const cwd = answer(r);
        expect({ n, cwd, escaped: !cwd.startsWith("ok /") || cwd.includes(sb.dir) || cwd.includes("/sys/fs/cgroup") })
          .toEqual({ n, cwd, escaped: false });
      }
    });

    test("exec leaves the inheritable set empty (CVE-2022-29162)", () => {
      const sb = sandbox();
      sb.start(hardenedSpec(sb, ["/bin/probe", "sleep", "30"]));
      const ids = Bun.spawnSync([RUNTIME, "--root", sb.state, "exec", sb.id, "/bin/probe", "ids"], { stdout: "pipe", timeout: 30_000 }).stdout.toString();
      expect(ids).toMatch(/CapInh:\s+0000000000000000/);
      expect(ids).toMatch(/CapAmb:\s+0000000000000000/);
    });
  });

  describe("user namespaces: container root is an unprivileged host uid", () => {
    const ROOT = 100000;

    test("root inside is uid 100000 on the host", async () => {
      const sb = sandbox();
      chownTree(sb.rootfs, ROOT);
      sb.start(hardenedSpec(sb, ["/bin/probe", "sleep", "30"], { userNamespaceRoot: ROOT }));
      const state = JSON.parse(Bun.spawnSync([RUNTIME, "--root", sb.state, "state", sb.id], { stdout: "pipe" }).stdout.toString());
      const status = readFileSync(`/proc/${state.pid}/status`, "utf8");
      expect(status).toMatch(new RegExp(`Uid:\\s+${ROOT}\\s+${ROOT}\\s+${ROOT}\\s+${ROOT}`));
      const ids = Bun.spawnSync([RUNTIME, "--root", sb.state, "exec", sb.id, "/bin/probe", "ids"], { stdout: "pipe", timeout: 30_000 }).stdout.toString();
      expect(ids).toContain("uid=0 euid=0");
    });

    test("host files are out of reach even for container root; files given to the mapped uid are writable", () => {
      const sb = sandbox();
      chownTree(sb.rootfs, ROOT);
      const hostDir = join(sb.dir, "host-data");
      mkdirSync(hostDir);
      writeFileSync(join(hostDir, "root-owned"), "host\n", { mode: 0o644 });
      writeFileSync(join(hostDir, "mapped-owned"), "mapped\n", { mode: 0o644 });
      chownSync(join(hostDir, "mapped-owned"), ROOT, ROOT);
      const spec = hardenedSpec(sb, ["/bin/sh", "-c", "probe write /data/root-owned x; probe write /data/mapped-owned x"], { userNamespaceRoot: ROOT });
      spec.mounts!.push({ destination: "/data", type: "bind", source: hostDir, options: ["rbind", "rw"] });
      const out = sb.run(spec).stdout.trim().split("\n");
      expect(out).toEqual(["errno EACCES 13", "ok 1"]);
      expect(readFileSync(join(hostDir, "root-owned"), "utf8")).toBe("host\n");
    });

    test("capabilities count only inside: with CAP_MKNOD and CAP_SYS_TIME, no device nodes and no clock changes", () => {
      const sb = sandbox();
      chownTree(sb.rootfs, ROOT);
      const spec = hardenedSpec(sb, ["/bin/sh", "-c", "probe mknod-open /tmp/dev 10 237; probe settime"], { userNamespaceRoot: ROOT, capAdd: ["CAP_SYS_TIME"] });
      spec.linux!.resources!.devices!.push({ allow: true, type: "c", major: 10, minor: 237, access: "rwm" });
      const out = sb.run(spec).stdout.trim().split("\n");
      expect(out).toEqual(["mknod errno EPERM 1", EPERM]);
    });
  });

  describe("rootless: `spec --rootless` run by an unprivileged user (uid 1000)", () => {
    const USER = 1000;
    function asUser(sb: Sandbox, argv: string[], cwd?: string) {
      const r = Bun.spawnSync(
        ["setpriv", `--reuid=${USER}`, `--regid=${USER}`, "--clear-groups", "env", `HOME=${sb.dir}`, `XDG_RUNTIME_DIR=${sb.state}`, ...argv],
        { cwd, stdout: "pipe", stderr: "pipe", timeout: 60_000 },
      );
      return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode };
    }

    test("container root is the user on the host: its files are the user's, root's files and host powers are out of reach", () => {
      const sb = sandbox();
      writeFileSync(join(sb.rootfs, "etc/host-owned"), "host root's\n", { mode: 0o644 });
      chownTree(sb.bundle, USER);
      chownSync(join(sb.rootfs, "etc/host-owned"), 0, 0);
      mkdirSync(sb.state);
      chownSync(sb.state, USER, USER);
      const spec = asUser(sb, [RUNTIME, "spec", "--rootless"], sb.bundle);
      expect(spec.stderr).toBe("");
      const config = JSON.parse(readFileSync(join(sb.bundle, "config.json"), "utf8"));
      expect(config.linux.namespaces.map((ns: { type: string }) => ns.type)).toContain("user");
      config.process.terminal = false;
      config.root = { path: "rootfs", readonly: false };
      config.process.args = ["/bin/sh", "-c", [
        "probe ids", "echo x > /tmp/made-inside && echo ok 1", "probe write /etc/host-owned x", "probe mount /mnt", "probe sethostname pwned",
      ].join("; ")];
      writeFileSync(join(sb.bundle, "config.json"), JSON.stringify(config));
      const r = asUser(sb, [RUNTIME, "--root", sb.state, "run", "-b", sb.bundle, sb.id]);
      expect(r.stderr).toBe("");
      const out = r.stdout.trim().split("\n");
      expect(out[0]).toBe("uid=0 euid=0");
      expect(out.slice(-4)).toEqual(["ok 1", "errno EACCES 13", EPERM, EPERM]);
      expect(statSync(join(sb.rootfs, "tmp/made-inside")).uid).toBe(USER);
      expect(readFileSync(join(sb.rootfs, "etc/host-owned"), "utf8")).toBe("host root's\n");
    });
  });

  test("overwrite the runtime binary via /proc/<pid>/exe during exec: nothing on the host becomes writable", async () => {
    const sb = sandbox();
    const hostBinaries = runtimeBinaries().filter((p) => existsSync(p));
    const before = hostBinaries.map((p) => [p, hash(p)]);
    sb.start(hardenedSpec(sb, ["/bin/sh", "-c", "/bin/probe exe-grab 6 > /tmp/grab.log 2>&1"]));
    for (let i = 0; i < 6; i++) {
      Bun.spawnSync([RUNTIME, "--root", sb.state, "exec", sb.id, "/bin/probe", "pid"], { stdio: ["ignore", "ignore", "ignore"], timeout: 30_000 });
      Bun.spawnSync([RUNTIME, "--root", sb.state, "exec", sb.id, "/proc/self/exe"], { stdio: ["ignore", "ignore", "ignore"], timeout: 30_000 });
    }
    const logs = await waitForExit(sb);
    if (process.env.BERTH_TEST_VERBOSE) console.log(logs);
    const writable = logs.split("\n").filter((l) => l.startsWith("writable"));
    const hostInodes = new Set(hostBinaries.map((p) => `${statSync(p).dev}:${statSync(p).ino}`));
    for (const line of writable) {
      const dev = /dev=(\d+)/.exec(line)![1], ino = /ino=(\d+)/.exec(line)![1];
      expect({ line, hostBinary: hostInodes.has(`${dev}:${ino}`) }).toEqual({ line, hostBinary: false });
      expect(line).not.toMatch(/link=\/(?!memfd:)/);
    }
    expect(hostBinaries.map((p) => [p, hash(p)])).toEqual(before);
    expect(logs).toMatch(/grabbed \d+ handles/);
  }, 60_000);
});

/** The host's first disk (major, minor), from /proc/partitions. */
function hostDisk(): [number, number] | undefined {
  const line = readFileSync("/proc/partitions", "utf8").split("\n").slice(2).find((l) => l.trim());
  if (!line) return undefined;
  const [major, minor] = line.trim().split(/\s+/).map(Number);
  return [major!, minor!];
}

function hostCanRead(major: number, minor: number): boolean {
  const path = `/sys/dev/block/${major}:${minor}`;
  if (!existsSync(path)) return false;
  const name = readFileSync(join(path, "uevent"), "utf8").match(/DEVNAME=(\S+)/)?.[1];
  if (!name) return false;
  try {
    const fd = openSync(`/dev/${name}`, "r");
    closeSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** Mount points on the host under `dir` (there must be none once a container is gone, and
 *  none ever outside its rootfs). */
function mountedUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point === dir || point.startsWith(dir + "/"));
}

function runtimeBinaries(): string[] {
  const repo = join(import.meta.dir, "../..");
  return [RUNTIME, join(repo, "build/berth-init"), join(repo, "build/berth-monitor"), process.execPath, "/usr/sbin/runc", "/usr/bin/crun"];
}

function hash(path: string): string {
  return new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");
}

/** A detached container's stdout goes nowhere, so exe-grab writes to a file in the rootfs:
 *  wait for the container to stop, then read it. */
async function waitForExit(sb: Sandbox): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const r = Bun.spawnSync([RUNTIME, "--root", sb.state, "state", sb.id], { stdout: "pipe", stderr: "ignore" });
    if (r.exitCode !== 0 || JSON.parse(r.stdout.toString()).status === "stopped") break;
    await Bun.sleep(100);
  }
  return existsSync(join(sb.rootfs, "tmp/grab.log")) ? readFileSync(join(sb.rootfs, "tmp/grab.log"), "utf8") : "";
}
