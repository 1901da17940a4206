// Linux capabilities: names ↔ bit numbers, Docker's default set, and the `caps` plan record
// (five u64 masks and the names, see native/PLAN.md). The name table lives only here. Unknown names are rejected here, before any process
// exists, so a typo never turns into a silently weaker or stronger container.
import type { Capabilities } from "../oci/spec.ts";
import type { PlanRecord } from "../sys/plan-encoding.ts";

/** Bit numbers from linux/capability.h, in order (the index is the number). */
export const CAPABILITY_NAMES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
  "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
] as const;

export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

const NUMBER_OF = new Map<string, number>(CAPABILITY_NAMES.map((name, bit) => [name, bit]));

/** Docker's default capability set (14 capabilities). */
export const DEFAULT_CAPABILITIES: readonly CapabilityName[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
];

export class CapabilityError extends Error {
  override name = "CapabilityError";
}

/** "CAP_SYS_ADMIN", "SYS_ADMIN" and "sys_admin" all name bit 21 (Docker accepts the short form). */
export function normalizeCapability(name: string): CapabilityName {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!NUMBER_OF.has(full)) {
    throw new CapabilityError(
      `unknown capability ${JSON.stringify(name)}: expected one of CAP_CHOWN … CAP_CHECKPOINT_RESTORE (see capabilities(7))`,
    );
  }
  return full as CapabilityName;
}

export function capabilityNumber(name: string): number {
  return NUMBER_OF.get(normalizeCapability(name))!;
}

export function capabilityName(bit: number): CapabilityName {
  const name = CAPABILITY_NAMES[bit];
  if (name === undefined) throw new CapabilityError(`capability number ${bit} is not known (0..${CAPABILITY_NAMES.length - 1})`);
  return name;
}

/** Mask of the named capabilities; `where` names the field in errors (e.g. "process.capabilities.bounding"). */
export function capabilityMask(names: readonly string[] | undefined, where = "capabilities"): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    try {
      mask |= 1n << BigInt(capabilityNumber(name));
    } catch (error) {
      if (error instanceof CapabilityError) throw new CapabilityError(`${where}: ${error.message}`);
      throw error;
    }
  }
  return mask;
}

export function capabilitiesFromMask(mask: bigint): CapabilityName[] {
  return CAPABILITY_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** Parses every set, throwing on the first unknown name (with the set it was in). */
export function parseCapabilities(caps: Capabilities | undefined): Record<keyof Capabilities, bigint> {
  const set = (key: keyof Capabilities) => capabilityMask(caps?.[key], `process.capabilities.${key}`);
  return {
    bounding: set("bounding"),
    effective: set("effective"),
    permitted: set("permitted"),
    inheritable: set("inheritable"),
    ambient: set("ambient"),
  };
}

/** The `caps` record: BOUNDING EFFECTIVE PERMITTED INHERITABLE AMBIENT as decimal u64 masks,
 *  then every capability's name by bit number, which the C core uses in its error messages (so
 *  it keeps no table of its own). No capabilities object means every set empty, as runc does. */
export function capabilitiesRecord(caps: Capabilities | undefined): PlanRecord {
  const m = parseCapabilities(caps);
  return ["caps", m.bounding.toString(), m.effective.toString(), m.permitted.toString(), m.inheritable.toString(), m.ambient.toString(), ...CAPABILITY_NAMES];
}

/** Docker's default sets: the 14 capabilities in bounding, effective and permitted; inheritable
 *  and ambient empty (CVE-2022-29162: a non-empty inheritable set leaks across exec). */
export function defaultCapabilities(extra: readonly string[] = [], drop: readonly string[] = []): Capabilities {
  const dropAll = drop.some((name) => name.toUpperCase() === "ALL");
  const dropped = new Set(dropAll ? [] : drop.map(normalizeCapability));
  const base = dropAll ? [] : DEFAULT_CAPABILITIES.filter((name) => !dropped.has(name));
  const added = extra.some((name) => name.toUpperCase() === "ALL") ? [...CAPABILITY_NAMES] : extra.map(normalizeCapability);
  const list = [...new Set([...base, ...added])];
  return { bounding: [...list], effective: [...list], permitted: [...list] };
}
