// linux.seccomp → `seccomp_*` plan records (see native/PLAN.md). Everything the C core would
// otherwise have to reject half-way through container start is checked here, with the field
// that was wrong and what is accepted instead.
import type { Seccomp, SeccompSyscall } from "../oci/spec.ts";
import type { PlanRecord } from "../sys/plan-encoding.ts";

export class SeccompError extends Error {
  override name = "SeccompError";
}

/** runtime-spec action → the C core's action name. SCMP_ACT_KILL is the historical KILL_THREAD. */
const ACTIONS: Record<string, string> = {
  SCMP_ACT_KILL: "kill_thread",
  SCMP_ACT_KILL_THREAD: "kill_thread",
  SCMP_ACT_KILL_PROCESS: "kill_process",
  SCMP_ACT_TRAP: "trap",
  SCMP_ACT_ERRNO: "errno",
  SCMP_ACT_TRACE: "trace",
  SCMP_ACT_ALLOW: "allow",
  SCMP_ACT_LOG: "log",
  SCMP_ACT_NOTIFY: "notify",
};

const OPERATORS: Record<string, string> = {
  SCMP_CMP_NE: "NE",
  SCMP_CMP_LT: "LT",
  SCMP_CMP_LE: "LE",
  SCMP_CMP_EQ: "EQ",
  SCMP_CMP_GE: "GE",
  SCMP_CMP_GT: "GT",
  SCMP_CMP_MASKED_EQ: "MASKED_EQ",
};

/** runtime-spec architecture → libseccomp's name (seccomp_arch_resolve_name). */
export const ARCHITECTURES: Record<string, string> = {
  SCMP_ARCH_X86: "x86",
  SCMP_ARCH_X86_64: "x86_64",
  SCMP_ARCH_X32: "x32",
  SCMP_ARCH_ARM: "arm",
  SCMP_ARCH_AARCH64: "aarch64",
  SCMP_ARCH_MIPS: "mips",
  SCMP_ARCH_MIPS64: "mips64",
  SCMP_ARCH_MIPS64N32: "mips64n32",
  SCMP_ARCH_MIPSEL: "mipsel",
  SCMP_ARCH_MIPSEL64: "mipsel64",
  SCMP_ARCH_MIPSEL64N32: "mipsel64n32",
  SCMP_ARCH_PPC: "ppc",
  SCMP_ARCH_PPC64: "ppc64",
  SCMP_ARCH_PPC64LE: "ppc64le",
  SCMP_ARCH_S390: "s390",
  SCMP_ARCH_S390X: "s390x",
  SCMP_ARCH_PARISC: "parisc",
  SCMP_ARCH_PARISC64: "parisc64",
  SCMP_ARCH_RISCV64: "riscv64",
  SCMP_ARCH_LOONGARCH64: "loongarch64",
  SCMP_ARCH_M68K: "m68k",
  SCMP_ARCH_SH: "sh",
  SCMP_ARCH_SHEB: "sheb",
};

/** Filter flags the kernel knows. TSYNC is accepted and dropped: the init is single-threaded
 *  when it loads the filter (runc does the same). */
const FLAGS = new Set([
  "SECCOMP_FILTER_FLAG_TSYNC",
  "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
]);

/** The init itself needs these after the filter is loaded (to hand over the notify fd and to
 *  run); a notify rule on them would hang the container before it starts. */
const NOTIFY_FORBIDDEN = new Set(["write", "sendmsg"]);

const EPERM = 1;
const U64_MAX = (1n << 64n) - 1n;

function choices(table: Record<string, string>): string {
  return Object.keys(table).join(", ");
}

function action(name: unknown, where: string): string {
  const mapped = typeof name === "string" ? ACTIONS[name] : undefined;
  if (!mapped) throw new SeccompError(`${where}: unknown action ${JSON.stringify(name)}; expected one of ${choices(ACTIONS)}`);
  return mapped;
}

function errnoValue(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new SeccompError(`${where}: errno must be an integer between 0 and 65535, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Argument values are u64; JSON numbers above 2^53 lose precision, so bigints are accepted too. */
function u64(value: unknown, where: string): bigint {
  let big: bigint | undefined;
  if (typeof value === "bigint") big = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) big = BigInt(value);
  else if (typeof value === "number" && Number.isInteger(value) && value > 0) big = BigInt(value);
  if (big === undefined || big < 0n || big > U64_MAX) {
    throw new SeccompError(`${where}: must be an unsigned 64-bit integer, got ${JSON.stringify(String(value))}`);
  }
  return big;
}

const SYSCALL_NAME = /^[a-z_][a-z0-9_]*$/;

function ruleRecords(rule: SeccompSyscall, i: number): PlanRecord[] {
  const where = `linux.seccomp.syscalls[${i}]`;
  if (!Array.isArray(rule.names) || rule.names.length === 0) throw new SeccompError(`${where}.names: must be a non-empty list of syscall names`);
  const act = action(rule.action, `${where}.action`);
  if (rule.errnoRet !== undefined && act !== "errno" && act !== "trace") {
    throw new SeccompError(`${where}.errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno (action is ${rule.action})`);
  }
  const errno = act === "errno" || act === "trace" ? (rule.errnoRet === undefined ? EPERM : errnoValue(rule.errnoRet, `${where}.errnoRet`)) : 0;
  const conditions: string[] = [];
  (rule.args ?? []).forEach((arg, j) => {
    const at = `${where}.args[${j}]`;
    if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) throw new SeccompError(`${at}.index: must be 0..5 (a syscall has at most 6 arguments), got ${JSON.stringify(arg.index)}`);
    const op = typeof arg.op === "string" ? OPERATORS[arg.op] : undefined;
    if (!op) throw new SeccompError(`${at}.op: unknown operator ${JSON.stringify(arg.op)}; expected one of ${choices(OPERATORS)}`);
    conditions.push(String(arg.index), op, u64(arg.value, `${at}.value`).toString(), u64(arg.valueTwo ?? 0, `${at}.valueTwo`).toString());
  });
  return rule.names.map((name, k) => {
    if (typeof name !== "string" || !SYSCALL_NAME.test(name)) throw new SeccompError(`${where}.names[${k}]: ${JSON.stringify(name)} is not a syscall name`);
    if (act === "notify" && NOTIFY_FORBIDDEN.has(name)) {
      throw new SeccompError(`${where}: SCMP_ACT_NOTIFY cannot be used for the ${name} syscall: the runtime needs it to hand over the notify fd`);
    }
    return ["seccomp_rule", act, errno, name, ...conditions] as PlanRecord;
  });
}

/** Validates linux.seccomp and returns its records: seccomp_default, seccomp_arch*, seccomp_flag*,
 *  seccomp_listener (when a rule notifies), then one seccomp_rule per syscall name. */
export function seccompRecords(s: Seccomp): PlanRecord[] {
  const def = action(s.defaultAction, "linux.seccomp.defaultAction");
  if (def === "notify") throw new SeccompError("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default (the runtime itself must keep running); use it on named syscalls");
  if (s.defaultErrnoRet !== undefined && def !== "errno" && def !== "trace") {
    throw new SeccompError(`linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE (defaultAction is ${s.defaultAction})`);
  }
  const defErrno = def === "errno" || def === "trace" ? (s.defaultErrnoRet === undefined ? EPERM : errnoValue(s.defaultErrnoRet, "linux.seccomp.defaultErrnoRet")) : 0;
  const records: PlanRecord[] = [["seccomp_default", def, defErrno]];

  for (const [i, arch] of (s.architectures ?? []).entries()) {
    const name = ARCHITECTURES[arch];
    if (!name) throw new SeccompError(`linux.seccomp.architectures[${i}]: unknown architecture ${JSON.stringify(arch)}; expected one of ${choices(ARCHITECTURES)}`);
    records.push(["seccomp_arch", name]);
  }
  for (const [i, flag] of (s.flags ?? []).entries()) {
    if (!FLAGS.has(flag)) throw new SeccompError(`linux.seccomp.flags[${i}]: unknown flag ${JSON.stringify(flag)}; expected one of ${[...FLAGS].join(", ")}`);
    if (flag !== "SECCOMP_FILTER_FLAG_TSYNC") records.push(["seccomp_flag", flag]);
  }

  const rules = (s.syscalls ?? []).flatMap((rule, i) => ruleRecords(rule, i));
  const notifies = rules.some((r) => r[1] === "notify");
  if (s.listenerMetadata !== undefined && s.listenerPath === undefined) {
    throw new SeccompError("linux.seccomp.listenerMetadata: set without listenerPath");
  }
  if (notifies) {
    if (!s.listenerPath) throw new SeccompError("linux.seccomp: SCMP_ACT_NOTIFY is used but listenerPath is not set (the notify fd needs somewhere to go)");
    if (!s.listenerPath.startsWith("/")) throw new SeccompError(`linux.seccomp.listenerPath: must be an absolute path, got ${JSON.stringify(s.listenerPath)}`);
    if (Buffer.byteLength(s.listenerPath) > 107) throw new SeccompError(`linux.seccomp.listenerPath: longer than a unix socket path may be (107 bytes)`);
    records.push(["seccomp_listener", s.listenerPath, s.listenerMetadata ?? ""]);
  }
  records.push(...rules);
  return records;
}
