// Several state roots on one host: each root's kernel objects carry names of their own, its default
// network gets a subnet of its own, and the few choices that must see every root (a subnet, a host
// port) are made under one host-wide lock. See README.md, "Several state roots".
import { closeSync, existsSync, mkdirSync, openSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { resolve } from "node:path";
import { flock, LOCK_EX, LOCK_UN } from "../sys/libc.ts";

/** The root Berth uses when none is given: its network keeps the historic names (berth0, 10.88.0.0/16). */
export const HISTORIC_ROOT = "/var/lib/berth";
export const HISTORIC_PREFIX = "berth";
export const HISTORIC_SUBNET = "10.88.0.0/16";

/** Host-wide runtime state (tmpfs): the prefix claims and the lock. Not the per-root runDir. */
const HOST_DIR = "/run/berth";
const CLAIMS = `${HOST_DIR}/prefixes`;

/**
 * The name prefix of a state root: "berth" for /var/lib/berth, else "b" and 5 hex digits of a hash
 * of the root's path. Hex digits never spell "rth", so no hashed prefix is a prefix of "berth"'s
 * names, and reconcile (which removes unknown links by prefix) never reaches another root's links.
 * 6 characters leave 9 for the rest of a 15-character interface name.
 */
export function prefixForRoot(stateRoot: string, hash: (s: string) => string): string {
  const root = resolve(stateRoot);
  return root === HISTORIC_ROOT ? HISTORIC_PREFIX : `b${hash(root).slice(0, 5)}`;
}

/**
 * Records that `stateRoot` names its kernel objects with `prefix` (a symlink in /run/berth/prefixes),
 * and refuses a prefix another live root (one whose network store still exists) has claimed: two
 * roots with one prefix would delete each other's bridges and rules.
 */
export function claimPrefix(prefix: string, stateRoot: string): void {
  const root = resolve(stateRoot);
  mkdirSync(CLAIMS, { recursive: true, mode: 0o755 });
  const link = `${CLAIMS}/${prefix}`;
  let owner: string | null = null;
  try {
    owner = readlinkSync(link);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  if (owner === root) return;
  if (owner !== null) {
    if (existsSync(`${owner}/network/network.db`)) {
      throw new Error(`network name prefix ${prefix} is already used by the state root ${owner}; give this root another one (BERTH_NETWORK_PREFIX) or reset that root (berth --root ${owner} system reset)`);
    }
    rmSync(link, { force: true }); // its root is gone: a stale claim
  }
  try {
    symlinkSync(root, link);
  } catch (e) {
    // Another root claimed it between our read and now: check again, once.
    if ((e as NodeJS.ErrnoException).code === "EEXIST" && readlinkSync(link) !== root) return claimPrefix(prefix, stateRoot);
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
}

/** Drops this root's claim (after `system reset`: the store no longer holds a prefix). */
export function releasePrefix(prefix: string, stateRoot: string): void {
  const link = `${CLAIMS}/${prefix}`;
  try {
    if (readlinkSync(link) === resolve(stateRoot)) rmSync(link, { force: true });
  } catch {
    // no claim
  }
}

/**
 * Runs `fn` holding the host-wide network lock. Taken (inside a root's own lock, never the other
 * way round) around choices every root must see: a subnet checked against host routes and the
 * bridge that makes its route, a host port checked against every root's rules and the rules that
 * take it. Without it two roots could pick the same /16 or the same port at the same moment.
 */
let hostLockDepth = 0;

export function withHostLock<T>(fn: () => T): T {
  // Re-entrant: a nested call must not flock a second descriptor of the same file (it would wait for itself).
  if (hostLockDepth > 0) {
    hostLockDepth++;
    try {
      return fn();
    } finally {
      hostLockDepth--;
    }
  }
  mkdirSync(HOST_DIR, { recursive: true, mode: 0o755 });
  const fd = openSync(`${HOST_DIR}/network.lock`, "a");
  try {
    flock(fd, LOCK_EX);
    hostLockDepth = 1;
    try {
      return fn();
    } finally {
      hostLockDepth = 0;
      flock(fd, LOCK_UN);
    }
  } finally {
    closeSync(fd);
  }
}

/** Where the default network of a root other than /var/lib/berth takes its /16: 10.90.0.0-10.127.255.255
 *  (10.88/16 stays the historic root's, 10.89/16 is the pool of user networks). */
export const DEFAULT_SUBNET_POOL = { first: (10 << 24) | (90 << 16), count: 38 };
