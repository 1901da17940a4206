// Writes the entries of a layer tar into a directory that becomes an overlay lowerdir.
//
// Safety rule: nothing is ever written outside the layer root. Every entry name is split into
// components; absolute names and ".." are refused; each parent component must be a real
// directory inside the root (a symlink on the way is refused, never followed); the final
// component is created with O_EXCL|O_NOFOLLOW so an existing symlink cannot redirect the write.
// Hardlink targets obey the same rules. What a symlink points at is not checked: a symlink is
// never followed here (nor anywhere a layer is written), and when used it resolves inside the
// container's root — so `usr/lib/libfoo.so -> ../../../../lib/libfoo.so.1` is fine, as in docker.
// Timestamps and modes are set on the entry itself (lutimes; directories only while they are
// still directories), never through a link a later entry put in its place.
// OCI whiteouts become overlay whiteouts: ".wh.NAME" -> char device 0:0 at NAME,
// ".wh..wh..opq" -> xattr trusted.overlay.opaque=y on the directory.
import * as fs from "node:fs";
import { lchown, lsetxattr, mkfifo, mknod } from "../sys/libc.ts";
import { startWriteback } from "./ffi.ts";
import type { TarEntry, TarVisitor } from "./tar.ts";

export class UnsafeLayerEntryError extends Error {
  constructor(readonly entry: string, reason: string) {
    super(`refusing layer entry ${JSON.stringify(entry)}: ${reason}; the image is malformed or hostile — do not use it`);
  }
}

export interface UnpackStats {
  entries: number;
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  devices: number;
  whiteouts: number;
  bytes: number; // file content bytes written
}

const S_IFCHR = 0o020000, S_IFBLK = 0o060000;
const WH_PREFIX = ".wh.";
const WH_OPAQUE = ".wh..wh..opq";
const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
const CREATE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
const OPAQUE = new TextEncoder().encode("y");
const WRITEBACK_FROM = 32 << 10; // files from this size start their writeback when closed (90 % of the bytes of the bench image)
const IS_ROOT = process.getuid?.() === 0;
const MAX_TIME = 9223372036; // seconds: the last whole second of 64-bit nanosecond time

/** As docker (pkg/system Chtimes): a time before the epoch or past 64-bit nanoseconds becomes the epoch. */
function fileTime(t: number): number {
  return t >= 0 && t <= MAX_TIME ? t : 0;
}
const UMASK = (() => {
  const m = process.umask(0o022);
  process.umask(m);
  return m;
})();

const NAME_MAX = 255;     // bytes in one path component (Linux)
const PATH_MAX = 4095;    // bytes in a symlink target, and in a path inside the layer
const MAX_MAJOR = 0xfff, MAX_MINOR = 0xfffff; // what a Linux device number holds

/** Splits an archive path into safe components, or throws. "" / "." / "./" is the root itself. */
export function safeComponents(name: string, what = name): string[] {
  if (name.startsWith("/")) throw new UnsafeLayerEntryError(what, "absolute paths are not allowed in a layer");
  if (Buffer.byteLength(name) > PATH_MAX) throw new UnsafeLayerEntryError(what.slice(0, 200), `the path is longer than ${PATH_MAX} bytes`);
  const parts: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") throw new UnsafeLayerEntryError(what, "\"..\" path components are not allowed in a layer");
    if (p.includes("\0")) throw new UnsafeLayerEntryError(what, "NUL byte in path");
    if (Buffer.byteLength(p) > NAME_MAX) throw new UnsafeLayerEntryError(what.slice(0, 200), `a path component is longer than ${NAME_MAX} bytes`);
    parts.push(p);
  }
  return parts;
}

export class LayerWriter implements TarVisitor {
  readonly stats: UnpackStats = { entries: 0, files: 0, dirs: 0, symlinks: 0, hardlinks: 0, devices: 0, whiteouts: 0, bytes: 0 };
  private knownDirs = new Set<string>([""]);
  private dirTimes: Array<[string, number]> = [];
  private fd = -1;        // open regular file being written
  private cur: TarEntry | null = null;
  private curPath = "";

  /**
   * writeback: the snapshot will be synced before it is published (a durable store), so start
   * each file's writeback when it is complete — the syncfs then waits for little.
   */
  constructor(readonly root: string, private writeback = false) {}

  entry(e: TarEntry): void {
    this.stats.entries++;
    const parts = safeComponents(e.name);
    if (parts.length === 0) {
      // the layer root itself
      if (e.type !== "dir") throw new UnsafeLayerEntryError(e.name, "the layer root must be a directory");
      this.applyMeta(this.root, e, false);
      this.dirTimes.push([this.root, fileTime(e.mtime)]);
      this.cur = null;
      return;
    }
    const base = parts[parts.length - 1]!;
    const parentRel = parts.slice(0, -1).join("/");
    const parentAbs = this.ensureParent(parts, e.name);

    if (base.startsWith(WH_PREFIX)) {
      this.cur = null;
      if (base === WH_OPAQUE) {
        lsetxattr(parentAbs, "trusted.overlay.opaque", OPAQUE);
      } else {
        const hidden = base.slice(WH_PREFIX.length);
        if (hidden === "" || hidden === "." || hidden === "..") throw new UnsafeLayerEntryError(e.name, "whiteout of an invalid name");
        const target = `${parentAbs}/${hidden}`;
        this.clear(target, parentRel ? `${parentRel}/${hidden}` : hidden);
        mknod(target, S_IFCHR, 0, 0);
        if (IS_ROOT && (e.uid !== 0 || e.gid !== 0)) lchown(target, e.uid, e.gid);
      }
      this.stats.whiteouts++;
      return;
    }

    const rel = parentRel ? `${parentRel}/${base}` : base;
    const abs = `${parentAbs}/${base}`;
    this.cur = e;
    this.curPath = abs;
    switch (e.type) {
      case "file": {
        let fd: number;
        try {
          fd = fs.openSync(abs, CREATE_FLAGS, e.mode & 0o777);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
          this.clear(abs, rel);
          fd = fs.openSync(abs, CREATE_FLAGS, e.mode & 0o777);
        }
        this.fd = fd;
        this.stats.files++;
        if (e.size === 0) this.finishFile();
        return;
      }
      case "dir": {
        let fresh = true;
        try {
          fs.mkdirSync(abs, e.mode & 0o777);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
          const st = fs.lstatSync(abs);
          if (!st.isDirectory()) {
            this.clear(abs, rel);
            fs.mkdirSync(abs, e.mode & 0o777);
          } else {
            fresh = false; // made earlier (implicitly, 0755, or by an earlier entry): set the mode
          }
        }
        this.knownDirs.add(rel);
        this.applyMeta(abs, e, false, fresh);
        this.dirTimes.push([abs, fileTime(e.mtime)]);
        this.stats.dirs++;
        return;
      }
      case "symlink": {
        if (e.linkname === "") throw new UnsafeLayerEntryError(e.name, "symlink with an empty target");
        if (e.linkname.includes("\0")) throw new UnsafeLayerEntryError(e.name, "NUL byte in the symlink target");
        if (Buffer.byteLength(e.linkname) > PATH_MAX) throw new UnsafeLayerEntryError(e.name, `symlink target longer than ${PATH_MAX} bytes`);
        try {
          fs.symlinkSync(e.linkname, abs);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
          this.clear(abs, rel);
          fs.symlinkSync(e.linkname, abs);
        }
        this.applyMeta(abs, e, true);
        this.stats.symlinks++;
        return;
      }
      case "hardlink": {
        const tparts = safeComponents(e.linkname, e.name + " -> " + e.linkname);
        if (tparts.length === 0) throw new UnsafeLayerEntryError(e.name, "hardlink to the layer root");
        const tparent = this.ensureParent(tparts, e.name, false);
        const target = `${tparent}/${tparts[tparts.length - 1]}`;
        let st: fs.Stats;
        try {
          st = fs.lstatSync(target);
        } catch {
          throw new UnsafeLayerEntryError(e.name, `hardlink target ${JSON.stringify(e.linkname)} does not exist earlier in this layer`);
        }
        if (st.isDirectory()) throw new UnsafeLayerEntryError(e.name, "hardlink to a directory");
        if (target === abs) return;
        this.clear(abs, rel);
        fs.linkSync(target, abs);
        this.stats.hardlinks++;
        this.cur = null;
        return;
      }
      case "char":
      case "block":
      case "fifo": {
        if (e.type !== "fifo" && (e.devmajor > MAX_MAJOR || e.devminor > MAX_MINOR)) {
          throw new UnsafeLayerEntryError(e.name, `device number ${e.devmajor}:${e.devminor} does not exist on Linux (major ≤ ${MAX_MAJOR}, minor ≤ ${MAX_MINOR})`);
        }
        this.clear(abs, rel);
        if (e.type === "fifo") mkfifo(abs, e.mode & 0o777);
        else mknod(abs, (e.type === "char" ? S_IFCHR : S_IFBLK) | (e.mode & 0o777), e.devmajor, e.devminor);
        this.applyMeta(abs, e, false);
        fs.lutimesSync(abs, fileTime(e.mtime), fileTime(e.mtime));
        this.stats.devices++;
        return;
      }
    }
  }

  data(chunk: Uint8Array): void {
    if (this.fd < 0) return;
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off);
    this.stats.bytes += chunk.length;
  }

  endEntry(): void {
    if (this.fd >= 0) this.finishFile();
    this.cur = null;
  }

  /** Applies directory mtimes last (children change them), deepest first. */
  finish(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const [p, t] = this.dirTimes[i]!;
      // a later entry may have replaced the directory, with a symlink even: stamp only what is
      // still a directory, and never follow (lutimes)
      let st: fs.Stats;
      try {
        st = fs.lstatSync(p);
      } catch {
        continue; // removed by a later entry; nothing to stamp
      }
      if (st.isDirectory()) fs.lutimesSync(p, t, t);
    }
  }

  /** Closes an open file if unpacking is abandoned. */
  abort(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  private finishFile(): void {
    const e = this.cur!;
    const fd = this.fd;
    this.fd = -1;
    try {
      const chowned = IS_ROOT && (e.uid !== 0 || e.gid !== 0);
      if (chowned) fs.fchownSync(fd, e.uid, e.gid);
      // open() applied the umask and chown() cleared setuid/setgid: put the exact mode back
      if ((e.mode & 0o7000) !== 0 || (e.mode & UMASK) !== 0) fs.fchmodSync(fd, e.mode);
      if (e.xattrs) this.setXattrs(this.curPath, e, false);
      fs.futimesSync(fd, fileTime(e.mtime), fileTime(e.mtime));
      if (this.writeback && e.size >= WRITEBACK_FROM) startWriteback(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** fresh: created by us just now with e.mode, so only the umask or a chown can have changed it */
  private applyMeta(abs: string, e: TarEntry, isLink: boolean, fresh = false): void {
    const chowned = IS_ROOT && (e.uid !== 0 || e.gid !== 0 || abs === this.root);
    if (chowned) lchown(abs, e.uid, e.gid);
    if (!isLink && (!fresh || chowned || (e.mode & 0o7000) !== 0 || (e.mode & UMASK) !== 0)) fs.chmodSync(abs, e.mode);
    if (e.xattrs) this.setXattrs(abs, e, isLink);
    if (isLink) fs.lutimesSync(abs, fileTime(e.mtime), fileTime(e.mtime));
  }

  private setXattrs(abs: string, e: TarEntry, isLink: boolean): void {
    for (const [k, v] of e.xattrs!) {
      // overlay's own attributes (redirect, origin, metacopy…) would let a layer steer the kernel's overlay lookup
      if (k.startsWith("trusted.overlay.")) continue;
      try {
        lsetxattr(abs, k, v);
      } catch (err) {
        if (isLink && k.startsWith("user.")) continue; // user.* is not permitted on symlinks
        throw err;
      }
    }
  }

  /**
   * Returns the absolute parent directory of parts, creating missing directories (0755, as tar
   * does) when create is set. A symlink or non-directory on the way is refused.
   */
  private ensureParent(parts: string[], entryName: string, create = true): string {
    if (parts.length === 1) return this.root;
    const parentRel = parts.slice(0, -1).join("/");
    if (this.knownDirs.has(parentRel)) return `${this.root}/${parentRel}`;
    let rel = "";
    for (let i = 0; i < parts.length - 1; i++) {
      rel = rel ? `${rel}/${parts[i]}` : parts[i]!;
      if (this.knownDirs.has(rel)) continue;
      const abs = `${this.root}/${rel}`;
      let st: fs.Stats | null = null;
      try {
        st = fs.lstatSync(abs);
      } catch {
        st = null;
      }
      if (st === null) {
        if (!create) throw new UnsafeLayerEntryError(entryName, `${rel} does not exist in this layer`);
        fs.mkdirSync(abs, 0o755);
      } else if (st.isSymbolicLink()) {
        throw new UnsafeLayerEntryError(entryName, `its parent ${rel} is a symlink; writing through it could escape the layer`);
      } else if (!st.isDirectory()) {
        throw new UnsafeLayerEntryError(entryName, `its parent ${rel} is not a directory`);
      }
      this.knownDirs.add(rel);
    }
    return `${this.root}/${parentRel}`;
  }

  /** Removes whatever is at abs (a later entry replaces an earlier one, as tar -x does). */
  private clear(abs: string, rel: string): void {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      fs.rmSync(abs, { recursive: true, force: true });
      for (const k of this.knownDirs) if (k === rel || k.startsWith(rel + "/")) this.knownDirs.delete(k);
    } else {
      fs.unlinkSync(abs);
    }
  }
}
