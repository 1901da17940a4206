// Turns a validated Spec into the plan the C core executes (see native/PLAN.md). Everything
// the kernel will be told is decided here: flags as numbers, paths checked, defaults added.
import { existsSync, lstatSync, statSync } from "node:fs";
import { isAbsolute, join, normalize, resolve } from "node:path";
import type { PlanRecord } from "../sys/plan-encoding.ts";
import type { Spec, Process, Mount, NamespaceType } from "../oci/spec.ts";
import { OciConfigError } from "../oci/validate.ts";
import { type ParsedMountOptions, parseMountOptions, propagationFlags } from "./mount-options.ts";
import { MS } from "../sys/libc.ts";
import { capabilitiesRecord } from "../security/capabilities.ts";
import { seccompPlanRecords } from "./seccomp-cache.ts";
import { sysctlNamespace, validSysctlName } from "./sysctl.ts";
import { procMountProblem } from "./proc-mounts.ts";

const NS_NAME: Record<NamespaceType, string> = {
  pid: "pid", network: "net", mount: "mnt", ipc: "ipc", uts: "uts", user: "user", cgroup: "cgroup", time: "time",
};

export const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

const DEFAULT_DEVICES = [
  { path: "/dev/null", major: 1, minor: 3 }, { path: "/dev/zero", major: 1, minor: 5 }, { path: "/dev/full", major: 1, minor: 7 },
  { path: "/dev/random", major: 1, minor: 8 }, { path: "/dev/urandom", major: 1, minor: 9 }, { path: "/dev/tty", major: 5, minor: 0 },
];

export interface CreatePlanOptions {
  bundle: string;
  stateDir: string;
  noPivot?: boolean;
  consoleSocket?: string;
  preserveFds?: number;
  /** controller (or "unified") → the container's cgroup directory on the host, for `cgroup` mounts. */
  cgroupDirs?: Record<string, string>;
  /** Where the C core may cache compiled seccomp programs (unset: none). */
  seccompCacheDir?: string;
  /** Things the plan drops on purpose are said here (stderr in the CLI). */
  warn?: (msg: string) => void;
}

function fail(msg: string): never {
  throw new OciConfigError(`config.json: ${msg}`);
}

/** A container path, normalized; refuses anything that climbs out with "..". */
export function containerPath(p: string, field: string): string {
  if (!p.startsWith("/")) p = "/" + p; // runc treats relative destinations as relative to /
  const parts: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) fail(`${field} ${JSON.stringify(p)} escapes the container's root`);
      parts.pop();
    } else parts.push(part);
  }
  return "/" + parts.join("/");
}

export function resolveRootfs(spec: Spec, bundle: string): string {
  if (!spec.root?.path) fail("root.path is missing: say where the container's root filesystem is");
  const rootfs = isAbsolute(spec.root.path) ? spec.root.path : resolve(bundle, spec.root.path);
  let st;
  try {
    st = statSync(rootfs);
  } catch {
    fail(`root.path ${rootfs} does not exist`);
  }
  if (!st.isDirectory()) fail(`root.path ${rootfs} is not a directory`);
  return rootfs;
}

function namespaceRecords(spec: Spec): { records: PlanRecord[]; created: Set<NamespaceType>; all: Set<NamespaceType> } {
  const records: PlanRecord[] = [];
  const created = new Set<NamespaceType>();
  const all = new Set<NamespaceType>();
  for (const ns of spec.linux?.namespaces ?? []) {
    all.add(ns.type);
    if (ns.path) {
      if (!existsSync(ns.path)) fail(`linux.namespaces ${ns.type}.path ${ns.path} does not exist`);
    } else created.add(ns.type);
    records.push(["ns", NS_NAME[ns.type], ns.path ?? ""]);
  }
  return { records, created, all };
}

function idMapRecords(spec: Spec, created: Set<NamespaceType>): PlanRecord[] {
  const uid = spec.linux?.uidMappings ?? [], gid = spec.linux?.gidMappings ?? [];
  if (!created.has("user")) {
    if (uid.length || gid.length) fail("linux.uidMappings/gidMappings need a new user namespace in linux.namespaces");
    return [];
  }
  if (!uid.length || !gid.length) fail("a new user namespace needs linux.uidMappings and linux.gidMappings");
  return [
    ...uid.map((m): PlanRecord => ["uidmap", m.containerID, m.hostID, m.size]),
    ...gid.map((m): PlanRecord => ["gidmap", m.containerID, m.hostID, m.size]),
  ];
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false; // absent: the init makes a directory
  }
}

interface MountContext { rootfs: string; newNet: boolean; newCgroupNs: boolean; cgroupDirs?: Record<string, string>; warn?: (msg: string) => void }

/** One config mount: its mount record(s), then the recursive options (rro, …) over the whole
 *  tree it made (mount_attr), as runc applies them right after the mount. */
function mountRecord(m: Mount, index: number, ctx: MountContext): PlanRecord[] {
  const where = `mounts[${index}] (${m.destination})`;
  const dest = containerPath(m.destination, `mounts[${index}].destination`);
  const o = parseMountOptions(m.options, where);
  const records = mountRecordsOf(m, where, dest, o, ctx);
  if (o.recursiveSet || o.recursiveClear) records.push(["mount_attr", dest, o.recursiveSet, o.recursiveClear]);
  return records;
}

function mountRecordsOf(m: Mount, where: string, dest: string, o: ParsedMountOptions, ctx: MountContext): PlanRecord[] {
  const type = m.type ?? (o.bind ? "bind" : "");
  const proc = procMountProblem(dest, o.bind ? "bind" : type, m.source);
  if (proc) fail(`${where}: ${proc}`);
  // proc and sysfs on a symlink in the image would land wherever the image points it, outside the
  // masked and read-only paths' reach (CVE-2019-19921's class): refused as runc refuses it.
  if ((type === "proc" || type === "sysfs") && isSymlink(join(ctx.rootfs, dest))) fail(`${where}: filesystem "${type}" must be mounted on ordinary directory`);
  if (m.uidMappings || m.gidMappings) fail(`${where}: idmapped mounts are not supported by berth-runtime yet`);
  if (o.bind || type === "bind") {
    if (!m.source) fail(`${where}: a bind mount needs a source`);
    if (!existsSync(m.source)) fail(`${where}: bind source ${m.source} does not exist`);
    // The kernel ignores data on a bind. A bare word we do not know is refused; filesystem
    // options (KEY=VALUE, e.g. a tmpfs's mode= copied onto every mount by a config generator)
    // are dropped with a warning, never silently.
    const bare = o.data.filter((d) => !d.includes("="));
    if (bare.length) fail(`${where}: unknown option${bare.length > 1 ? "s" : ""} ${bare.map((d) => JSON.stringify(d)).join(", ")} for a bind mount`);
    if (o.data.length) ctx.warn?.(`${where}: filesystem options ${o.data.join(",")} mean nothing on a bind mount; ignored`);
    if (o.copyUp) ctx.warn?.(`${where}: tmpcopyup is for tmpfs mounts; ignored (as runc)`);
    const flags = MS.BIND | (o.recursive ? MS.REC : 0);
    return [["mount", m.source, dest, "bind", flags, o.propagation, o.data.join(","), o.flags]];
  }
  if (type === "cgroup" || type === "cgroup2") return cgroupMountRecords(dest, o.flags, ctx);
  if (type === "sysfs" && !ctx.newNet) {
    // sysfs belongs to a network namespace; without our own, bind the host's read-only as runc does.
    return [["mount", "/sys", dest, "bind", MS.BIND | MS.REC, o.propagation, "", o.flags | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC]];
  }
  if (!type) fail(`${where}: type is missing`);
  // A read-only /dev is mounted writable and made read-only only once it is filled (device
  // nodes, symlinks, the devpts and mqueue mount points), as runc does: remount_ro, at the end.
  // tmpcopyup (a tmpfs that starts with a copy of the directory it covers) is an 8th field.
  if (o.copyUp && type !== "tmpfs") ctx.warn?.(`${where}: tmpcopyup is for tmpfs mounts; ignored (as runc)`);
  const ext = o.copyUp && type === "tmpfs" ? ["tmpcopyup"] : [];
  if (dest === "/dev" && o.flags & MS.RDONLY) {
    return [["mount", m.source ?? type, dest, type, o.flags & ~MS.RDONLY, o.propagation, o.data.join(","), 0, ...ext], ["remount_ro", dest, o.flags]];
  }
  return [["mount", m.source ?? type, dest, type, o.flags, o.propagation, o.data.join(","), 0, ...ext]];
}

/** A `cgroup` mount: cgroup2 where the host is unified; on v1/hybrid hosts a tmpfs with the
 *  container's own groups bound under it (read-only unless asked otherwise). */
function cgroupMountRecords(dest: string, flags: number, ctx: { cgroupDirs?: Record<string, string> }): PlanRecord[] {
  const dirs = ctx.cgroupDirs ?? {};
  const controllers = Object.keys(dirs).filter((k) => k !== "unified");
  if (controllers.length === 0) return [["mount", "cgroup2", dest, "cgroup2", flags, 0, "", 0]];
  const records: PlanRecord[] = [["mount", "tmpfs", dest, "tmpfs", MS.NOSUID | MS.NODEV | MS.NOEXEC, 0, "mode=755", 0]];
  const bindFlags = (flags & MS.RDONLY) | MS.NOSUID | MS.NODEV | MS.NOEXEC;
  for (const [name, dir] of Object.entries(dirs)) {
    // A named hierarchy (name=systemd) is mounted as the host mounts it: /sys/fs/cgroup/systemd.
    records.push(["mount", dir, `${dest}/${name.replace(/^name=/, "")}`, "bind", MS.BIND, 0, "", bindFlags]);
  }
  return records;
}

function deviceRecords(spec: Spec, mounts: readonly Mount[]): PlanRecord[] {
  const records: PlanRecord[] = [];
  const devIsBind = mounts.some((m) => normalize(m.destination) === "/dev" && (m.type === "bind" || m.options?.some((o) => o === "bind" || o === "rbind")));
  const wanted = new Map<string, PlanRecord>();
  if (!devIsBind) {
    for (const d of DEFAULT_DEVICES) wanted.set(d.path, ["device", d.path, "c", d.major, d.minor, 0o666, 0, 0]);
  }
  for (const [i, d] of (spec.linux?.devices ?? []).entries()) {
    if (!["c", "b", "u", "p"].includes(d.type)) fail(`linux.devices[${i}].type must be c, b, u or p`);
    if (d.type !== "p" && (d.major === undefined || d.minor === undefined)) fail(`linux.devices[${i}] (${d.path}) needs major and minor`);
    const path = containerPath(d.path, `linux.devices[${i}].path`);
    wanted.set(path, ["device", path, d.type === "u" ? "c" : d.type, d.major ?? 0, d.minor ?? 0, d.fileMode ?? 0o666, d.uid ?? 0, d.gid ?? 0]);
  }
  records.push(...wanted.values());
  if (!devIsBind) {
    records.push(["symlink", "/proc/self/fd", "/dev/fd"], ["symlink", "/proc/self/fd/0", "/dev/stdin"],
      ["symlink", "/proc/self/fd/1", "/dev/stdout"], ["symlink", "/proc/self/fd/2", "/dev/stderr"]);
    if (mounts.some((m) => normalize(m.destination) === "/dev/pts")) records.push(["symlink", "pts/ptmx", "/dev/ptmx"]);
  }
  return records;
}

/** The parts of a plan that describe the process (shared by create and exec). */
export function processRecords(p: Process, opts: { consoleSocket?: string; preserveFds?: number; cpusetCpus?: boolean }): PlanRecord[] {
  if (!p.args || p.args.length === 0) fail("process.args is empty: say what to run");
  const r: PlanRecord[] = [];
  if (p.terminal) {
    r.push(["terminal", p.consoleSize?.height ?? 0, p.consoleSize?.width ?? 0]);
    if (opts.consoleSocket) r.push(["console_socket", opts.consoleSocket]);
  }
  r.push(["cwd", p.cwd]);
  // A missing uid or gid is 0, as runc reads it (its suite writes {"uid": 0}).
  r.push(["user", p.user.uid ?? 0, p.user.gid ?? 0, p.user.umask ?? -1]);
  if (p.user.additionalGids?.length) r.push(["groups", ...p.user.additionalGids]);
  r.push(["env", ...(p.env ?? [])]);
  r.push(["args", ...p.args]);
  for (const rl of p.rlimits ?? []) {
    const res = RLIMITS[rl.type];
    if (res === undefined) fail(`process.rlimits: unknown type ${rl.type}; expected one of ${Object.keys(RLIMITS).join(", ")}`);
    const lim = (v: number) => (v >= 2 ** 63 ? -1 : v);
    r.push(["rlimit", res, lim(rl.soft), lim(rl.hard)]);
  }
  if (p.noNewPrivileges) r.push(["no_new_privs"]);
  if (p.oomScoreAdj !== undefined) r.push(["oom_score_adj", p.oomScoreAdj]);
  if (opts.preserveFds) r.push(["preserve_fds", opts.preserveFds]);
  r.push(capabilitiesRecord(p.capabilities));
  if (p.apparmorProfile) fail("process.apparmorProfile: AppArmor is not available on this host; remove it");
  if (p.selinuxLabel) fail("process.selinuxLabel: SELinux is not available on this host; remove it");
  if (p.scheduler) r.push(schedulerRecord(p.scheduler as unknown as Scheduler, !!opts.cpusetCpus));
  if (p.ioPriority) r.push(ioPriorityRecord(p.ioPriority));
  if (p.execCPUAffinity) fail("process.execCPUAffinity is not supported by berth-runtime yet");
  return r;
}

/** runtime-spec's process.scheduler (sched_setattr(2)), checked as runc 1.2 checks it. */
interface Scheduler { policy?: string; nice?: number; priority?: number; flags?: string[]; runtime?: number; deadline?: number; period?: number }

const SCHED_POLICIES: Record<string, number> = { SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6 };
const SCHED_FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04, SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: 0x20, SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};

/** ["scheduler", policy, flags, nice, priority, runtime, deadline, period, cpuset?]: the last is 1
 *  when the container's cgroup pins CPUs, so an EPERM can be said as runc says it. */
export function schedulerRecord(s: Scheduler, cpuset: boolean): PlanRecord {
  if (!s.policy) fail("process.scheduler: scheduler policy is required");
  const policy = SCHED_POLICIES[s.policy];
  if (policy === undefined) fail(`process.scheduler: invalid scheduler policy: ${s.policy}`);
  const nice = s.nice ?? 0, priority = s.priority ?? 0, runtime = s.runtime ?? 0, deadline = s.deadline ?? 0, period = s.period ?? 0;
  if ((s.policy === "SCHED_OTHER" || s.policy === "SCHED_BATCH") && (nice < -20 || nice > 19)) fail(`process.scheduler: invalid scheduler.nice: ${nice} when scheduler.policy is ${s.policy}`);
  if (priority !== 0 && s.policy !== "SCHED_FIFO" && s.policy !== "SCHED_RR") fail("process.scheduler: scheduler.priority can only be specified for SchedFIFO or SchedRR policy");
  if (s.policy !== "SCHED_DEADLINE" && (runtime || deadline || period)) fail("process.scheduler: scheduler runtime/deadline/period can only be specified for SchedDeadline policy");
  let flags = 0;
  for (const f of s.flags ?? []) {
    const v = SCHED_FLAGS[f];
    if (v === undefined) fail(`process.scheduler: invalid scheduler flag: ${f}`);
    flags |= v;
  }
  return ["scheduler", policy, flags, nice, priority, runtime, deadline, period, cpuset ? 1 : 0];
}

const IOPRIO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };

/** ["ioprio", class << 13 | priority] for ioprio_set(2), in runc 1.2's words when wrong. */
export function ioPriorityRecord(p: { class: string; priority: number }): PlanRecord {
  const cls = IOPRIO_CLASSES[p.class];
  if (cls === undefined) fail(`process.ioPriority: invalid io priority class: ${p.class}`);
  if (!Number.isInteger(p.priority) || p.priority < 0 || p.priority > 7) fail(`process.ioPriority: invalid ioPriority.Priority: ${p.priority}`);
  return ["ioprio", (cls << 13) | p.priority];
}

const PERSONALITY_DOMAINS: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };

/** linux.personality as runc 1.2 applies it: the domain, for the init and every exec; flags are
 *  ignored with runc's warning (runc sets none). */
export function personalityRecord(p: { domain: string; flags?: string[] }, warn?: (msg: string) => void): PlanRecord {
  const domain = PERSONALITY_DOMAINS[p.domain];
  if (domain === undefined) fail(`linux.personality: invalid personality domain ${p.domain} (expected LINUX or LINUX32)`);
  if (p.flags?.length) warn?.(`ignoring unsupported personality flags: ${JSON.stringify(p.flags)} because personality flag has not supported at this time`);
  return ["personality", domain];
}

function hookRecords(spec: Spec): PlanRecord[] {
  const records: PlanRecord[] = [];
  for (const stage of ["createContainer", "startContainer"] as const) {
    for (const h of spec.hooks?.[stage] ?? []) {
      const args = h.args ?? [h.path];
      records.push(["hook", stage, h.timeout ?? 0, h.path, args.length, ...args, ...(h.env ?? [])]);
    }
  }
  return records;
}

export function buildCreatePlan(spec: Spec, opts: CreatePlanOptions): PlanRecord[] {
  const parts = buildCreatePlanParts(spec, opts);
  return [...parts.stage0, ...parts.init()];
}

/** Records only stage 0 reads (it runs them before and right after the clone). */
const STAGE0_PROCESS_OPS = new Set(["terminal", "console_socket"]);

/**
 * The plan in two parts: what stage 0 needs to clone the init (namespaces, id maps, console,
 * state dir, seccomp), and the init's own part (root filesystem, mounts, devices, the process),
 * built by `init()` while stage 0 clones and read by the init once it gets "go" (`plan_more`).
 * Errors in either part are thrown when that part is built.
 */
export function buildCreatePlanParts(spec: Spec, opts: CreatePlanOptions): { stage0: PlanRecord[]; init: () => PlanRecord[] } {
  if (!spec.process) fail("process is missing: say what to run");
  const linux = spec.linux ?? {};
  const { records: nsRecords, created, all } = namespaceRecords(spec);
  const stage0: PlanRecord[] = [...nsRecords, ...idMapRecords(spec, created)];
  if (linux.timeOffsets) {
    if (!created.has("time")) fail("linux.timeOffsets needs a new time namespace");
    for (const [clock, off] of Object.entries(linux.timeOffsets)) {
      if (clock !== "monotonic" && clock !== "boottime") fail(`linux.timeOffsets: unknown clock ${clock}`);
      stage0.push(["timens", clock, off.secs ?? 0, off.nanosecs ?? 0]);
    }
  }
  const process = processRecords(spec.process, { ...opts, cpusetCpus: !!linux.resources?.cpu?.cpus });
  stage0.push(...process.filter((r) => STAGE0_PROCESS_OPS.has(r[0])));
  stage0.push(["state_dir", opts.stateDir]);
  if (linux.seccomp) stage0.push(...seccompPlanRecords(linux.seccomp, opts.seccompCacheDir));
  if (linux.personality) process.push(personalityRecord(linux.personality, opts.warn));
  if (linux.intelRdt) fail("linux.intelRdt is not supported on this host");
  if (linux.mountLabel) fail("linux.mountLabel: SELinux is not available on this host; remove it");
  return { stage0, init: () => initRecords(spec, opts, created, all, process.filter((r) => !STAGE0_PROCESS_OPS.has(r[0]))) };
}

function initRecords(spec: Spec, opts: CreatePlanOptions, created: Set<NamespaceType>, all: Set<NamespaceType>, process: PlanRecord[]): PlanRecord[] {
  const linux = spec.linux ?? {};
  const plan: PlanRecord[] = [];
  if (created.has("network")) plan.push(["loopback_up"]);
  // A uts namespace joined by path counts: the hostname is set inside it, as runc does.
  if (spec.hostname !== undefined) {
    if (!all.has("uts")) fail("hostname needs a uts namespace of the container's own (add {\"type\": \"uts\"} to linux.namespaces)");
    plan.push(["hostname", spec.hostname]);
  }
  if (spec.domainname !== undefined) {
    if (!all.has("uts")) fail("domainname needs a uts namespace of the container's own");
    plan.push(["domainname", spec.domainname]);
  }
  if (all.has("mount")) plan.push(...rootfsRecords(spec, opts, created));
  else noMountNamespace(spec, opts);
  for (const [k, v] of Object.entries(linux.sysctl ?? {})) {
    if (!validSysctlName(k)) fail(`linux.sysctl: bad name ${JSON.stringify(k)}`);
    checkSysctlNamespaced(k, all);
    plan.push(["sysctl", k, v]);
  }
  plan.push(...process);
  plan.push(...hookRecords(spec));
  return plan;
}

/** The container's own root: the rootfs bound and pivoted into, its mounts, devices, masked and
 *  read-only paths. Only with a mount namespace of the container's own (or joined). */
function rootfsRecords(spec: Spec, opts: CreatePlanOptions, created: Set<NamespaceType>): PlanRecord[] {
  const linux = spec.linux ?? {};
  const rootfs = resolveRootfs(spec, opts.bundle);
  const plan: PlanRecord[] = [["rootfs", rootfs]];
  const prop = propagationFlags(linux.rootfsPropagation, "linux.rootfsPropagation");
  if (prop) plan.push(["rootfs_propagation", prop]);
  if (spec.root?.readonly) plan.push(["readonly_rootfs"]);
  if (opts.noPivot) plan.push(["no_pivot"]);
  const mounts = spec.mounts ?? [];
  const ctx = { rootfs, newNet: created.has("network"), newCgroupNs: created.has("cgroup"), cgroupDirs: opts.cgroupDirs, warn: opts.warn };
  mounts.forEach((m, i) => plan.push(...mountRecord(m, i, ctx)));
  plan.push(...deviceRecords(spec, mounts));
  for (const p of linux.maskedPaths ?? []) plan.push(["masked", containerPath(p, "linux.maskedPaths")]);
  for (const p of linux.readonlyPaths ?? []) plan.push(["readonly_path", containerPath(p, "linux.readonlyPaths")]);
  return plan;
}

/**
 * No mount namespace in linux.namespaces: runc then leaves the filesystem alone (its
 * prepareRootfs and finalizeRootfs run only for a new mount namespace), so the process runs in
 * the host's filesystem, in process.cwd, and root.path is not entered. Whatever would have to
 * change mounts in a namespace shared with the host is refused, as runc refuses masked and
 * read-only paths; the mounts list, root.readonly and the root's propagation, which runc
 * ignores there, are ignored with a warning.
 */
function noMountNamespace(spec: Spec, opts: CreatePlanOptions): void {
  const linux = spec.linux ?? {};
  resolveRootfs(spec, opts.bundle); // runc checks root.path even when it does not enter it
  if (linux.maskedPaths?.length || linux.readonlyPaths?.length) {
    fail("unable to restrict sys entries without a private MNT namespace (remove linux.maskedPaths and linux.readonlyPaths, or add {\"type\": \"mount\"} to linux.namespaces)");
  }
  // runc ignores these without a mount namespace (a `runc spec` config has root.readonly set);
  // say so rather than pretend the host's root became read-only.
  const ignored = [
    ...(spec.mounts?.length ? [`${spec.mounts.length} mount(s)`] : []),
    ...(spec.root?.readonly ? ["root.readonly"] : []),
    ...(linux.rootfsPropagation ? ["linux.rootfsPropagation"] : []),
  ];
  if (ignored.length) opts.warn?.(`config.json: no mount namespace in linux.namespaces, so the process sees the host's filesystem: root.path and ${ignored.join(", ")} are not applied (as runc)`);
}

/** A sysctl is only written when it belongs to a namespace the container has: anything else
 *  would change the host's kernel (runc refuses the same way). */
function checkSysctlNamespaced(key: string, namespaces: Set<NamespaceType>): void {
  const needs = sysctlNamespace(key);
  if (!needs) fail(`linux.sysctl: ${key} is not in a separate kernel namespace; setting it would change the host`);
  if (!namespaces.has(needs)) fail(`linux.sysctl: ${key} needs a ${needs} namespace of the container's own (otherwise it would change the host)`);
}
