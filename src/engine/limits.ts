// A container's resource limits (-m, --memory-swap, --cpus, -c, --pids-limit, --cpu-quota,
// --cpu-period, --cpuset-*, --memory-reservation, --oom-kill-disable, --blkio-weight,
// --device-*-bps/iops) as the spec's linux.resources, with docker's defaults, and its cgroup's
// path (--cgroup-parent); create checks them with the cgroups' own rules (config-checks.ts)
// before spec.ts uses them at start, and `berth update` applies them to a running container.
import type { LinuxResources, ThrottleDevice } from "../oci/spec.ts";
import { swapAccounting } from "../cgroups/features.ts";
import type { ContainerConfig, DeviceRate } from "./types.ts";

const CPU_PERIOD = 100_000;

const throttles = (list: DeviceRate[] | undefined): ThrottleDevice[] | undefined =>
  list?.length ? list.map((d) => ({ major: d.major, minor: d.minor, rate: d.rate })) : undefined;

export function resourcesOf(cfg: ContainerConfig, canLimitSwap = swapAccounting()): LinuxResources | undefined {
  const r = cfg.resources;
  const out: LinuxResources = {};
  if (r.memory !== undefined) {
    out.memory = { limit: r.memory };
    // docker: without --memory-swap the container may use as much swap as memory.
    if (canLimitSwap) out.memory.swap = r.memorySwap ?? r.memory * 2;
  }
  if (r.memoryReservation !== undefined) out.memory = { ...out.memory, reservation: r.memoryReservation };
  if (r.oomKillDisable) out.memory = { ...out.memory, disableOOMKiller: true };
  if (r.cpus !== undefined) out.cpu = { ...out.cpu, quota: Math.round(r.cpus * CPU_PERIOD), period: CPU_PERIOD };
  if (r.cpuQuota !== undefined) out.cpu = { ...out.cpu, quota: r.cpuQuota };
  if (r.cpuPeriod !== undefined) out.cpu = { ...out.cpu, period: r.cpuPeriod };
  if (r.cpuShares !== undefined) out.cpu = { ...out.cpu, shares: r.cpuShares };
  if (r.cpusetCpus !== undefined) out.cpu = { ...out.cpu, cpus: r.cpusetCpus };
  if (r.cpusetMems !== undefined) out.cpu = { ...out.cpu, mems: r.cpusetMems };
  if (r.pidsLimit !== undefined) out.pids = { limit: r.pidsLimit };
  const blockIO: NonNullable<LinuxResources["blockIO"]> = {};
  if (r.blkioWeight !== undefined) blockIO.weight = r.blkioWeight;
  const t = {
    throttleReadBpsDevice: throttles(r.deviceReadBps), throttleWriteBpsDevice: throttles(r.deviceWriteBps),
    throttleReadIOPSDevice: throttles(r.deviceReadIops), throttleWriteIOPSDevice: throttles(r.deviceWriteIops),
  };
  for (const [k, v] of Object.entries(t)) if (v) blockIO[k as keyof typeof t] = v;
  if (Object.keys(blockIO).length) out.blockIO = blockIO;
  return Object.keys(out).length ? out : undefined;
}

/** The container's cgroup path (linux.cgroupsPath): PARENT/ID with --cgroup-parent, else the
 *  cgroups' default (/berth/ID). Every engine operation on the group opens it by this path. */
export function cgroupsPathOf(cfg: Pick<ContainerConfig, "cgroupParent">, id: string): string | undefined {
  return cfg.cgroupParent ? `${cfg.cgroupParent}/${id}` : undefined;
}
