// Container root filesystems: the image's snapshots as read-only lowerdirs of an overlay, with a
// per-container upper and work dir. Also `diff` (what the container changed) and `export`.
import * as fs from "node:fs";
import * as path from "node:path";
import { MNT_DETACH, mount, SyscallError, umount } from "../sys/libc.ts";
import { bindIdmapped, mountOverlayFsconfig, readXattrs } from "./ffi.ts";
import { UserNamespaceHolder, type IdMapping } from "../sys/userns.ts";
import { isOpaqueDir, isOverlayWhiteout, packDirectory, type PackOptions } from "./pack.ts";

export interface ContainerRootfs {
  rootfs: string; // the merged view: give this to the runtime as root.path
  upper: string;
  work: string;
}

// The kernel copies mount(2) options into one page; longer lowerdir lists go through fsconfig.
const MAX_OPTIONS = 4000;

export interface MountOptions {
  /**
   * overlayfs `volatile`: no syncs to the upper dir's file system, including the one at unmount
   * (which flushes the whole host file system's journal: milliseconds, or far more when other
   * writers are busy). For containers removed when they exit (`run --rm`), whose upper dir is
   * thrown away anyway — podman does the same for them.
   */
  volatile?: boolean;
  /**
   * A container in a user namespace with these maps: its image layers are seen through idmapped
   * mounts (disk id N appears as the host id the container's N maps to), so the image's root-owned
   * files are its root's, and the image stays untouched on disk. The kernel cannot idmap an
   * overlay mount itself (mount_setattr answers EINVAL, still on 6.18); it can idmap the layers
   * under one (Linux ≥ 5.19). The upper dir is the container's own and is not idmapped: what the
   * container writes is stored with its host ids, and its root directory belongs to its root.
   */
  idmap?: { uidMap: readonly IdMapping[]; gidMap: readonly IdMapping[]; holder?: UserNamespaceHolder };
}

/** The host id that container id 0 maps to (the container's root on the host). */
function hostIdOf(map: readonly IdMapping[], id: number): number {
  const e = map.find((m) => id >= m.containerID && id < m.containerID + m.size);
  if (!e) throw new Error(`container id ${id} is not mapped`);
  return e.hostID + (id - e.containerID);
}

/** The deepest directory holding every path. */
function commonDir(paths: readonly string[]): string {
  let base = path.dirname(paths[0]!);
  while (!paths.every((p) => p === base || p.startsWith(base.endsWith("/") ? base : base + "/"))) base = path.dirname(base);
  return base;
}

/**
 * Mounts lowerdirs (top layer first) + containerDir/upper at containerDir/rootfs. Idempotent:
 * an already mounted rootfs is left alone. An image with no layers gets an empty lower dir.
 */
export function mountContainerRootfs(lowerdirs: readonly string[], containerDir: string, options: MountOptions = {}): ContainerRootfs {
  const rootfs = path.join(containerDir, "rootfs");
  const upper = path.join(containerDir, "upper");
  const work = path.join(containerDir, "work");
  // mkdirSync returns the first directory it made: a rootfs made just now is no mount point yet.
  const fresh = fs.mkdirSync(rootfs, { recursive: true, mode: 0o755 }) !== undefined;
  for (const d of [upper, work]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  if (!fresh && isMountPoint(rootfs)) return { rootfs, upper, work };
  let lowers = [...lowerdirs];
  if (lowers.length === 0) {
    const empty = path.join(containerDir, "empty-lower");
    fs.mkdirSync(empty, { recursive: true });
    lowers = [empty];
  }
  for (const l of lowers) {
    if (l.includes(":") || l.includes(",")) throw new Error(`overlay lowerdir ${l} contains ':' or ','; choose a store root without them`);
  }
  // Full copy-up only: diff/commit read the upper dir and must find whole files and directories
  // there, not metacopy stubs or redirects into lower layers (hosts may enable those by default).
  // After a volatile mount, the kernel refuses the work dir until its marker is gone.
  if (fs.existsSync(path.join(work, "work/incompat/volatile"))) {
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(work, { mode: 0o755 });
  }
  let idmapped: string | undefined;
  if (options.idmap) {
    // One idmapped bind of the directory holding every layer, the layers named through it; the
    // overlay takes private clones of its layers' mounts, so the bind goes as soon as it is made.
    const { uidMap, gidMap } = options.idmap;
    const base = commonDir(lowers);
    idmapped = path.join(containerDir, "idmapped-layers");
    fs.mkdirSync(idmapped, { recursive: true, mode: 0o700 });
    // One left by a berth killed here may hold another range's map: never reuse it.
    // (A bind of the same file system has the parent's st_dev: ask mountinfo, not isMountPoint.)
    for (const mp of mountsBelow(idmapped)) umount(mp, MNT_DETACH);
    {
      try {
        const holder = options.idmap.holder ?? UserNamespaceHolder.start(uidMap, gidMap);
        try {
          bindIdmapped(base, idmapped, holder.fd());
        } finally {
          if (!options.idmap.holder) holder.close();
        }
      } catch (e) {
        fs.rmdirSync(idmapped);
        throw new Error(`idmapped mount of the image layers (${base}) for the container's user namespace failed: ${(e as Error).message} (the kernel must support idmapped mounts on this file system: Linux ≥ 5.12, ≥ 5.19 for overlay layers)`);
      }
    }
    lowers = lowers.map((l) => path.join(idmapped!, path.relative(base, l)));
    fs.chownSync(upper, hostIdOf(uidMap, 0), hostIdOf(gidMap, 0));
  }
  try {
    mountLayers(rootfs, lowers, upper, work, options);
  } finally {
    if (idmapped) {
      umount(idmapped, MNT_DETACH);
      fs.rmdirSync(idmapped);
    }
  }
  return { rootfs, upper, work };
}

function mountLayers(rootfs: string, lowers: string[], upper: string, work: string, options: MountOptions): void {
  const volatile = options.volatile ? ",volatile" : "";
  const opts = (ls: string[]) => `lowerdir=${ls.join(":")},upperdir=${upper},workdir=${work},redirect_dir=off,metacopy=off${volatile}`;
  const data = opts(lowers);
  if (data.length <= MAX_OPTIONS) {
    mountOverlay(rootfs, data);
  } else {
    // too long for mount(2)'s one page of options: add the layers one by one (new mount API)
    try {
      mountOverlayFsconfig(rootfs, [
        ...lowers.map((l): [string, string] => ["lowerdir+", l]),
        ["upperdir", upper], ["workdir", work], ["redirect_dir", "off"], ["metacopy", "off"],
        ...(options.volatile ? [["volatile", ""] as [string, string]] : []),
      ]);
    } catch (e) {
      throw new Error(`mounting the ${lowers.length}-layer root filesystem at ${rootfs} failed: ${(e as Error).message} (layer-by-layer overlay mounts need Linux 6.8 or later)`);
    }
  }
}

function mountOverlay(target: string, data: string): void {
  try {
    mount("overlay", target, "overlay", 0, data);
  } catch (e) {
    if (e instanceof SyscallError) throw new Error(`mounting the container root filesystem at ${target} failed: ${e.message} (is overlayfs available and the store on a file system that supports it?)`);
    throw e;
  }
}

export function isMountPoint(p: string): boolean {
  try {
    const a = fs.statSync(p), b = fs.statSync(path.dirname(p));
    if (a.dev !== b.dev) return true;
  } catch {
    return false;
  }
  // same device (e.g. an overlay over the same fs reports its own dev, but be exact anyway)
  const real = fs.realpathSync(p);
  return fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4] === real);
}

/** Unmounts the rootfs (lazily if busy) and optionally removes upper/work/rootfs. */
/** Mount points at or below dir, deepest first (from /proc/self/mountinfo; octal escapes undone). */
export function mountsBelow(dir: string): string[] {
  const out: string[] = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const raw = line.split(" ")[4];
    if (!raw) continue;
    const mp = raw.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === dir || mp.startsWith(dir + "/")) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * Detaches everything mounted in a container's directory (its rootfs, a shareable /dev/shm, an
 * idmapped bind of the image layers left by a berth killed mid-start), so that deleting the
 * directory can never reach through a mount into what it shows (the image store, say).
 */
export function unmountAllBelow(containerDir: string): void {
  for (const mp of mountsBelow(containerDir)) {
    try {
      umount(mp, MNT_DETACH);
    } catch (e) {
      if (!(e instanceof SyscallError && (e.code === "EINVAL" || e.code === "ENOENT"))) throw e;
    }
  }
}

export function unmountContainerRootfs(containerDir: string, remove = false): void {
  const rootfs = path.join(containerDir, "rootfs");
  if (isMountPoint(rootfs)) {
    try {
      umount(rootfs);
    } catch (e) {
      if (e instanceof SyscallError && e.code === "EBUSY") umount(rootfs, MNT_DETACH);
      else throw e;
    }
  }
  if (remove) {
    for (const d of ["rootfs", "upper", "work", "empty-lower"]) fs.rmSync(path.join(containerDir, d), { recursive: true, force: true });
  }
}

export type ChangeKind = "A" | "C" | "D";
export interface Change {
  kind: ChangeKind;
  path: string; // absolute inside the container, e.g. "/etc/passwd"
}

/** How a path looks through the lower layers (top first), honouring whiteouts and opaque dirs. */
function existsInLowers(lowerdirs: readonly string[], rel: string): boolean {
  const parts = rel.split("/");
  for (const l of lowerdirs) {
    try {
      const st = fs.lstatSync(path.join(l, rel));
      return !isOverlayWhiteout(st);
    } catch {
      // absent here: does something in this layer hide the layers beneath?
      let p = l;
      for (let i = 0; i < parts.length - 1; i++) {
        p = path.join(p, parts[i]!);
        let st: fs.Stats;
        try {
          st = fs.lstatSync(p);
        } catch {
          break;
        }
        if (isOverlayWhiteout(st) || !st.isDirectory()) return false;
        if (isOpaqueDir(readXattrs(p))) return false;
      }
    }
  }
  return false;
}

function lowerChildren(lowerdirs: readonly string[], rel: string): string[] {
  const names = new Set<string>();
  for (const l of lowerdirs) {
    try {
      for (const n of fs.readdirSync(path.join(l, rel))) names.add(n);
    } catch {
      // not a directory in this layer
    }
  }
  return [...names].filter((n) => existsInLowers(lowerdirs, rel ? `${rel}/${n}` : n)).sort();
}

/** The top-most lower layer's entry at rel (no whiteout handling: for a path known to exist). */
function lowerStat(lowerdirs: readonly string[], rel: string): fs.Stats | null {
  for (const l of lowerdirs) {
    try {
      return fs.lstatSync(path.join(l, rel));
    } catch {
      // not in this layer
    }
  }
  return null;
}

/**
 * What only the runtime put in a container's upper dir, to be left out of `diff` and `commit`
 * (docker keeps them in its init layer): the targets of the container's mounts (/etc/hosts,
 * /etc/resolv.conf, …; relative paths) that are empty and absent from the image, and the
 * directories copied up only to hold them, unchanged and holding nothing else.
 */
export function mountStubs(upper: string, lowerdirs: readonly string[], targets: readonly string[]): Set<string> {
  const stubs = new Set<string>();
  for (const t of [...targets].map((x) => x.replace(/^\/+|\/+$/g, "")).filter(Boolean).sort((a, b) => b.length - a.length)) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(upper, t));
    } catch {
      continue;
    }
    if (existsInLowers(lowerdirs, t)) continue;
    const empty = (st.isFile() && st.size === 0) || (st.isDirectory() && fs.readdirSync(path.join(upper, t)).every((n) => stubs.has(`${t}/${n}`)));
    if (!empty) continue;
    stubs.add(t);
    for (let d = path.posix.dirname(t); d !== "."; d = path.posix.dirname(d)) {
      const abs = path.join(upper, d);
      const a = fs.lstatSync(abs);
      const b = existsInLowers(lowerdirs, d) ? lowerStat(lowerdirs, d) : null;
      if (!b || !a.isDirectory() || !b.isDirectory() || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || isOpaqueDir(readXattrs(abs))) break;
      if (!fs.readdirSync(abs).every((n) => stubs.has(`${d}/${n}`))) break;
      stubs.add(d);
    }
  }
  return stubs;
}

/** What the container changed, like `docker diff`: A added, C changed, D deleted; sorted by path.
 *  `exclude`: relative paths to leave out (mountStubs). */
export function diffContainer(upper: string, lowerdirs: readonly string[], exclude: ReadonlySet<string> = new Set()): Change[] {
  const out: Change[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(rel ? path.join(upper, rel) : upper).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (exclude.has(r)) continue;
      const abs = path.join(upper, r);
      const st = fs.lstatSync(abs);
      if (isOverlayWhiteout(st)) {
        if (existsInLowers(lowerdirs, r)) out.push({ kind: "D", path: "/" + r });
        continue;
      }
      const inLower = existsInLowers(lowerdirs, r);
      out.push({ kind: inLower ? "C" : "A", path: "/" + r });
      if (st.isDirectory()) {
        if (inLower && isOpaqueDir(readXattrs(abs))) {
          const kept = new Set(fs.readdirSync(abs));
          for (const n of lowerChildren(lowerdirs, r)) if (!kept.has(n)) out.push({ kind: "D", path: `/${r}/${n}` });
        }
        walk(r);
      }
    }
  };
  walk("");
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The upper dir as an OCI layer tar (overlay whiteouts become .wh. entries), without the
 *  relative paths in `exclude` (mountStubs), owners as `mapIds` says (a user-namespaced container's). */
export function packUpperLayer(upper: string, opts: Pick<PackOptions, "mapIds"> & { exclude?: ReadonlySet<string> } = {}): AsyncGenerator<Uint8Array> {
  const { exclude, ...rest } = opts;
  return packDirectory(upper, { whiteouts: "overlay", ...rest, ...(exclude ? { exclude: (rel: string) => exclude.has(rel) } : {}) });
}

/** The container's merged filesystem as a tar stream (like `docker export`); pass the mounted rootfs. */
export function exportContainer(rootfs: string, opts: PackOptions = {}): AsyncGenerator<Uint8Array> {
  return packDirectory(rootfs, { whiteouts: "none", ...opts });
}
