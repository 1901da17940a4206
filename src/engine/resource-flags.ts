// docker's resource, device and process-limit flags of `run`/`create`, read once into the
// ContainerConfig's typed fields. Only each flag's own syntax and docker's relations between
// flags are checked here; the ranges the kernel enforces are the cgroups' rules, applied to the
// whole config by config-checks.ts.
import { UsageError } from "./errors.ts";
import {
  parseCgroupParent, parseDevice, parseDeviceCgroupRule, parseDeviceRate, parseInteger, parseSize, parseUlimit,
} from "./options.ts";
import type { ContainerConfig, ResourceLimits } from "./types.ts";

/** The flags as typed (strings), as run/create and the API pass them. */
export interface ResourceRequest {
  cpuQuota?: string;
  cpuPeriod?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  memoryReservation?: string;
  /** Refused: kept so that the flag says why rather than "unknown flag". */
  kernelMemory?: string;
  oomKillDisable?: boolean;
  oomScoreAdj?: string;
  blkioWeight?: string;
  deviceReadBps?: string[];
  deviceWriteBps?: string[];
  deviceReadIops?: string[];
  deviceWriteIops?: string[];
  cgroupParent?: string;
  devices?: string[];
  deviceCgroupRules?: string[];
  ulimits?: string[];
  shmSize?: string;
  groupAdd?: string[];
}

const MIN_MEMORY = 6 * 1024 * 1024;

/** The extra ResourceLimits fields (merged into -m/--cpus & co by the caller). */
export function extraLimits(req: ResourceRequest, base: ResourceLimits): ResourceLimits {
  const out: ResourceLimits = {};
  if (req.kernelMemory !== undefined && req.kernelMemory !== "" && parseSize(req.kernelMemory, "--kernel-memory") !== 0) {
    throw new UsageError("--kernel-memory is not supported: the kernel has no separate kernel-memory limit any more (since Linux 5.16 memory.kmem.limit_in_bytes accepts a value and ignores it; cgroup v2 counts kernel memory in memory.max); use -m, --memory");
  }
  const quota = req.cpuQuota !== undefined ? parseInteger(req.cpuQuota, "--cpu-quota", -1) : 0;
  const period = req.cpuPeriod !== undefined ? parseInteger(req.cpuPeriod, "--cpu-period", 0) : 0;
  // docker's rule: --cpus is a quota over a fixed period; it cannot be combined with either.
  if (base.cpus !== undefined && period) throw new UsageError("Conflicting options: Nano CPUs and CPU Period cannot both be set");
  if (base.cpus !== undefined && quota) throw new UsageError("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  if (quota) out.cpuQuota = quota;
  if (period) out.cpuPeriod = period;
  if (req.cpusetCpus) out.cpusetCpus = req.cpusetCpus;
  if (req.cpusetMems) out.cpusetMems = req.cpusetMems;
  if (req.memoryReservation !== undefined) {
    const r = parseSize(req.memoryReservation, "--memory-reservation");
    if (r !== 0 && r < MIN_MEMORY) throw new UsageError(`Minimum memory reservation allowed is 6MB (got ${req.memoryReservation})`);
    if (r !== 0 && base.memory !== undefined && base.memory < r) throw new UsageError("Minimum memory limit can not be less than memory reservation limit, see usage");
    if (r) out.memoryReservation = r;
  }
  if (req.oomKillDisable) out.oomKillDisable = true;
  if (req.blkioWeight !== undefined) {
    const w = parseInteger(req.blkioWeight, "--blkio-weight", 0);
    if (w !== 0 && (w < 10 || w > 1000)) throw new UsageError(`Range of blkio weight is from 10 to 1000 (got --blkio-weight ${w})`);
    if (w) out.blkioWeight = w;
  }
  const rates = (list: string[] | undefined, flag: string, iops: boolean) => (list?.length ? list.map((s) => parseDeviceRate(s, flag, iops)) : undefined);
  const rb = rates(req.deviceReadBps, "--device-read-bps", false), wb = rates(req.deviceWriteBps, "--device-write-bps", false);
  const ri = rates(req.deviceReadIops, "--device-read-iops", true), wi = rates(req.deviceWriteIops, "--device-write-iops", true);
  if (rb) out.deviceReadBps = rb;
  if (wb) out.deviceWriteBps = wb;
  if (ri) out.deviceReadIops = ri;
  if (wi) out.deviceWriteIops = wi;
  return out;
}

/** The fields of ContainerConfig these flags set (besides resources). */
export function processAndDeviceConfig(req: ResourceRequest): Partial<ContainerConfig> {
  const out: Partial<ContainerConfig> = {};
  if (req.cgroupParent) out.cgroupParent = parseCgroupParent(req.cgroupParent);
  if (req.devices?.length) out.devices = req.devices.map(parseDevice);
  if (req.deviceCgroupRules?.length) out.deviceCgroupRules = req.deviceCgroupRules.map(parseDeviceCgroupRule);
  if (req.ulimits?.length) {
    const byName = new Map(req.ulimits.map(parseUlimit).map((u) => [u.name, u])); // the last one of a name wins, as in docker
    out.ulimits = [...byName.values()];
  }
  if (req.shmSize !== undefined && req.shmSize !== "") {
    const n = parseSize(req.shmSize, "--shm-size");
    if (n !== 0) out.shmSize = n; // 0: docker's default (64 MiB)
  }
  if (req.groupAdd?.length) {
    for (const g of req.groupAdd) if (g === "" || /[:\s\0]/.test(g)) throw new UsageError(`invalid --group-add ${JSON.stringify(g)}: a group name or number`);
    out.groupAdd = [...req.groupAdd];
  }
  if (req.oomScoreAdj !== undefined) {
    const n = parseInteger(req.oomScoreAdj, "--oom-score-adj", -Infinity);
    if (n < -1000 || n > 1000) throw new UsageError(`Invalid value ${n}, range for oom score adj is [-1000, 1000]`);
    out.oomScoreAdj = n;
  }
  return out;
}
