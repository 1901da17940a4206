// Cgroups by name, the seeds' cgcreate/cgset/cgget/cgexec/cgclassify/cgdelete/lscgroup as
// operations with typed requests and results, the same on v1, v2 and hybrid hosts. NAME is a path
// below each hierarchy's root ("demo", "lab/a"). Every operation checks everything before it
// touches the kernel and leaves nothing half-done. `berth cgroup` prints what these return.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { joinedArgv } from "./exec.ts";
import { CgroupError, parseCount, readControl, writeControl } from "./files.ts";
import { resolveKey } from "./keys.ts";
import { type Hierarchies, DEFAULT_ROOT, discoverHierarchies } from "./layout.ts";
import { type CgroupManager, openCgroup } from "./manager.ts";
import { parseCgroupsPath } from "./path.ts";
import type { ControllerHome } from "./resources.ts";
import type { CgroupStats } from "./stats.ts";

/** The hierarchies under one root (default /sys/fs/cgroup; a cgroup2 mount gives a pure v2 view). */
export interface CgroupHost {
  root: string;
  h: Hierarchies;
}

export function openHost(root: string = DEFAULT_ROOT): CgroupHost {
  return { root, h: discoverHierarchies(root) };
}

/** A group in some controllers: "*" means every mounted one, "unified" the v2 group itself. */
export interface GroupRef {
  controllers: string[];
  name: string;
}

/** NAME as a path under each hierarchy root, refused if it could climb out (".."). */
export function checkName(name: string): string {
  if (!name) throw new CgroupError("missing cgroup NAME");
  if (name.split("/").includes("..")) throw new CgroupError(`cgroup name ${JSON.stringify(name)} contains "..", which would escape the cgroup root`);
  return parseCgroupsPath("/" + name.replace(/^\/+/, ""), name).path;
}

function allControllers(h: Hierarchies): string[] {
  const out = [...h.v1.keys()];
  if (h.unified) out.push("unified");
  return out;
}

/** The controllers a -g list means. "cpu" brings "cpuacct" along where the kernel keeps CPU usage
 *  in a hierarchy of its own (most hosts co-mount cpu,cpuacct, so a cpu group is accounted there
 *  anyway): without it a cpu group's usage would be nowhere, and stat/top would say 0 s. */
function controllersOf(host: CgroupHost, ref: GroupRef): string[] {
  if (ref.controllers.includes("*")) return allControllers(host.h);
  const out = [...ref.controllers];
  const cpu = host.h.v1.get("cpu"), acct = host.h.v1.get("cpuacct");
  if (out.includes("cpu") && !out.includes("cpuacct") && cpu && acct && cpu !== acct) out.push("cpuacct");
  return out;
}

/** Whether a group of this name exists in any hierarchy. */
export function groupExists(host: CgroupHost, name: string): boolean {
  return presentControllers(host.h, checkName(name)).length > 0;
}

/** The controllers in which NAME exists right now (v1 ones, plus "unified"). */
function presentControllers(h: Hierarchies, path: string): string[] {
  const out: string[] = [];
  for (const [c, m] of h.v1) if (existsSync(join(m.mountPoint, path))) out.push(c);
  if (h.unified && existsSync(join(h.unified.mountPoint, path))) out.push("unified");
  return out;
}

/** The manager of an existing group, in `only` controllers (default: wherever it exists). */
function openExisting(host: CgroupHost, path: string, only?: string[]): CgroupManager {
  const present = presentControllers(host.h, path);
  if (!present.length) throw new CgroupError(`no cgroup named ${path} (create it with: berth cgroup create -g CTRL:${path})`);
  if (only) {
    for (const c of only) {
      const there = c === "unified" || host.h.v1.has(c) ? present.includes(c) : present.includes("unified") && host.h.v2Controllers.has(c);
      if (!there) throw new CgroupError(`cgroup ${path} does not exist in controller ${c} (create it with: berth cgroup create -g ${c}:${path})`);
    }
  }
  return openCgroup({ cgroupsPath: "/" + path, containerId: path, root: host.root, controllers: only ?? present });
}

function finder(host: CgroupHost, m: CgroupManager): (c: string) => ControllerHome | undefined {
  const paths = m.paths();
  return (c) => {
    if (paths[c]) return { version: 1, dir: paths[c]! };
    if (paths.unified && host.h.v2Controllers.has(c) && !host.h.v1.has(c)) return { version: 2, dir: paths.unified };
    return undefined;
  };
}

/** Creates each group in its controllers; an existing one is no error. All or nothing. */
export function createGroups(host: CgroupHost, refs: GroupRef[]): void {
  // Open every manager first: unknown or unmounted controllers fail here, before any mkdir.
  const managers = refs.map((ref) => {
    const path = checkName(ref.name);
    return openCgroup({ cgroupsPath: "/" + path, containerId: path, root: host.root, controllers: controllersOf(host, ref) });
  });
  const done: CgroupManager[] = [];
  try {
    for (const m of managers) {
      const fresh = !m.exists();
      m.create();
      if (fresh) done.push(m);
    }
  } catch (e) {
    for (const m of done) m.destroy();
    throw e;
  }
}

export interface Written {
  key: string;
  /** The file's own name (differs from key where a v1 name was mapped to v2). */
  actual: string;
  value: string;
  /** Set when the key was mapped: what was done instead. */
  note?: string;
}

/** A memory limit below what the group already uses would only make the kernel reclaim or fail. */
function checkAgainstUsage(actual: string, encoded: string, file: string): void {
  const usageFile = actual === "memory.limit_in_bytes" ? "memory.usage_in_bytes" : actual === "memory.max" ? "memory.current" : undefined;
  if (!usageFile || encoded === "max" || encoded === "-1") return;
  const usage = parseCount(readControl(join(file, "..", usageFile)));
  if (Number(encoded) < usage) {
    throw new CgroupError(`${actual}=${encoded} is below the group's current memory usage (${usage} bytes); stop some processes or choose a higher limit`);
  }
}

/**
 * Writes control files of group `name` (v1 names are mapped on v2, values converted). Every value
 * is resolved and checked first: if one is bad, nothing is written. `onNote` hears each mapping
 * before its write.
 */
export function setValues(host: CgroupHost, name: string, values: { key: string; value: string }[], onNote?: (w: Written) => void): Written[] {
  const path = checkName(name);
  const m = openExisting(host, path);
  const find = finder(host, m);
  const unified = m.paths().unified;
  const writes = values.map(({ key, value }) => {
    const rk = resolveKey(key, find, unified, `cgroup ${path}`);
    const encoded = rk.encode(value);
    checkAgainstUsage(rk.actual, encoded, rk.file);
    return { key, rk, encoded };
  });
  return writes.map(({ key, rk, encoded }) => {
    const w: Written = { key, actual: rk.actual, value: encoded, ...(rk.note ? { note: rk.note } : {}) };
    if (w.note) onNote?.(w);
    try {
      writeControl(rk.file, encoded);
    } catch (e) {
      throw new CgroupError(`${key}: ${(e as Error).message}`);
    }
    return w;
  });
}

/** Reads control files of group `name`, each value in the asked key's terms. */
export function getValues(host: CgroupHost, name: string, keys: string[]): { key: string; value: string; note?: string }[] {
  const path = checkName(name);
  const m = openExisting(host, path);
  const find = finder(host, m);
  return keys.map((key) => {
    const rk = resolveKey(key, find, m.paths().unified, `cgroup ${path}`);
    return { key, value: rk.decode(readControl(rk.file)), ...(rk.note ? { note: rk.note } : {}) };
  });
}

/** A command about to run inside existing groups: its argv joins them first (like cgexec). */
export interface Joining {
  argv: string[];
  /** How many OOM kills the groups have seen so far (compare after the command ends). */
  oomKills(): number;
}

export function joinGroups(host: CgroupHost, refs: GroupRef[], cmd: string[]): Joining {
  if (!cmd.length) throw new CgroupError("missing command");
  const managers = refs.map((ref) => openExisting(host, checkName(ref.name), controllersOf(host, ref)));
  const files = [...new Set(managers.flatMap((m) => m.procsFiles()))];
  return { argv: joinedArgv(files, cmd), oomKills: () => managers.reduce((a, m) => a + m.oomKillCount(), 0) };
}

/** Moves process pid (all its threads) into group `name` wherever it exists. */
export function attachProcess(host: CgroupHost, name: string, pid: number): void {
  openExisting(host, checkName(name)).addProcess(pid);
}

/** Removes group `name` (and sub-groups) from every hierarchy; with processes left only if force (kills them). */
export function deleteGroup(host: CgroupHost, name: string, force: boolean): void {
  const path = checkName(name);
  const m = openExisting(host, path);
  const pids = m.pids();
  if (pids.length && !force) {
    throw new CgroupError(`cgroup ${path} still has processes (${pids.slice(0, 8).join(" ")}${pids.length > 8 ? " …" : ""}); stop them, or use delete -f to kill them`);
  }
  m.destroy();
}

/** Every cgroup below the roots, with the controllers it is in (lscgroup), sorted by path. */
export function listGroups(host: CgroupHost): { controllers: string[]; path: string }[] {
  const byPath = new Map<string, string[]>();
  const walk = (base: string, rel: string, label: string, depth: number) => {
    if (depth > 8) return;
    let entries;
    try { entries = readdirSync(join(base, rel), { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = `${rel}/${e.name}`;
      byPath.set(p, [...(byPath.get(p) ?? []), label]);
      walk(base, p, label, depth + 1);
    }
  };
  const seen = new Set<string>();
  for (const [c, m] of host.h.v1) {
    if (seen.has(m.mountPoint)) continue;
    seen.add(m.mountPoint);
    walk(m.mountPoint, "", m.controllers.filter((x) => host.h.v1.get(x) === m).join(",") || c, 0);
  }
  if (host.h.unified) walk(host.h.unified.mountPoint, "", "unified", 0);
  return [...byPath.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([path, controllers]) => ({ controllers, path }));
}

/** What `stat` and `top` show of a group, read at one moment. */
export interface GroupReport {
  path: string;
  layout: CgroupManager["layout"];
  stats: CgroupStats;
  processes: number;
  frozen: boolean;
  /** Which usage the group has a home for. */
  has: { memory: boolean; cpu: boolean; pids: boolean; /** CPU usage is counted somewhere (cpuacct, or v2's cpu.stat). */ cpuUsage: boolean };
  /** v1 CFS quota and period in µs (quota -1: unlimited); undefined without a v1 cpu controller. */
  cpuQuota?: { quota: number; period: number };
}

/** Reads a group's usage against its limits; `name` must exist. */
export function groupReport(host: CgroupHost, name: string): GroupReport {
  const path = checkName(name);
  const m = openExisting(host, path);
  const paths = m.paths();
  let frozen = false;
  try { frozen = m.frozen(); } catch { /* no freezer */ }
  let cpuQuota: GroupReport["cpuQuota"];
  if (paths.cpu) {
    try {
      cpuQuota = { quota: Number(readControl(join(paths.cpu, "cpu.cfs_quota_us")).trim()), period: Number(readControl(join(paths.cpu, "cpu.cfs_period_us")).trim()) };
    } catch { /* no CFS files */ }
  }
  return {
    path, layout: m.layout, stats: m.stats(), processes: m.pids().length, frozen, cpuQuota,
    has: { memory: !!paths.memory, cpu: !!(paths.cpu || paths.cpuacct || paths.unified), cpuUsage: !!(paths.cpuacct || paths.unified), pids: !!paths.pids },
  };
}
