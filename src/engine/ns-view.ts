// `berth ns`: which kernel namespaces each container has, and with whom it shares each one —
// the host (PID 1's namespaces, or berth's own) or other containers — read from /proc/PID/ns, as the seed
// tutorials do by hand with `ls -l /proc/PID/ns` and `lsns`. Nothing is recorded: the kernel's
// answer at this moment is the truth (a container joined with --network container:X, --pid host,
// --ipc shareable… shows up as shared, whatever flag made it so).
import { readdirSync, readlinkSync } from "node:fs";
import type { Engine } from "./handle.ts";
import type { ContainerRow } from "./types.ts";

/** The namespace types, in lsns's order (the *_for_children links are the same namespaces). */
export const NAMESPACE_TYPES = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] as const;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

export interface ContainerNamespace {
  type: NamespaceType;
  /** The namespace's inode (what `ls -l /proc/PID/ns` shows as type:[inode]). */
  inode: number;
  /** The host's own namespace (that of the host's PID 1). */
  host: boolean;
  /** Other running containers in the same namespace (names). */
  sharedWith: string[];
}

export interface ContainerNamespaces {
  id: string;
  name: string;
  /** The init's host pid; 0 when the container is not running (it has no namespaces then). */
  pid: number;
  namespaces: ContainerNamespace[];
}

/** One namespace of the lsns-like table: every namespace some running container is in. */
export interface NamespaceUse {
  inode: number;
  type: NamespaceType;
  /** Processes on the host in it (lsns's NPROCS). */
  processes: number;
  /** The lowest pid in it: the host's 1 for a host namespace, else the container's init. */
  pid: number;
  host: boolean;
  /** Containers in it (names), in the order of `berth ps`. */
  containers: string[];
}

/**
 * The host's namespaces: PID 1's. Reading them needs ptrace access to PID 1, which a root
 * without every capability PID 1 holds (a host that withholds CAP_SYS_RESOURCE) is denied; the
 * namespaces berth itself runs in are then the reference (berth runs on the host).
 */
function hostInodes(): Map<NamespaceType, number> {
  const init = inodes(1);
  return init.size ? init : inodes("self");
}

function inodeOf(pid: number | "self", type: NamespaceType): number | undefined {
  try {
    const m = /\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/${type}`));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined; // gone, or the kernel lacks the type (time before 5.6)
  }
}

function inodes(pid: number | "self"): Map<NamespaceType, number> {
  const out = new Map<NamespaceType, number>();
  for (const t of NAMESPACE_TYPES) {
    const ino = inodeOf(pid, t);
    if (ino !== undefined) out.set(t, ino);
  }
  return out;
}

interface Live {
  row: ContainerRow;
  ns: Map<NamespaceType, number>;
}

function running(engine: Engine): Live[] {
  const out: Live[] = [];
  for (const row of engine.store.list()) {
    const view = engine.observe(row);
    if (!view.running || !view.row.pid) continue;
    const ns = inodes(view.row.pid);
    if (ns.size) out.push({ row: view.row, ns });
  }
  return out;
}

/** Each container's namespaces: own, the host's, or shared with which containers. */
export function containerNamespaces(engine: Engine, refs: readonly string[]): ContainerNamespaces[] {
  const rows = refs.map((r) => engine.find(r));
  const live = running(engine);
  const host = hostInodes();
  return rows.map((row) => {
    const me = live.find((l) => l.row.id === row.id);
    if (!me) return { id: row.id, name: row.name, pid: 0, namespaces: [] };
    const namespaces = [...me.ns].map(([type, inode]): ContainerNamespace => ({
      type, inode, host: host.get(type) === inode,
      sharedWith: live.filter((l) => l.row.id !== row.id && l.ns.get(type) === inode).map((l) => l.row.name),
    }));
    return { id: row.id, name: row.name, pid: me.row.pid, namespaces };
  });
}

/** Every namespace a running container is in, with the processes in it (like lsns). */
export function namespaceTable(engine: Engine): NamespaceUse[] {
  const live = running(engine);
  const host = hostInodes();
  const byKey = new Map<string, NamespaceUse>();
  for (const l of live) {
    for (const [type, inode] of l.ns) {
      const key = `${type}:${inode}`;
      let use = byKey.get(key);
      if (!use) {
        use = { inode, type, processes: 0, pid: host.get(type) === inode ? 1 : l.row.pid, host: host.get(type) === inode, containers: [] };
        byKey.set(key, use);
      }
      use.containers.push(l.row.name);
      if (l.row.pid < use.pid) use.pid = l.row.pid;
    }
  }
  // NPROCS: one pass over /proc, every process's links compared with the namespaces listed.
  if (byKey.size) {
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      for (const t of NAMESPACE_TYPES) {
        const ino = inodeOf(Number(d), t);
        const use = ino === undefined ? undefined : byKey.get(`${t}:${ino}`);
        if (use) use.processes++;
      }
    }
  }
  return [...byKey.values()].sort((a, b) => NAMESPACE_TYPES.indexOf(a.type) - NAMESPACE_TYPES.indexOf(b.type) || Number(b.host) - Number(a.host) || a.inode - b.inode);
}
