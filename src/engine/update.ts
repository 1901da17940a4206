// `berth update`: new limits (-m, --memory-swap, --cpus, -c, --pids-limit) and restart policy
// for existing containers. The flags are parsed once (parseUpdate), then for each container the new config is checked with create's rules (config-checks.ts),
// written to a running container's cgroup (all or nothing: the cgroups put back what a failed
// update changed), then stored, so `inspect` and the next start see what the cgroup has.
import type { LinuxResources } from "../oci/spec.ts";
import { containerCgroup } from "./cgroup.ts";
import { checkStartable } from "./config-checks.ts";
import { EngineError, UsageError } from "./errors.ts";
import type { Engine } from "./handle.ts";
import { resourcesOf } from "./limits.ts";
import { parseCpus, parseInteger, parseMemory, parseMemorySwap, parseRestart } from "./options.ts";
import type { ContainerConfig, ContainerRow, RestartPolicy } from "./types.ts";

/** The flags as typed; an absent one keeps its value. */
export interface UpdateRequest {
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  pidsLimit?: string;
  restart?: string;
}

/** An update, parsed once (the same for every container it is applied to). null: "no limit". */
export interface ResourceUpdate {
  memory?: number;
  memorySwap?: number | null;
  cpus?: number;
  cpuShares?: number;
  pidsLimit?: number | null;
  restart?: RestartPolicy;
}

/** Each flag's own syntax and range (docker's words); the rules between values need the container. */
export function parseUpdate(req: UpdateRequest): ResourceUpdate {
  if (Object.values(req).every((v) => v === undefined)) throw new UsageError("You must provide one or more flags when using this command.");
  const out: ResourceUpdate = {};
  if (req.memory !== undefined) {
    const m = parseMemory(req.memory);
    if (m !== undefined) out.memory = m; // 0: unchanged, as docker's update has it
  }
  if (req.memorySwap !== undefined) out.memorySwap = parseMemorySwap(req.memorySwap) ?? null;
  if (req.cpus !== undefined) out.cpus = parseCpus(req.cpus);
  if (req.cpuShares !== undefined) out.cpuShares = parseInteger(req.cpuShares, "-c, --cpu-shares", 2);
  if (req.pidsLimit !== undefined) {
    const n = parseInteger(req.pidsLimit, "--pids-limit", -1);
    out.pidsLimit = n <= 0 ? null : n;
  }
  if (req.restart !== undefined) out.restart = parseRestart(req.restart);
  return out;
}

/** The config with the update in (docker's rules between the new values and the container's). */
export function updatedConfig(cfg: ContainerConfig, u: ResourceUpdate): ContainerConfig {
  const r = { ...cfg.resources };
  if (u.memory !== undefined) {
    // docker: an explicit swap limit stays; the new memory must fit under it.
    if (u.memorySwap === undefined && r.memorySwap !== undefined && r.memorySwap !== -1 && u.memory > r.memorySwap) {
      throw new UsageError("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time");
    }
    r.memory = u.memory;
  }
  if (u.memorySwap !== undefined) {
    if (u.memorySwap !== null && u.memorySwap !== -1 && r.memory === undefined) throw new UsageError("You should always set the Memory limit when using Memoryswap limit");
    r.memorySwap = u.memorySwap ?? undefined;
  }
  if (u.cpus !== undefined) {
    r.cpus = u.cpus;
    // --cpus is a quota over docker's period: it replaces --cpu-quota/--cpu-period.
    delete r.cpuQuota;
    delete r.cpuPeriod;
  }
  if (u.cpuShares !== undefined) r.cpuShares = u.cpuShares;
  if (u.pidsLimit !== undefined) r.pidsLimit = u.pidsLimit ?? undefined;
  let restart = cfg.restart;
  if (u.restart !== undefined) {
    if (cfg.autoRemove && u.restart.name !== "no") throw new UsageError("Restart policy cannot be updated because AutoRemove is enabled for the container");
    restart = u.restart;
  }
  return { ...cfg, resources: r, restart };
}

/** What to write to a running container's cgroup: the groups of limits the request touched,
 *  with "no limit" written out (resourcesOf leaves an unset limit out, which would keep the old). */
function changedResources(cfg: ContainerConfig, req: ResourceUpdate): LinuxResources {
  const all = resourcesOf(cfg) ?? {};
  const out: LinuxResources = {};
  if (req.memory !== undefined || req.memorySwap !== undefined) out.memory = { ...all.memory, limit: all.memory?.limit ?? -1 };
  if (req.cpus !== undefined || req.cpuShares !== undefined) {
    out.cpu = {};
    if (req.cpus !== undefined) Object.assign(out.cpu, { quota: all.cpu?.quota ?? -1, period: all.cpu?.period ?? 100_000 });
    if (req.cpuShares !== undefined && all.cpu?.shares !== undefined) out.cpu.shares = all.cpu.shares;
  }
  if (req.pidsLimit !== undefined) out.pids = { limit: all.pids?.limit ?? 0 }; // 0: "max"
  return out;
}

/** Updates one container; its row as stored now. */
export async function updateContainer(engine: Engine, ref: string, req: ResourceUpdate): Promise<ContainerRow> {
  const found = engine.find(ref);
  const lock = await engine.lock(found.id);
  try {
    const row = engine.store.get(found.id);
    if (!row) throw new EngineError(`No such container: ${ref}`);
    const config = updatedConfig(row.config, req);
    checkStartable(config);
    const view = engine.observe(row);
    if (view.running) {
      const resources = changedResources(config, req);
      if (Object.keys(resources).length) {
        try {
          containerCgroup(row).update(resources);
        } catch (e) {
          throw new EngineError(`Cannot update container ${row.id}: ${(e as Error).message}`);
        }
      }
    }
    return engine.store.updated(row, { config });
  } finally {
    engine.unlock(lock, found.id);
  }
}
