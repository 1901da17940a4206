// `berth stats`: usage from the container's cgroup (CPU %, memory usage/limit, PIDs, block I/O)
// and its network namespace's counters, in docker's columns.
import { readFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { containerCgroup } from "./cgroup.ts";
import type { ContainerView } from "./engine.ts";

export interface StatsSample {
  at: number;
  cpuNs: number;
  memUsage: number;
  memLimit: number;
  memCache: number;
  pids: number;
  blkRead: number;
  blkWrite: number;
  netRx: number;
  netTx: number;
}

function netCounters(pid: number): { rx: number; tx: number } {
  try {
    let rx = 0, tx = 0;
    for (const line of readFileSync(`/proc/${pid}/net/dev`, "utf8").split("\n").slice(2)) {
      const [name, rest] = line.split(":");
      if (!rest || name!.trim() === "lo") continue;
      const f = rest.trim().split(/\s+/).map(Number);
      rx += f[0] ?? 0;
      tx += f[8] ?? 0;
    }
    return { rx, tx };
  } catch {
    return { rx: 0, tx: 0 };
  }
}

export function sampleStats(v: ContainerView): StatsSample {
  const empty: StatsSample = { at: Date.now(), cpuNs: 0, memUsage: 0, memLimit: 0, memCache: 0, pids: 0, blkRead: 0, blkWrite: 0, netRx: 0, netTx: 0 };
  if (!v.running) return empty;
  try {
    const st = containerCgroup(v.row).stats();
    const host = totalmem();
    const limit = st.memory.limit > 0 && st.memory.limit < host ? st.memory.limit : host;
    const cache = st.memory.raw.total_inactive_file ?? st.memory.raw.inactive_file ?? 0;
    let blkRead = 0, blkWrite = 0;
    for (const e of st.blkio.ioServiceBytesRecursive) {
      if (e.op.toLowerCase() === "read") blkRead += e.value;
      else if (e.op.toLowerCase() === "write") blkWrite += e.value;
    }
    const net = netCounters(v.row.pid);
    return { at: Date.now(), cpuNs: st.cpu.total, memUsage: st.memory.usage, memLimit: limit, memCache: cache, pids: st.pids.current, blkRead, blkWrite, netRx: net.rx, netTx: net.tx };
  } catch {
    return empty;
  }
}

function size(bytes: number, binary: boolean): string {
  const base = binary ? 1024 : 1000;
  const units = binary ? ["B", "KiB", "MiB", "GiB", "TiB"] : ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= base && i < units.length - 1) { v /= base; i++; }
  return `${i === 0 ? Math.round(v) : v.toFixed(v < 10 ? 3 : v < 100 ? 2 : 1).replace(/\.?0+$/, "")}${units[i]}`;
}

/** One row of `berth stats`, CPU % from the two samples (100% = one CPU busy, like docker). */
export function statsRow(v: ContainerView, prev: StatsSample | undefined, cur: StatsSample, noTrunc = false): Record<string, string> {
  let cpu = 0;
  if (prev && cur.at > prev.at && cur.cpuNs >= prev.cpuNs) cpu = ((cur.cpuNs - prev.cpuNs) / ((cur.at - prev.at) * 1e6)) * 100;
  cpu = Math.min(cpu, availableParallelism() * 100);
  const used = Math.max(0, cur.memUsage - cur.memCache);
  const running = v.running;
  return {
    ID: noTrunc ? v.row.id : v.row.id.slice(0, 12),
    Container: v.row.id.slice(0, 12),
    Name: v.row.name,
    CPUPerc: running ? `${cpu.toFixed(2)}%` : "--",
    MemUsage: running ? `${size(used, true)} / ${size(cur.memLimit, true)}` : "-- / --",
    MemPerc: running && cur.memLimit ? `${((used / cur.memLimit) * 100).toFixed(2)}%` : "--",
    NetIO: running ? `${size(cur.netRx, false)} / ${size(cur.netTx, false)}` : "--",
    BlockIO: running ? `${size(cur.blkRead, false)} / ${size(cur.blkWrite, false)}` : "--",
    PIDs: running ? String(cur.pids) : "--",
  };
}
