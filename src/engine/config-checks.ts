// What a start would refuse, checked when the container is created: a container that exists can
// start, and a bad flag is an error of `create`/`run` (exit 125, nothing made), in the user's
// terms, not a runtime message at the next `start`. Each rule is the one the lower layer applies
// at start (cgroups' value ranges, the runtime's sysctl and /proc rules, the seccomp compiler,
// the plan's "no NUL byte"); this module only calls them on the ContainerConfig and says which
// flag was wrong.
// cgroups' resources.ts directly, not its index: create need not load the cgroup manager.
import { RULES, validateResources } from "../cgroups/resources.ts";
import { CgroupError } from "../cgroups/files.ts";
import { procMountProblem } from "../runtime/proc-mounts.ts";
import { sysctlNamespace, validSysctlName } from "../runtime/sysctl.ts";
import { SeccompError, seccompRecords } from "../security/seccomp.ts";
import type { Seccomp } from "../oci/spec.ts";
import { UsageError } from "./errors.ts";
import type { ContainerConfig } from "./types.ts";
import { hostCapabilities, hostInitBinary, INIT_CANDIDATES } from "./host.ts";
import { resourcesOf } from "./limits.ts";
import { blkioWeightSupported, cpusetAvailable, parseCpuList } from "../cgroups/features.ts";
import { currentLimits } from "../security/defaults.ts";

/** The spec fields our flags become, for messages (see spec.ts resourcesOf). */
const RESOURCE_FLAGS: Record<string, string> = {
  "linux.resources.memory.limit": "-m, --memory",
  "linux.resources.memory.swap": "--memory-swap",
  "linux.resources.cpu.quota": "--cpus",
  "linux.resources.cpu.period": "--cpus",
  "linux.resources.cpu.shares": "-c, --cpu-shares",
  "linux.resources.pids.limit": "--pids-limit",
  "linux.resources.memory.reservation": "--memory-reservation",
  "linux.resources.cpu.cpus": "--cpuset-cpus",
  "linux.resources.cpu.mems": "--cpuset-mems",
  "linux.resources.blockIO.weight": "--blkio-weight",
};

/** --cpu-quota/--cpu-period as given (--cpus sets both fields too). */
function cpuFlag(cfg: ContainerConfig, field: string): string | undefined {
  if (field === "linux.resources.cpu.quota" && cfg.resources.cpuQuota !== undefined) return "--cpu-quota";
  if (field === "linux.resources.cpu.period" && cfg.resources.cpuPeriod !== undefined) return "--cpu-period";
  const m = /^linux\.resources\.blockIO\.throttle(Read|Write)(Bps|IOPS)Device\[\d+\]/.exec(field);
  if (m) return `--device-${m[1]!.toLowerCase()}-${m[2]!.toLowerCase()}`;
  return undefined;
}

/** docker's words for a cgroups rule our flags broke. */
const DOCKER_WORDS: Record<string, string> = {
  [RULES.swapBelowLimit]: "Minimum memoryswap limit should be larger than memory limit, see usage",
};

/** Every string the plan hands to the C core is NUL-separated: a NUL inside one cannot start. */
function noNul(value: string | undefined, what: string): void {
  if (value?.includes("\0")) throw new UsageError(`${what} contains a NUL byte: ${JSON.stringify(value)}`);
}

function checkStrings(cfg: ContainerConfig): void {
  for (const a of [...cfg.entrypoint, ...cfg.cmd]) noNul(a, "the command (entrypoint and arguments)");
  for (const e of cfg.env) noNul(e, "the environment variable");
  noNul(cfg.workingDir, "the working directory");
  noNul(cfg.user, "the user");
  noNul(cfg.image, "the image reference");
  for (const [k, v] of Object.entries(cfg.labels)) noNul(`${k}=${v}`, "the label");
  for (const m of cfg.mounts) {
    noNul(m.source, "the mount source");
    noNul(m.destination, "the mount destination");
    for (const o of m.options ?? []) noNul(o, "the mount option");
  }
  for (const h of cfg.extraHosts ?? []) for (const n of h.names) noNul(n, "the --add-host name");
}

/** The working directory: absolute, as the runtime needs it (an image may carry a relative one). */
function checkWorkdir(cfg: ContainerConfig): void {
  if (cfg.workingDir !== "" && !cfg.workingDir.startsWith("/")) {
    throw new UsageError(`the working directory '${cfg.workingDir}' is invalid, it needs to be an absolute path`);
  }
}

function checkMounts(cfg: ContainerConfig): void {
  for (const m of cfg.mounts) {
    const problem = procMountProblem(m.destination, m.kind === "tmpfs" ? "tmpfs" : "bind");
    if (problem) throw new UsageError(`invalid mount config: ${problem}`);
  }
}

/** --sysctl: a name in /proc/sys that belongs to a namespace the container has of its own. */
function checkSysctls(cfg: ContainerConfig): void {
  for (const [key, value] of Object.entries(cfg.sysctls ?? {})) {
    const spec = `${key}=${value}`;
    noNul(spec, "--sysctl");
    if (!validSysctlName(key)) throw new UsageError(`invalid argument "${spec}" for "--sysctl" flag: '${key}' is not a sysctl name`);
    const ns = sysctlNamespace(key);
    // Docker's wording: only namespaced sysctls are allowed; setting any other would change the host.
    if (!ns) throw new UsageError(`invalid argument "${spec}" for "--sysctl" flag: sysctl '${spec}' is not allowed (it is not namespaced: setting it would change the host)`);
    if (ns === "network" && cfg.network === "host") {
      throw new UsageError(`sysctl '${spec}' is not allowed with --network host: the container shares the host's network namespace`);
    }
    // The same rule for --ipc host and --uts host (docker: "not allowed in host IPC mode").
    if (ns === "ipc" && cfg.namespaces?.ipc === "host") {
      throw new UsageError(`sysctl '${spec}' is not allowed with --ipc host: the container shares the host's IPC namespace`);
    }
    if (ns === "uts" && cfg.namespaces?.uts === "host") {
      throw new UsageError(`sysctl '${spec}' is not allowed with --uts host: the container shares the host's UTS namespace`);
    }
  }
}

function checkResources(cfg: ContainerConfig): void {
  const resources = resourcesOf(cfg, true);
  if (!resources) return;
  try {
    validateResources(resources, (field) => cpuFlag(cfg, field) ?? RESOURCE_FLAGS[field] ?? field);
  } catch (e) {
    if (e instanceof CgroupError) throw new UsageError(e.rule ? DOCKER_WORDS[e.rule] ?? e.message : e.message);
    throw e;
  }
}

/** What only this host decides: which CPUs and memory nodes exist, whether an I/O scheduler
 *  weighs groups, and how far berth may raise a limit (no CAP_SYS_RESOURCE: not above its own). */
function checkHostLimits(cfg: ContainerConfig): void {
  const r = cfg.resources;
  if (r.cpusetCpus !== undefined || r.cpusetMems !== undefined) {
    const avail = cpusetAvailable();
    if (!avail) throw new UsageError("--cpuset-cpus/--cpuset-mems need the cpuset controller, which is not mounted on this host");
    for (const [flag, value, have, what] of [["--cpuset-cpus", r.cpusetCpus, avail.cpus, "CPUs"], ["--cpuset-mems", r.cpusetMems, avail.mems, "Memory nodes"]] as const) {
      if (value === undefined) continue;
      let asked: Set<number>;
      try {
        asked = parseCpuList(value);
      } catch (e) {
        throw new UsageError(`invalid value "${value}" for ${flag}: ${(e as Error).message}`);
      }
      const missing = [...asked].filter((n) => !have.has(n));
      if (missing.length) throw new UsageError(`Requested ${what} are not available - requested ${value}, available: ${[...have].join(",")}`);
    }
  }
  if (r.blkioWeight !== undefined && !blkioWeightSupported()) {
    throw new UsageError("--blkio-weight: this host cannot weigh block I/O between groups (no blkio.weight, blkio.bfq.weight or io.weight: the BFQ I/O scheduler is not in use); docker ignores the flag here, berth refuses it so you know it would have no effect");
  }
  // Read only when a flag needs it: every create runs these checks.
  const mayRaise = () => hostCapabilities().includes("CAP_SYS_RESOURCE");
  if (cfg.oomScoreAdj !== undefined && cfg.oomScoreAdj < 0 && !mayRaise()) {
    throw new UsageError(`--oom-score-adj ${cfg.oomScoreAdj}: lowering the OOM score below 0 needs CAP_SYS_RESOURCE, which this host does not give berth; use a value from 0 to 1000`);
  }
  if (cfg.ulimits?.length && !mayRaise()) {
    const mine = currentLimits();
    for (const u of cfg.ulimits) {
      const cur = mine.get(`RLIMIT_${u.name.toUpperCase()}`);
      if (!cur || cur.hard === -1) continue;
      if (u.hard === -1 || u.hard > cur.hard) {
        throw new UsageError(`--ulimit ${u.name}=${u.soft}:${u.hard}: the hard limit is above berth's own (${cur.hard}), and raising it needs CAP_SYS_RESOURCE, which this host does not give; use at most ${cur.hard}`);
      }
    }
  }
}

function checkSeccomp(cfg: ContainerConfig): void {
  if (cfg.seccompProfile === undefined || cfg.privileged) return;
  const p = cfg.seccompProfile;
  if (typeof p !== "object" || p === null || Array.isArray(p)) throw new UsageError(`invalid seccomp profile ${cfg.seccomp}: the top level must be a JSON object`);
  try {
    seccompRecords(p as Seccomp);
  } catch (e) {
    if (e instanceof SeccompError || e instanceof TypeError) throw new UsageError(`invalid seccomp profile ${cfg.seccomp}: ${(e as Error).message}`);
    throw e;
  }
}

/** --cap-add NAME the host cannot give (outside berth's own bounding set: CAP_SYS_RESOURCE here). */
function checkCapabilities(cfg: ContainerConfig): void {
  const named = cfg.capAdd.filter((c) => c !== "ALL" && !cfg.capDrop.includes(c));
  if (cfg.privileged || named.length === 0) return;
  const host = new Set(hostCapabilities());
  const missing = named.filter((c) => !host.has(c));
  if (missing.length) {
    throw new UsageError(`--cap-add ${missing.join(", ")}: this host cannot give ${missing.length > 1 ? "these capabilities" : "this capability"} (berth itself does not hold ${missing.length > 1 ? "them" : "it"} in its bounding set)`);
  }
}

function checkInit(cfg: ContainerConfig): void {
  if (!cfg.init) return;
  if (!hostInitBinary()) throw new UsageError(`--init needs tini on the host (looked for ${INIT_CANDIDATES.join(", ")}); install it: apt-get install tini`);
}

/** Refuses, with the flag that caused it, every value a start of this container would refuse. */
export function checkStartable(cfg: ContainerConfig): void {
  checkStrings(cfg);
  checkWorkdir(cfg);
  checkMounts(cfg);
  checkSysctls(cfg);
  checkResources(cfg);
  checkHostLimits(cfg);
  checkSeccomp(cfg);
  checkCapabilities(cfg);
  checkInit(cfg);
}
