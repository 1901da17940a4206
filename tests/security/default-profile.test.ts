import { describe, expect, test } from "bun:test";
import { defaultSeccompFor, hostForSeccomp, kernelAtLeast } from "../../src/security/default-profile.ts";
import { DEFAULT_CAPABILITIES } from "../../src/security/capabilities.ts";
import { seccompRecords } from "../../src/security/seccomp.ts";
import type { Seccomp } from "../../src/oci/spec.ts";

const x86 = { arch: "x86_64", kernel: "6.1.0-18-amd64" };

function allowed(s: Seccomp, name: string): boolean {
  return (s.syscalls ?? []).some((r) => r.action === "SCMP_ACT_ALLOW" && r.names.includes(name) && !r.args);
}
function rulesFor(s: Seccomp, name: string) {
  return (s.syscalls ?? []).filter((r) => r.names.includes(name));
}

describe("default seccomp profile", () => {
  const docker = defaultSeccompFor([...DEFAULT_CAPABILITIES], x86);

  test("is an allowlist refusing with EPERM", () => {
    expect(docker.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(docker.defaultErrnoRet).toBe(1);
    expect(docker.architectures).toEqual(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    for (const name of ["read", "openat", "execve", "socketpair", "arch_prctl", "chroot"]) expect(allowed(docker, name)).toBe(true);
  });

  test("refuses what Docker refuses by default", () => {
    for (const name of [
      "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load", "reboot", "mount", "umount2", "unshare",
      "setns", "bpf", "perf_event_open", "init_module", "finit_module", "delete_module", "swapon", "swapoff",
      "settimeofday", "clock_settime", "open_by_handle_at", "acct", "iopl", "ioperm", "sethostname", "syslog",
      "userfaultfd", "io_uring_setup", "io_uring_enter", "kcmp", "pidfd_getfd", "lookup_dcookie", "vhangup",
      "quotactl", "fsopen", "move_mount", "open_tree", "personality", "socket", "clone",
    ]) expect(allowed(docker, name)).toBe(false);
  });

  test("clone may not create namespaces and clone3 gets ENOSYS without CAP_SYS_ADMIN", () => {
    expect(rulesFor(docker, "clone")).toEqual([
      { names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] },
    ]);
    expect(rulesFor(docker, "clone3")).toEqual([{ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 }]);
    expect(rulesFor(docker, "socket")[0]!.args).toEqual([{ index: 0, value: 40, op: "SCMP_CMP_NE" }]);
    expect(rulesFor(docker, "personality").map((r) => r.args![0]!.value)).toEqual([0, 8, 0x20000, 0x20008, 0xffffffff]);
  });

  test("capabilities open their syscalls", () => {
    const admin = defaultSeccompFor([...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"], x86);
    for (const name of ["mount", "umount2", "unshare", "setns", "sethostname", "clone", "clone3", "bpf"]) expect(allowed(admin, name)).toBe(true);
    expect(rulesFor(admin, "clone3").every((r) => r.action === "SCMP_ACT_ALLOW")).toBe(true);
    expect(rulesFor(admin, "clone").every((r) => !r.args)).toBe(true);
    const gates: [string, string[]][] = [
      ["CAP_SYS_BOOT", ["reboot"]],
      ["CAP_SYS_MODULE", ["init_module", "finit_module", "delete_module"]],
      ["CAP_SYS_TIME", ["settimeofday", "clock_settime", "stime"]],
      ["CAP_SYS_PTRACE", ["kcmp", "pidfd_getfd", "process_madvise"]],
      ["CAP_SYS_RAWIO", ["iopl", "ioperm"]],
      ["CAP_DAC_READ_SEARCH", []],
      ["CAP_SYS_PACCT", ["acct"]],
      ["CAP_SYS_NICE", ["mbind", "set_mempolicy"]],
      ["CAP_SYSLOG", ["syslog"]],
      ["CAP_BPF", ["bpf"]],
      ["CAP_PERFMON", ["perf_event_open"]],
      ["CAP_SYS_TTY_CONFIG", ["vhangup"]],
    ];
    for (const [cap, names] of gates) {
      const s = defaultSeccompFor([cap], x86);
      for (const name of names) expect(allowed(s, name)).toBe(true);
    }
    // Granting CAP_BPF must not open mount; keyctl stays closed whatever is granted.
    expect(allowed(defaultSeccompFor(["CAP_BPF"], x86), "mount")).toBe(false);
    const all = defaultSeccompFor(["CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_BOOT", "CAP_SYS_PTRACE"], x86);
    for (const name of ["keyctl", "add_key", "request_key", "kexec_load", "userfaultfd"]) expect(allowed(all, name)).toBe(false);
  });

  test("chroot follows CAP_SYS_CHROOT", () => {
    expect(allowed(defaultSeccompFor([], x86), "chroot")).toBe(false);
    expect(allowed(defaultSeccompFor(["CAP_SYS_CHROOT"], x86), "chroot")).toBe(true);
  });

  test("ptrace is allowed from kernel 4.8 on, as Docker does", () => {
    expect(allowed(defaultSeccompFor([], x86), "ptrace")).toBe(true);
    expect(allowed(defaultSeccompFor([], { ...x86, kernel: "4.4.0-210-generic" }), "ptrace")).toBe(false);
    expect(kernelAtLeast("4.8", "4.8")).toBe(true);
    expect(kernelAtLeast("4.19.0", "4.8")).toBe(true);
    expect(kernelAtLeast("3.10.0-1160.el7", "4.8")).toBe(false);
  });

  test("architecture gates", () => {
    const arm = defaultSeccompFor([], { arch: "aarch64", kernel: "6.1" });
    expect(arm.architectures).toEqual(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    expect(allowed(arm, "arch_prctl")).toBe(false);
    expect(allowed(arm, "cacheflush")).toBe(true);
    const s390 = defaultSeccompFor([], { arch: "s390x", kernel: "6.1" });
    expect(rulesFor(s390, "clone")[0]!.args![0]!.index).toBe(1);
  });

  test("unknown capability names are rejected, not ignored", () => {
    expect(() => defaultSeccompFor(["CAP_SYS_ADMINN"], x86)).toThrow(/unknown capability/);
  });

  test("the resolved profile passes validation for the host", () => {
    const records = seccompRecords(defaultSeccompFor([...DEFAULT_CAPABILITIES], hostForSeccomp()));
    expect(records[0]).toEqual(["seccomp_default", "errno", 1]);
    expect(records.filter((r) => r[0] === "seccomp_rule").length).toBeGreaterThan(340);
  });
});
