// Network namespaces: entering one briefly (per thread) and keeping named ones under /run/netns the
// way iproute2 does, so OCI bundles can point `linux.namespaces[network].path` at them.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { MNT_DETACH, MS, mount, setns, umount, unshare } from "../sys/libc.ts";

export const CLONE_NEWNET = 0x40000000;
export const NETNS_RUN_DIR = "/run/netns";

/**
 * Runs `fn` with the calling thread inside the network namespace at `nsPath`, then returns.
 * setns(CLONE_NEWNET) changes only this thread, so it is safe in Bun's multi-threaded process;
 * `fn` must be synchronous (no await) so no other JS runs while we are away. Sockets opened
 * inside stay bound to that namespace after we return.
 */
export function withNetns<T>(nsPath: string, fn: () => T): T {
  const home = openSync("/proc/thread-self/ns/net", "r");
  try {
    const target = openSync(nsPath, "r");
    try {
      setns(target, CLONE_NEWNET);
    } finally {
      closeSync(target);
    }
    try {
      return fn();
    } finally {
      // If we cannot get back, every later network call would act on the container: stop hard.
      try {
        setns(home, CLONE_NEWNET);
      } catch (e) {
        console.error(`berth: cannot return to the host network namespace: ${(e as Error).message}`);
        process.exit(70);
      }
    }
  } finally {
    closeSync(home);
  }
}

function isMountPoint(path: string): boolean {
  const target = path.replace(/\/+$/, "");
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[4] === target);
}

/** /run/netns must be a shared mount so netns bind mounts propagate into other mount namespaces (as iproute2 does). */
function ensureRunDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (!isMountPoint(dir)) mount(dir, dir, null, MS.BIND | MS.REC);
  try {
    mount("none", dir, null, MS.SHARED | MS.REC);
  } catch {
    // Already shared, or propagation cannot change here; the bind mounts still work in this namespace.
  }
}

function validName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name)) throw new Error(`invalid netns name ${JSON.stringify(name)}: use letters, digits, '_', '.', '-'`);
}

/**
 * Creates a new, empty network namespace pinned at /run/netns/NAME (only `lo`, down) and returns
 * that path. Compatible with `ip netns`. Fails if the name exists.
 */
export function createNamedNetns(name: string, dir: string = NETNS_RUN_DIR): string {
  validName(name);
  ensureRunDir(dir);
  const path = `${dir}/${name}`;
  if (existsSync(path)) throw new Error(`network namespace ${path} already exists; remove it with removeNamedNetns(${JSON.stringify(name)}) or pick another name`);
  writeFileSync(path, "", { mode: 0o444, flag: "wx" });
  const home = openSync("/proc/thread-self/ns/net", "r");
  try {
    unshare(CLONE_NEWNET);
    try {
      mount("/proc/thread-self/ns/net", path, null, MS.BIND);
    } finally {
      setns(home, CLONE_NEWNET);
    }
  } catch (e) {
    rmSync(path, { force: true });
    throw e;
  } finally {
    closeSync(home);
  }
  return path;
}

/** Unpins /run/netns/NAME; the namespace dies once no process uses it. Missing names are fine. */
export function removeNamedNetns(name: string, dir: string = NETNS_RUN_DIR): void {
  validName(name);
  const path = `${dir}/${name}`;
  if (!existsSync(path)) return;
  try {
    umount(path, MNT_DETACH);
  } catch {
    // Not mounted (half-created); just remove the file.
  }
  rmSync(path, { force: true });
}
