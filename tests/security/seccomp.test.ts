import { describe, expect, test } from "bun:test";
import { SeccompError, seccompRecords } from "../../src/security/seccomp.ts";

describe("seccompRecords", () => {
  test("default, arches, flags and one rule per name with conditions", () => {
    const records = seccompRecords({
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 38,
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
      flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
      syscalls: [
        { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
        { names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] },
        { names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
        { names: ["rmdir"], action: "SCMP_ACT_TRACE" },
        { names: ["kill"], action: "SCMP_ACT_KILL" },
      ],
    });
    expect(records).toEqual([
      ["seccomp_default", "errno", 38],
      ["seccomp_arch", "x86_64"],
      ["seccomp_arch", "x86"],
      ["seccomp_flag", "SECCOMP_FILTER_FLAG_LOG"],
      ["seccomp_flag", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
      ["seccomp_rule", "allow", 0, "read"],
      ["seccomp_rule", "allow", 0, "write"],
      ["seccomp_rule", "allow", 0, "clone", "0", "MASKED_EQ", String(0x7e020000), "0"],
      ["seccomp_rule", "errno", 13, "mkdir"],
      ["seccomp_rule", "trace", 1, "rmdir"],
      ["seccomp_rule", "kill_thread", 0, "kill"],
    ]);
  });

  test("every action and operator maps", () => {
    const actions = ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"];
    const mapped = actions.map((action) => seccompRecords({ defaultAction: action })[0]![1]);
    expect(mapped).toEqual(["kill_thread", "kill_thread", "kill_process", "trap", "errno", "trace", "allow", "log"]);
    const ops = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];
    const rec = seccompRecords({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["ioctl"], action: "SCMP_ACT_ERRNO", args: ops.map((op, index) => ({ index: index % 6, value: 1, op })) }],
    })[1]!;
    expect(rec.filter((f) => typeof f === "string" && /^[A-Z_]+$/.test(f))).toEqual(["NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ"]);
  });

  test("u64 argument values survive as decimal text", () => {
    const rec = seccompRecords({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["personality"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 18446744073709551615n as unknown as number, op: "SCMP_CMP_EQ" }] }],
    })[1]!;
    expect(rec[6]).toBe("18446744073709551615");
  });

  test("notify needs a listener and emits it", () => {
    const base = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] };
    expect(() => seccompRecords(base)).toThrow(/listenerPath is not set/);
    const records = seccompRecords({ ...base, listenerPath: "/run/agent.sock", listenerMetadata: "m" });
    expect(records).toContainEqual(["seccomp_listener", "/run/agent.sock", "m"]);
    expect(() => seccompRecords({ ...base, listenerPath: "relative.sock" })).toThrow(/absolute/);
    expect(() => seccompRecords({ defaultAction: "SCMP_ACT_NOTIFY", listenerPath: "/a" })).toThrow(/cannot be the default/);
    expect(() => seccompRecords({ ...base, listenerPath: "/a", syscalls: [{ names: ["sendmsg"], action: "SCMP_ACT_NOTIFY" }] })).toThrow(/sendmsg/);
  });

  const bad: [string, object, RegExp][] = [
    ["unknown default action", { defaultAction: "SCMP_ACT_MAYBE" }, /defaultAction: unknown action "SCMP_ACT_MAYBE"/],
    ["errno on allow", { defaultAction: "SCMP_ACT_ALLOW", defaultErrnoRet: 1 }, /defaultErrnoRet: only valid/],
    ["errno too big", { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 70000 }, /0 and 65535/],
    ["unknown arch", { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_Z80"] }, /architectures\[0\]: unknown architecture "SCMP_ARCH_Z80"/],
    ["unknown flag", { defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_FAST"] }, /flags\[0\]: unknown flag/],
    ["rule action", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "ALLOW" }] }, /syscalls\[0\]\.action: unknown action/],
    ["empty names", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [], action: "SCMP_ACT_ERRNO" }] }, /names: must be a non-empty/],
    ["bad name", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["rm -rf"], action: "SCMP_ACT_ERRNO" }] }, /not a syscall name/],
    ["errnoRet on kill", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_KILL", errnoRet: 1 }] }, /errnoRet: only SCMP_ACT_ERRNO/],
    ["arg index", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_ERRNO", args: [{ index: 6, value: 0, op: "SCMP_CMP_EQ" }] }] }, /args\[0\]\.index: must be 0\.\.5/],
    ["arg op", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 0, op: "SCMP_CMP_ABOUT" }] }] }, /op: unknown operator "SCMP_CMP_ABOUT"/],
    ["negative value", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: -1, op: "SCMP_CMP_EQ" }] }] }, /unsigned 64-bit/],
    ["metadata alone", { defaultAction: "SCMP_ACT_ALLOW", listenerMetadata: "x" }, /without listenerPath/],
  ];
  for (const [what, spec, message] of bad) {
    test(`rejects ${what} with a clear error`, () => {
      expect(() => seccompRecords(spec as never)).toThrow(SeccompError);
      expect(() => seccompRecords(spec as never)).toThrow(message);
    });
  }
});
