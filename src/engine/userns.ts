// --userns=host|auto[:size=N] and --uidmap/--gidmap: parsed once at create (pure), and for "auto"
// a range of subordinate ids taken from those of the system user "berth" (/etc/subuid and
// /etc/subgid, as Podman takes them from "containers"), allocated when the row is inserted, in
// the same transaction (store.insertWithIdRange), so no two containers of a root share ids.
import { readFileSync } from "node:fs";
import { EngineError, UsageError } from "./errors.ts";
import type { IdMap, UsernsConfig } from "./types.ts";

/** The user whose subordinate ids --userns=auto hands out (scripts/install-system-deps.sh makes it). */
export const SUBID_USER = "berth";
export const DEFAULT_AUTO_SIZE = 65536;
/** Below this a container cannot even map the devpts group (5) and nobody (65534) is unmapped:
 *  1024 keeps the system ids of an image. */
export const MIN_AUTO_SIZE = 1024;
const MAX_ID = 4294967294; // (uid_t)-1 is "no id"

export interface UsernsRequest {
  userns?: string;
  uidmap?: string[];
  gidmap?: string[];
}

function parseMapLine(text: string, flag: string): IdMap {
  const m = /^(\d+):(\d+):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: use CONTAINER_ID:HOST_ID:SIZE, e.g. 0:100000:65536`);
  const [containerID, hostID, size] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (size < 1) throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: the size must be at least 1`);
  if (containerID + size - 1 > MAX_ID || hostID + size - 1 > MAX_ID) throw new UsageError(`invalid ${flag} ${JSON.stringify(text)}: ids end at ${MAX_ID}`);
  return { containerID, hostID, size };
}

function checkMap(map: IdMap[], flag: string): void {
  const sorted = [...map].sort((a, b) => a.containerID - b.containerID);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.containerID < sorted[i - 1]!.containerID + sorted[i - 1]!.size) throw new UsageError(`${flag}: container ids ${sorted[i]!.containerID}.. are mapped twice`);
  }
  // The init becomes root in the namespace to set it up (runc does the same).
  if (!map.some((m) => m.containerID === 0)) throw new UsageError(`${flag} must map container id 0 (the container's root), e.g. 0:100000:65536`);
}

/** The flags as typed → a user namespace of its own, or undefined for the host's. */
export function parseUserns(req: UsernsRequest): UsernsConfig | undefined {
  const mode = req.userns ?? "";
  const uid = (req.uidmap ?? []).map((t) => parseMapLine(t, "--uidmap"));
  const gid = (req.gidmap ?? []).map((t) => parseMapLine(t, "--gidmap"));
  const maps = uid.length > 0 || gid.length > 0;
  if (mode === "" || mode === "host") {
    if (!maps) return undefined;
    if (mode === "host") throw new UsageError("conflicting options: --uidmap/--gidmap and --userns=host (the maps need a user namespace of the container's own)");
    // Podman's rule: one map given, the other is the same.
    const uidMap = uid.length ? uid : gid, gidMap = gid.length ? gid : uid;
    checkMap(uidMap, "--uidmap");
    checkMap(gidMap, "--gidmap");
    return { mode: "maps", uidMap, gidMap };
  }
  const auto = /^auto(?::size=(\d+))?$/.exec(mode);
  if (!auto) throw new UsageError(`invalid --userns ${JSON.stringify(mode)}: use host, auto or auto:size=N (or --uidmap/--gidmap)`);
  if (maps) throw new UsageError("conflicting options: --userns=auto and --uidmap/--gidmap");
  const size = auto[1] === undefined ? DEFAULT_AUTO_SIZE : Number(auto[1]);
  if (!(size >= MIN_AUTO_SIZE && size <= MAX_ID)) throw new UsageError(`invalid --userns ${mode}: size must be from ${MIN_AUTO_SIZE} to ${MAX_ID}`);
  return { mode: "auto", uidMap: [], gidMap: [], range: { offset: -1, size } };
}

/** A contiguous block of subordinate ids. */
export interface SubidRange {
  start: number;
  size: number;
}

/** berth's first block in /etc/subuid or /etc/subgid (by name or by uid, as shadow-utils reads it). */
export function subidRange(file: string, user = SUBID_USER): SubidRange {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch { /* missing: said below */ }
  let uid: string | undefined;
  try {
    uid = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.split(":")[0] === user)?.split(":")[2];
  } catch { /* no passwd */ }
  for (const line of text.split("\n")) {
    const [who, start, count] = line.trim().split(":");
    if ((who === user || (uid !== undefined && who === uid)) && /^\d+$/.test(start ?? "") && /^\d+$/.test(count ?? "")) {
      return { start: Number(start), size: Number(count) };
    }
  }
  throw new EngineError(`--userns=auto needs subordinate ids for the user "${user}" in ${file}: run scripts/install-system-deps.sh, or add the user (useradd --system ${user}) and a line ${user}:2147483647:2147483648 to /etc/subuid and /etc/subgid`);
}

/**
 * The first free offset of `size` ids in a pool of `poolSize`, given the ranges taken (first fit).
 * Throws when none is left.
 */
export function firstFreeOffset(taken: readonly { offset: number; size: number }[], size: number, poolSize: number): number {
  let at = 0;
  for (const t of [...taken].sort((a, b) => a.offset - b.offset)) {
    if (t.offset - at >= size) break;
    at = Math.max(at, t.offset + t.size);
  }
  if (at + size > poolSize) {
    throw new EngineError(`--userns=auto: no ${size} subordinate ids left for user ${SUBID_USER} (${taken.length} containers hold ranges of a pool of ${poolSize}); remove containers, ask a smaller auto:size=N, or give ${SUBID_USER} more ids in /etc/subuid and /etc/subgid`);
  }
  return at;
}

/** An auto config with its range placed at `offset` of the pools. */
export function placeRange(cfg: UsernsConfig, offset: number, uids: SubidRange, gids: SubidRange): void {
  const size = cfg.range!.size;
  cfg.range = { offset, size };
  cfg.uidMap = [{ containerID: 0, hostID: uids.start + offset, size }];
  cfg.gidMap = [{ containerID: 0, hostID: gids.start + offset, size }];
}

/** The host id a container id maps to (undefined: unmapped). */
export function hostId(map: readonly IdMap[], id: number): number | undefined {
  const e = map.find((m) => id >= m.containerID && id < m.containerID + m.size);
  return e ? e.hostID + (id - e.containerID) : undefined;
}

/** Host ids back to the container's own (for commit and export of a user-namespaced
 *  container, whose writes are stored with host ids); ids outside the maps stay as they are. */
export function containerIdsOf(userns: UsernsConfig | undefined): ((uid: number, gid: number) => [number, number]) | undefined {
  if (!userns) return undefined;
  const back = (map: readonly IdMap[], id: number) => {
    const e = map.find((m) => id >= m.hostID && id < m.hostID + m.size);
    return e ? e.containerID + (id - e.hostID) : id;
  };
  return (uid, gid) => [back(userns.uidMap, uid), back(userns.gidMap, gid)];
}
