// Resolves default-seccomp.json (Berth's Docker-equivalent default policy) into a plain
// linux.seccomp for one container: capability gates against its bounding set, architecture
// gates against the host, kernel gates against the running kernel.
import { readFileSync } from "node:fs";
import type { Seccomp, SeccompSyscall } from "../oci/spec.ts";
import { normalizeCapability } from "./capabilities.ts";
import profile from "./default-seccomp.json" with { type: "json" };

type Arg = NonNullable<SeccompSyscall["args"]>[number];

interface Group {
  why: string;
  allow?: string[];
  names?: string[];
  action?: string;
  errnoRet?: number;
  args?: Arg[];
  argIn?: { index: number; values: number[] };
  onlyWith?: string[];
  unlessWith?: string[];
  arches?: string[];
  notArches?: string[];
  minKernel?: string;
}

interface Profile {
  defaultAction: string;
  defaultErrnoRet: number;
  architectures: Record<string, string[]>;
  groups: Group[];
}

export interface Host {
  /** libseccomp's name of the host architecture: x86_64, aarch64, … */
  arch: string;
  /** Running kernel release, e.g. "6.1.0-18-amd64". */
  kernel: string;
}

/** Node's process.arch → libseccomp's architecture name. */
const ARCH_OF_NODE: Record<string, string> = {
  x64: "x86_64", ia32: "x86", arm64: "aarch64", arm: "arm", s390x: "s390x", s390: "s390",
  ppc64: "ppc64le", riscv64: "riscv64", mips64el: "mipsel64", mipsel: "mipsel", loong64: "loongarch64",
};

export function hostForSeccomp(): Host {
  // uname's release, as os.release() gives it (node:os alone costs a run ~0.3 ms to load).
  return { arch: ARCH_OF_NODE[process.arch] ?? process.arch, kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim() };
}

/** "6.18.44-fc" ≥ "4.8"? Compares numeric major.minor(.patch) parts. */
export function kernelAtLeast(kernel: string, min: string): boolean {
  const have = kernel.split(/[^0-9.]/)[0]!.split(".").map(Number);
  const want = min.split(".").map(Number);
  for (let i = 0; i < want.length; i++) {
    const h = have[i] ?? 0, w = want[i] ?? 0;
    if (h !== w) return h > w;
  }
  return true;
}

function applies(group: Group, caps: ReadonlySet<string>, host: Host): boolean {
  if (group.onlyWith && !group.onlyWith.every((cap) => caps.has(cap))) return false;
  if (group.unlessWith && group.unlessWith.every((cap) => caps.has(cap))) return false;
  if (group.arches && !group.arches.includes(host.arch)) return false;
  if (group.notArches && group.notArches.includes(host.arch)) return false;
  if (group.minKernel && !kernelAtLeast(host.kernel, group.minKernel)) return false;
  return true;
}

function rulesOf(group: Group): SeccompSyscall[] {
  const names = [...(group.allow ?? group.names ?? [])];
  const base: SeccompSyscall = { names, action: group.action ?? "SCMP_ACT_ALLOW" };
  if (group.errnoRet !== undefined) base.errnoRet = group.errnoRet;
  if (group.argIn) {
    const { index, values } = group.argIn;
    return values.map((value) => ({ ...base, names: [...names], args: [{ index, value, op: "SCMP_CMP_EQ" }] }));
  }
  if (group.args) base.args = group.args.map((arg) => ({ ...arg }));
  return [base];
}

/** The default policy for a container whose bounding set is `capabilities`. Unknown capability
 *  names throw (CapabilityError) rather than silently mis-gating. */
export function defaultSeccompFor(capabilities: readonly string[], host: Host = hostForSeccomp()): Seccomp {
  const p = profile as Profile;
  const caps = new Set(capabilities.map(normalizeCapability));
  const syscalls = p.groups.filter((group) => applies(group, caps, host)).flatMap(rulesOf);
  const seccomp: Seccomp = { defaultAction: p.defaultAction, defaultErrnoRet: p.defaultErrnoRet, syscalls };
  const arches = p.architectures[host.arch];
  if (arches) seccomp.architectures = [...arches];
  return seccomp;
}
