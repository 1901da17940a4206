// The eBPF program that enforces linux.resources.devices on cgroup v2 (BPF_PROG_TYPE_CGROUP_DEVICE).
// The kernel calls it with struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; },
// where access_type = (access << 16) | type. Returning 1 allows the access, 0 denies it (EPERM).
//
// Semantics follow the spec's list order: a later rule overrides an earlier one, and anything no
// rule matches is denied. So the program tests the rules from last to first and returns at the
// first match.
import type { DeviceCgroupRule } from "../oci/spec.ts";
import { CgroupError } from "./files.ts";

const DEV_BLOCK = 1, DEV_CHAR = 2; // BPF_DEVCG_DEV_*
const ACC_MKNOD = 1, ACC_READ = 2, ACC_WRITE = 4; // BPF_DEVCG_ACC_*

// Opcodes (linux/bpf.h): class | op | source.
const LDX_MEM_W = 0x61, ALU32_AND_K = 0x54, ALU32_RSH_K = 0x74, MOV64_K = 0xb7, MOV64_X = 0xbf;
const JNE_K = 0x55, JEQ_K = 0x15, EXIT = 0x95;
const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R6 = 6;

interface Insn { code: number; dst: number; src: number; off: number; imm: number }

function insn(code: number, dst: number, src: number, off: number, imm: number): Insn {
  return { code, dst, src, off, imm };
}

function accessMask(access: string): number {
  let m = 0;
  for (const ch of access) m |= ch === "r" ? ACC_READ : ch === "w" ? ACC_WRITE : ch === "m" ? ACC_MKNOD : 0;
  return m;
}

/** The instructions for one rule: jumps to the rule's end when it does not match, else returns. */
function ruleBlock(rule: DeviceCgroupRule, field: string): Insn[] {
  const type = rule.type ?? "a";
  if (!["a", "b", "c"].includes(type)) throw new CgroupError(`${field}.type: ${JSON.stringify(type)} must be a, b or c`);
  const access = rule.access ?? "rwm";
  if (!/^[rwm]{1,3}$/.test(access)) throw new CgroupError(`${field}.access: ${JSON.stringify(access)} must be letters from "rwm"`);
  const mask = accessMask(access);
  const checks: Insn[] = []; // each with off = "skip to end", patched below
  if (type !== "a") checks.push(insn(JNE_K, R2, 0, 0, type === "b" ? DEV_BLOCK : DEV_CHAR));
  if (mask !== (ACC_READ | ACC_WRITE | ACC_MKNOD)) {
    checks.push(insn(MOV64_X, R6, R3, 0, 0));
    if (rule.allow) {
      // allow only if every requested bit is allowed: (requested & ~mask) == 0
      checks.push(insn(ALU32_AND_K, R6, 0, 0, ~mask & 0x7));
      checks.push(insn(JNE_K, R6, 0, 0, 0));
    } else {
      // deny if any requested bit is denied: (requested & mask) != 0
      checks.push(insn(ALU32_AND_K, R6, 0, 0, mask));
      checks.push(insn(JEQ_K, R6, 0, 0, 0));
    }
  }
  for (const [reg, n, what] of [[R4, rule.major, "major"], [R5, rule.minor, "minor"]] as const) {
    if (n === undefined || n === null || n === -1) continue;
    if (!Number.isInteger(n) || n < 0 || n > 0xfffff) throw new CgroupError(`${field}.${what}: ${n} is not a device number`);
    checks.push(insn(JNE_K, reg, 0, 0, n));
  }
  const tail = [insn(MOV64_K, R0, 0, 0, rule.allow ? 1 : 0), insn(EXIT, 0, 0, 0, 0)];
  const block = [...checks, ...tail];
  // Patch conditional jumps (all but the AND/MOV helpers) to land just after this block.
  block.forEach((ins, i) => {
    if (ins.code === JNE_K || ins.code === JEQ_K) ins.off = block.length - i - 1;
  });
  return block;
}

export function deviceProgram(rules: DeviceCgroupRule[]): Insn[] {
  const prologue = [
    insn(LDX_MEM_W, R2, R1, 0, 0), // r2 = access_type
    insn(ALU32_AND_K, R2, 0, 0, 0xffff), // r2 = type
    insn(LDX_MEM_W, R3, R1, 0, 0),
    insn(ALU32_RSH_K, R3, 0, 0, 16), // r3 = access
    insn(LDX_MEM_W, R4, R1, 4, 0), // r4 = major
    insn(LDX_MEM_W, R5, R1, 8, 0), // r5 = minor
  ];
  const body: Insn[] = [];
  for (let i = rules.length - 1; i >= 0; i--) {
    const block = ruleBlock(rules[i]!, `linux.resources.devices[${i}]`);
    body.push(...block);
    // A rule that matches everything ends the program: earlier rules and the default are dead code,
    // which the verifier rejects ("unreachable insn").
    if (block.length === 2) return [...prologue, ...body];
  }
  return [...prologue, ...body, insn(MOV64_K, R0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)];
}

/** struct bpf_insn[] as the kernel reads it: u8 code, u8 dst:4|src:4, s16 off, s32 imm. */
export function encodeProgram(insns: Insn[]): Uint8Array {
  const buf = new Uint8Array(insns.length * 8);
  const view = new DataView(buf.buffer);
  insns.forEach((ins, i) => {
    view.setUint8(i * 8, ins.code);
    view.setUint8(i * 8 + 1, (ins.src << 4) | ins.dst);
    view.setInt16(i * 8 + 2, ins.off, true);
    view.setInt32(i * 8 + 4, ins.imm, true);
  });
  return buf;
}
