// The C core's seccomp_install and caps_apply on their own (through a small driver), so a
// failure here points at native/init/{seccomp,caps}.c and not at the runtime around them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Seccomp } from "../../src/oci/spec.ts";
import type { PlanRecord } from "../../src/sys/plan-encoding.ts";
import { capabilitiesRecord, capabilityMask, DEFAULT_CAPABILITIES } from "../../src/security/capabilities.ts";
import { defaultSeccompFor } from "../../src/security/default-profile.ts";
import { seccompRecords } from "../../src/security/seccomp.ts";
import { NR, fixtures, removeFixtures, underPlan } from "./helpers.ts";

// Compiling the probe and the driver takes a few seconds on a loaded machine.
beforeAll(() => void fixtures(), 120_000);
afterAll(removeFixtures);

const EXDEV = "errno EXDEV 18";
const x86 = process.arch === "x64";

function withRule(args: Seccomp["syscalls"]): PlanRecord[] {
  return seccompRecords({ defaultAction: "SCMP_ACT_ALLOW", syscalls: args });
}
function getpidWith(conds: { index: number; value: number; valueTwo?: number; op: string }[]): PlanRecord[] {
  return withRule([{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 18, args: conds }]);
}
function callGetpid(records: PlanRecord[], ...args: (number | bigint)[]): string {
  const r = underPlan(records, ["syscall", String(NR.getpid), ...args.map(String)]);
  if (r.exitCode !== 0) throw new Error(`driver failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout.trim();
}
function statusLine(out: string, key: string): string {
  return out.split("\n").find((l) => l.startsWith(key))?.split(/\s+/)[1] ?? "";
}
function hex(mask: bigint): string {
  return mask.toString(16).padStart(16, "0");
}

describe("seccomp_install", () => {
  test("no seccomp_default record: no filter", () => {
    const r = underPlan([["state_json", "{}"]], ["ids"]);
    expect(statusLine(r.stdout, "Seccomp:")).toBe("0");
  });

  test("errnoRet and the EPERM default", () => {
    const records = withRule([
      { names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
      { names: ["getppid"], action: "SCMP_ACT_ERRNO" },
    ]);
    expect(callGetpid(records)).toBe("errno ENOSYS 38");
    expect(underPlan(records, ["syscall", String(x86 ? 110 : 173)]).stdout.trim()).toBe("errno EPERM 1");
  });

  test("defaultErrnoRet applies to everything not allowed", () => {
    const s = defaultSeccompFor([...DEFAULT_CAPABILITIES]);
    const r = underPlan(seccompRecords({ ...s, defaultErrnoRet: 13 }), ["keyctl"]);
    expect(r.stdout.trim()).toBe("errno EACCES 13");
  });

  test("kill, kill_process and trap end the process with SIGSYS; trace without a tracer gives ENOSYS; log allows", () => {
    for (const action of ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"]) {
      const r = underPlan(withRule([{ names: ["getpid"], action }]), ["syscall", String(NR.getpid)]);
      expect({ action, signal: r.signal, out: r.stdout }).toEqual({ action, signal: "SIGSYS", out: "" });
    }
    expect(callGetpid(withRule([{ names: ["getpid"], action: "SCMP_ACT_TRACE" }]))).toBe("errno ENOSYS 38");
    expect(callGetpid(withRule([{ names: ["getpid"], action: "SCMP_ACT_LOG" }]))).toMatch(/^ok \d+$/);
    expect(callGetpid(withRule([{ names: ["getpid"], action: "SCMP_ACT_ALLOW" }]))).toMatch(/^ok \d+$/);
  });

  test("every comparison operator", () => {
    const cases: [string, number, number, boolean][] = [
      ["SCMP_CMP_EQ", 5, 5, true], ["SCMP_CMP_EQ", 5, 6, false],
      ["SCMP_CMP_NE", 5, 6, true], ["SCMP_CMP_NE", 5, 5, false],
      ["SCMP_CMP_LT", 5, 4, true], ["SCMP_CMP_LT", 5, 5, false],
      ["SCMP_CMP_LE", 5, 5, true], ["SCMP_CMP_LE", 5, 6, false],
      ["SCMP_CMP_GE", 5, 5, true], ["SCMP_CMP_GE", 5, 4, false],
      ["SCMP_CMP_GT", 5, 6, true], ["SCMP_CMP_GT", 5, 5, false],
    ];
    for (const [op, value, arg, refused] of cases) {
      const out = callGetpid(getpidWith([{ index: 2, value, op }]), 0, 0, arg);
      expect({ op, arg, refused: out === EXDEV }).toEqual({ op, arg, refused });
    }
    const masked = getpidWith([{ index: 0, value: 0xf0, valueTwo: 0x30, op: "SCMP_CMP_MASKED_EQ" }]);
    expect(callGetpid(masked, 0x35)).toBe(EXDEV);
    expect(callGetpid(masked, 0x45)).not.toBe(EXDEV);
  });

  test("full 64-bit argument values", () => {
    const records = seccompRecords({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 18, args: [{ index: 1, value: 0x100000005, op: "SCMP_CMP_EQ" }] }],
    });
    expect(callGetpid(records, 0, 0x100000005)).toBe(EXDEV);
    expect(callGetpid(records, 0, 5)).not.toBe(EXDEV);
  });

  test("conditions on different arguments are ANDed", () => {
    const records = getpidWith([{ index: 0, value: 5, op: "SCMP_CMP_EQ" }, { index: 1, value: 9, op: "SCMP_CMP_EQ" }]);
    expect(callGetpid(records, 5, 9)).toBe(EXDEV);
    expect(callGetpid(records, 5, 8)).not.toBe(EXDEV);
    expect(callGetpid(records, 4, 9)).not.toBe(EXDEV);
  });

  test("several conditions on the same argument are ORed, as runc does", () => {
    const records = getpidWith([{ index: 0, value: 5, op: "SCMP_CMP_EQ" }, { index: 0, value: 7, op: "SCMP_CMP_EQ" }]);
    expect(callGetpid(records, 5)).toBe(EXDEV);
    expect(callGetpid(records, 7)).toBe(EXDEV);
    expect(callGetpid(records, 6)).not.toBe(EXDEV);
  });

  test("unknown syscall names are skipped; architectures and every flag load", () => {
    const records = seccompRecords({
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: x86 ? ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] : ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
      flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
      syscalls: [
        { names: ["no_such_syscall_in_any_kernel", "getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 18 },
      ],
    });
    expect(callGetpid(records)).toBe(EXDEV);
  });

  test("syscalls newer than the profile get ENOSYS, as runc does; known but unlisted ones EPERM", () => {
    const records = seccompRecords(defaultSeccompFor([...DEFAULT_CAPABILITIES]));
    const call = (nr: number) => underPlan(records, ["syscall", String(nr)]).stdout.trim();
    expect(call(1000)).toBe("errno ENOSYS 38");
    if (x86) {
      expect(call(452)).toBe("errno ENOSYS 38"); // fchmodat2: libc falls back to fchmodat on ENOSYS only
      expect(call(250)).toBe("errno EPERM 1"); // keyctl
      expect(call(0x40000000 + 1000)).toBe("errno EPERM 1"); // x32 numbering is left to the real filter
    }
  });

  test("a filter compiled by seccomp_prepare before fork is the one loaded after it", () => {
    const records = withRule([{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 18 }]);
    const r = underPlan(records, ["syscall", String(NR.getpid)], { prepareBeforeFork: true });
    expect(r.stdout.trim()).toBe(EXDEV);
    const kill = underPlan(withRule([{ names: ["getpid"], action: "SCMP_ACT_KILL_PROCESS" }]), ["syscall", String(NR.getpid)], { prepareBeforeFork: true });
    expect(kill.signal).toBe("SIGSYS");
  });

  test("a rule equal to the default action is a no-op, not an error", () => {
    expect(callGetpid(withRule([{ names: ["getpid"], action: "SCMP_ACT_ALLOW" }, { names: ["getppid"], action: "SCMP_ACT_ERRNO" }]))).toMatch(/^ok/);
  });

  test("installed before the uid switch without no_new_privs, after it with", () => {
    const records = withRule([{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 18 }]);
    const plain = underPlan(records, ["ids"], { uid: 1000 });
    expect(plain.stderr).toBe("");
    expect(statusLine(plain.stdout, "Seccomp:")).toBe("2");
    expect(statusLine(plain.stdout, "NoNewPrivs:")).toBe("0");
    const nnp = underPlan(records, ["ids"], { uid: 1000, nnp: true });
    expect(statusLine(nnp.stdout, "Seccomp:")).toBe("2");
    expect(statusLine(nnp.stdout, "NoNewPrivs:")).toBe("1");
  });

  describe("notify", () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-sec-notify-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test("the listener receives the fd and the container process state, and answers the call", async () => {
      const sock = join(dir, "agent.sock");
      const agent = Bun.spawn([fixtures().probe, "notify-agent", sock, "10"], { stdout: "pipe", stderr: "pipe" });
      try {
        for (let i = 0; i < 200 && !existsSync(sock); i++) await Bun.sleep(10);
        const records: PlanRecord[] = [
          ...seccompRecords({
            defaultAction: "SCMP_ACT_ALLOW",
            listenerPath: sock,
            listenerMetadata: "meta \"quoted\"",
            syscalls: [{ names: ["getpid"], action: "SCMP_ACT_NOTIFY" }],
          }),
          ["state_json", JSON.stringify({ ociVersion: "1.2.0", id: "c1", status: "creating", bundle: "/b" })],
        ];
        expect(callGetpid(records)).toBe(EXDEV);
      } finally {
        agent.kill();
        await agent.exited;
      }
      const out = await new Response(agent.stdout).text();
      const state = out.split("\n").find((l) => l.startsWith("state "))!.slice(6);
      const message = JSON.parse(state);
      expect(message.fds).toEqual(["seccompFd"]);
      expect(message.metadata).toBe("meta \"quoted\"");
      expect(message.state).toEqual({ ociVersion: "1.2.0", id: "c1", status: "creating", bundle: "/b" });
      expect(message.pid).toBeGreaterThan(1);
      expect(out).toContain(`notified syscall=${NR.getpid}`);
    });

    test("a missing listener fails the start with a clear error", () => {
      const records = seccompRecords({
        defaultAction: "SCMP_ACT_ALLOW",
        listenerPath: join(dir, "nobody-listens.sock"),
        syscalls: [{ names: ["getpid"], action: "SCMP_ACT_NOTIFY" }],
      });
      const r = underPlan(records, ["pid"]);
      expect(r.exitCode).toBe(121);
      expect(r.stderr).toContain("failed to connect with seccomp agent"); // runc's words
    });
  });
});

describe("caps_apply", () => {
  const bnd = (names: string[]) => hex(capabilityMask(names));

  test("root keeps exactly the asked sets; inheritable stays empty", () => {
    const r = underPlan([capabilitiesRecord({ bounding: ["CAP_CHOWN", "CAP_KILL"], effective: ["CAP_CHOWN", "CAP_KILL"], permitted: ["CAP_CHOWN", "CAP_KILL"] })], ["ids"]);
    expect(statusLine(r.stdout, "CapBnd:")).toBe(bnd(["CAP_CHOWN", "CAP_KILL"]));
    expect(statusLine(r.stdout, "CapEff:")).toBe(bnd(["CAP_CHOWN", "CAP_KILL"]));
    expect(statusLine(r.stdout, "CapInh:")).toBe(hex(0n));
    expect(statusLine(r.stdout, "CapAmb:")).toBe(hex(0n));
  });

  test("a non-root process gets its capabilities through the ambient set", () => {
    const one = ["CAP_NET_BIND_SERVICE"];
    const r = underPlan([capabilitiesRecord({ bounding: one, effective: one, permitted: one, inheritable: one, ambient: one })], ["ids"], { uid: 1000 });
    expect(r.stdout).toContain("uid=1000 euid=1000");
    for (const key of ["CapEff:", "CapPrm:", "CapAmb:", "CapBnd:", "CapInh:"]) expect(statusLine(r.stdout, key)).toBe(bnd(one));
  });

  test("without ambient, a non-root process ends with no capabilities, bounding as asked", () => {
    const caps = [...DEFAULT_CAPABILITIES];
    const r = underPlan([capabilitiesRecord({ bounding: caps, effective: caps, permitted: caps })], ["ids"], { uid: 1000 });
    expect(statusLine(r.stdout, "CapEff:")).toBe(hex(0n));
    expect(statusLine(r.stdout, "CapBnd:")).toBe(bnd(caps));
  });

  test("ambient without inheritable is skipped, as runc does", () => {
    const one = ["CAP_KILL"];
    const r = underPlan([capabilitiesRecord({ bounding: one, effective: one, permitted: one, ambient: one })], ["ids"], { uid: 1000 });
    expect(r.exitCode).toBe(0);
    expect(statusLine(r.stdout, "CapAmb:")).toBe(hex(0n));
  });

  test("a capability the runtime does not hold is a clear error", async () => {
    const status = await Bun.file("/proc/self/status").text();
    const held = BigInt("0x" + statusLine(status, "CapPrm:"));
    const missing = Array.from({ length: 41 }, (_, i) => i).find((bit) => !((held >> BigInt(bit)) & 1n));
    if (missing === undefined) return; // this runtime holds every capability: nothing to refuse
    const { CAPABILITY_NAMES } = await import("../../src/security/capabilities.ts");
    const name = CAPABILITY_NAMES[missing]!;
    const r = underPlan([capabilitiesRecord({ bounding: [name], permitted: [name] })], ["ids"]);
    expect(r.exitCode).toBe(124);
    expect(r.stderr).toContain(`capability ${name} was asked for but the runtime does not hold it`);
    // The names come from the record (the C core has no table): a record of masks only says the number.
    const masks = capabilitiesRecord({ bounding: [name], permitted: [name] }).slice(0, 6) as unknown as PlanRecord;
    const bare = underPlan([masks], ["ids"]);
    expect(bare.exitCode).toBe(124);
    expect(bare.stderr).toContain(`capability ${missing} was asked for but the runtime does not hold it`);
  });
});
