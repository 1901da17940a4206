// A container's resource limits (-m, --memory-swap, --cpus, -c, --pids-limit) as the spec's
// linux.resources, with docker's defaults; create checks them with the cgroups' own rules
// (config-checks.ts) before spec.ts uses them at start.
import type { LinuxResources } from "../oci/spec.ts";
import { swapAccounting } from "../cgroups/features.ts";
import type { ContainerConfig } from "./types.ts";

const CPU_PERIOD = 100_000;

export function resourcesOf(cfg: ContainerConfig, canLimitSwap = swapAccounting()): LinuxResources | undefined {
  const r = cfg.resources;
  const out: LinuxResources = {};
  if (r.memory !== undefined) {
    out.memory = { limit: r.memory };
    // docker: without --memory-swap the container may use as much swap as memory.
    if (canLimitSwap) out.memory.swap = r.memorySwap ?? r.memory * 2;
  }
  if (r.cpus !== undefined) out.cpu = { ...out.cpu, quota: Math.round(r.cpus * CPU_PERIOD), period: CPU_PERIOD };
  if (r.cpuShares !== undefined) out.cpu = { ...out.cpu, shares: r.cpuShares };
  if (r.pidsLimit !== undefined) out.pids = { limit: r.pidsLimit };
  return Object.keys(out).length ? out : undefined;
}
