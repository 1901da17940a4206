// Directory -> tar stream: layer blobs for `import DIR` and `commit`, and `export` of a container.
// Deterministic (sorted, integer mtimes) so packing the same tree twice gives the same digest.
import * as fs from "node:fs";
import { readXattrs } from "./ffi.ts";
import { type TarEntry, type TarType, padded, TAR_END, tarHeader } from "./tar.ts";

export interface PackOptions {
  /** "overlay": the tree is an overlay upper dir — char 0:0 becomes ".wh.NAME", opaque dirs get ".wh..wh..opq". */
  whiteouts?: "overlay" | "none";
  /** leave these top-level names out (e.g. "proc" of a live container); archive-relative, no leading "/" */
  exclude?: (rel: string) => boolean;
  /** do not descend into directories on another file system (mount points: /proc of a chroot, volumes); default true */
  oneFileSystem?: boolean;
  /** Owner ids as the archive should say them: a user-namespaced container's files are stored
   *  with host ids (subordinate ones) and archived with the container's own. */
  mapIds?: (uid: number, gid: number) => [number, number];
}

const FLUSH = 1 << 20;

export function devMajor(rdev: number): number {
  return Math.floor(rdev / 256) & 0xfff | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}
export function devMinor(rdev: number): number {
  return (rdev & 0xff) | (Math.floor(rdev / 4096) & ~0xff);
}

export function isOverlayWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

export function isOpaqueDir(xattrs: Map<string, Uint8Array> | null): boolean {
  const v = xattrs?.get("trusted.overlay.opaque");
  return v !== undefined && v.length === 1 && v[0] === 0x79;
}

function cleanXattrs(x: Map<string, Uint8Array> | null): Map<string, Uint8Array> | null {
  if (!x) return null;
  for (const k of [...x.keys()]) if (k.startsWith("trusted.overlay.")) x.delete(k);
  return x.size ? x : null;
}

function typeOf(st: fs.Stats): TarType | null {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  return null; // sockets are not archived (tar cannot hold them)
}

/** Streams a tar of the tree under root. */
export async function* packDirectory(root: string, opts: PackOptions = {}): AsyncGenerator<Uint8Array> {
  const overlay = opts.whiteouts === "overlay";
  const links = new Map<string, string>();
  let out: Uint8Array[] = [];
  let outLen = 0;
  const emit = (b: Uint8Array) => {
    out.push(b);
    outLen += b.length;
  };
  const take = () => {
    const b = Buffer.concat(out, outLen);
    out = [];
    outLen = 0;
    return b;
  };

  const entry = (name: string, type: TarType, st: fs.Stats, size: number): TarEntry => {
    const e = entryFor(name, type, st, size);
    if (opts.mapIds) [e.uid, e.gid] = opts.mapIds(e.uid, e.gid);
    return e;
  };
  const rootDev = fs.statSync(root).dev;
  const oneFs = opts.oneFileSystem !== false;
  const stack: string[] = [""]; // relative dirs to list, depth-first in sorted order
  while (stack.length) {
    const dir = stack.pop()!;
    const names = fs.readdirSync(dir ? `${root}/${dir}` : root).sort();
    const subdirs: string[] = [];
    for (const name of names) {
      const rel = dir ? `${dir}/${name}` : name;
      if (opts.exclude?.(rel)) continue;
      const abs = `${root}/${rel}`;
      const st = fs.lstatSync(abs);
      if (overlay && isOverlayWhiteout(st)) {
        emit(tarHeader(entry(dir ? `${dir}/.wh.${name}` : `.wh.${name}`, "file", st, 0)));
        continue;
      }
      const type = typeOf(st);
      if (type === null) continue;
      const raw = readXattrs(abs);
      const opaque = overlay && type === "dir" && isOpaqueDir(raw);
      const x = cleanXattrs(raw); // overlay's own attributes never travel in a layer
      if (type !== "dir" && st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = links.get(key);
        if (first !== undefined) {
          const e = entry(rel, "hardlink", st, 0);
          e.linkname = first;
          emit(tarHeader(e));
          continue;
        }
        links.set(key, rel);
      }
      const e = entry(type === "dir" ? rel + "/" : rel, type, st, type === "file" ? st.size : 0);
      e.xattrs = x;
      if (type === "symlink") e.linkname = fs.readlinkSync(abs);
      if (type === "char" || type === "block") {
        e.devmajor = devMajor(st.rdev);
        e.devminor = devMinor(st.rdev);
      }
      emit(tarHeader(e));
      if (type === "file" && st.size > 0) {
        yield* fileBody(abs, st.size, emit, take, () => outLen);
      }
      if (opaque) emit(tarHeader(entry(`${rel}/.wh..wh..opq`, "file", st, 0)));
      // a mount point is archived as an empty directory (like tar --one-file-system)
      if (type === "dir" && !(oneFs && st.dev !== rootDev)) subdirs.push(rel);
      if (outLen >= FLUSH) yield take();
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
  emit(TAR_END);
  yield take();
}

function entryFor(name: string, type: TarType, st: fs.Stats, size: number): TarEntry {
  return {
    name, type, size,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtime: Math.floor(st.mtimeMs / 1000),
    linkname: "",
    devmajor: 0,
    devminor: 0,
    xattrs: null,
  };
}

async function* fileBody(abs: string, size: number, emit: (b: Uint8Array) => void, take: () => Uint8Array, pending: () => number): AsyncGenerator<Uint8Array> {
  const fd = fs.openSync(abs, "r");
  try {
    let left = size;
    while (left > 0) {
      const want = Math.min(left, FLUSH);
      const buf = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const n = fs.readSync(fd, buf, got, want - got, null);
        if (n === 0) break;
        got += n;
      }
      if (got < want) {
        // the file shrank while we read it: pad with zeros so the archive stays well-formed
        buf.fill(0, got);
      }
      emit(buf);
      left -= want;
      if (pending() >= FLUSH) yield take();
    }
    const pad = padded(size) - size;
    if (pad) emit(new Uint8Array(pad));
  } finally {
    fs.closeSync(fd);
  }
}
