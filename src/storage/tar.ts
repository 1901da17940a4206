// A synchronous push parser and a header writer for tar (ustar, GNU long names, PAX).
//
// Why not tar-stream: it wraps every entry in a stream and hands data back asynchronously,
// which costs ~20 µs per entry and forces an await per file. Unpacking a layer here writes each
// file with synchronous syscalls straight from the decompressed chunk (zero copies, no stream per
// entry) and hashes the same chunks in the same pass; a 150-line state machine does that.

export type TarType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo";

export interface TarEntry {
  name: string;          // as in the archive (PAX/GNU long names applied), not yet sanitised
  type: TarType;
  mode: number;          // permission and setuid/setgid/sticky bits (& 0o7777)
  uid: number;
  gid: number;
  size: number;          // bytes of data that follow (0 for everything but files)
  mtime: number;         // seconds since the epoch, may be fractional (PAX)
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Uint8Array> | null;
}

export interface TarVisitor {
  entry(e: TarEntry): void;
  data(chunk: Uint8Array): void;   // the entry's bytes, in order; a view into the caller's chunk
  endEntry(): void;
}

export class TarFormatError extends Error {}

const BLOCK = 512;
const MAX_META = 8 << 20; // cap on PAX/GNU long-name records we buffer
/** The largest id the kernel takes for a file's owner ((uid_t)-1 means "leave unchanged" to chown). */
export const MAX_FILE_ID = 0xfffffffe;
const dec = new TextDecoder();
const latin = new TextDecoder("latin1");

// Every header field is untrusted input: each number is parsed strictly (as Go's archive/tar,
// which docker uses, does) and checked against its bounds here, so nothing after the parser
// ever sees a negative, fractional, NaN or unsafe size, id or length.

function cstring(b: Uint8Array, off: number, len: number): string {
  let end = off;
  const lim = off + len;
  while (end < lim && b[end] !== 0) end++;
  return dec.decode(b.subarray(off, end));
}

/**
 * A numeric header field: octal digits padded with spaces/NULs, or GNU base-256 (top bit of the
 * first byte set; 0xff starts a negative number). Only `signed` fields (mtime) may be negative;
 * the value must be a safe integer.
 */
function num(b: Uint8Array, off: number, len: number, field: string, signed = false): number {
  const first = b[off]!;
  if ((first & 0x80) !== 0) {
    const negative = (first & 0x40) !== 0;
    if (negative && !signed) throw new TarFormatError(`corrupt tar header: negative ${field}`);
    // big-endian two's complement after the marker bit
    let v = negative ? (first & 0x7f) - 0x80 : first & 0x7f;
    for (let i = 1; i < len; i++) {
      v = v * 256 + b[off + i]!;
      if (!Number.isSafeInteger(v)) throw new TarFormatError(`corrupt tar header: ${field} is out of range`);
    }
    return v;
  }
  let i = off;
  let lim = off + len;
  while (i < lim && (b[i] === 0x20 || b[i] === 0)) i++;
  while (lim > i && (b[lim - 1] === 0x20 || b[lim - 1] === 0)) lim--;
  let v = 0;
  for (; i < lim; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x37) throw new TarFormatError(`corrupt tar header: ${field} is not an octal number`);
    v = v * 8 + (c - 0x30);
  }
  return v; // at most 12 octal digits: always a safe integer
}

/** The checksum field compared with both the unsigned and the signed sum (old writers used signed bytes, as Go accepts). */
function checksumOk(h: Uint8Array): boolean {
  let want: number;
  try {
    want = num(h, 148, 8, "checksum");
  } catch {
    return false;
  }
  let unsigned = 0, signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b < 128 ? b : b - 256;
  }
  return want === unsigned || want === signed;
}

function isZeroBlock(h: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (h[i] !== 0) return false;
  return true;
}

interface PaxOverrides {
  path?: string; linkpath?: string; size?: number; uid?: number; gid?: number; mtime?: number;
  xattrs?: Map<string, Uint8Array>;
}

const DECIMAL = /^[0-9]+$/;
const PAX_TIME = /^-?[0-9]+(\.[0-9]*)?$/;

function paxInteger(key: string, raw: Uint8Array, max: number): number {
  const s = latin.decode(raw);
  const v = DECIMAL.test(s) ? Number(s) : NaN;
  if (!(v <= max)) throw new TarFormatError(`corrupt PAX header: ${key}=${JSON.stringify(s.slice(0, 40))} is not a whole number from 0 to ${max}`);
  return v;
}

function paxString(key: string, raw: Uint8Array): string {
  if (raw.includes(0)) throw new TarFormatError(`corrupt PAX header: ${key} contains a NUL byte`);
  return dec.decode(raw);
}

/** The records of a PAX extended header ("LEN KEY=VALUE\n" each, LEN counting the whole record). */
function parsePax(buf: Uint8Array, into: PaxOverrides, global: boolean): void {
  let i = 0;
  while (i < buf.length) {
    let sp = i;
    while (sp < buf.length && sp - i < 20 && buf[sp] !== 0x20) sp++;
    const lenText = latin.decode(buf.subarray(i, sp));
    const len = DECIMAL.test(lenText) ? Number(lenText) : NaN;
    // the length covers "LEN KEY=VALUE\n": more than its own digits and the space, within the body
    if (!(len > sp - i + 1) || i + len > buf.length || buf[sp] !== 0x20 || buf[i + len - 1] !== 0x0a) {
      throw new TarFormatError("corrupt PAX header: malformed record (bad length)");
    }
    const rec = buf.subarray(sp + 1, i + len - 1); // without the trailing "\n"
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError("corrupt PAX header: malformed record (no KEY=)");
    const keyBytes = rec.subarray(0, eq);
    if (keyBytes.includes(0)) throw new TarFormatError("corrupt PAX header: a key contains a NUL byte");
    const key = dec.decode(keyBytes);
    const raw = rec.subarray(eq + 1);
    switch (key) {
      case "path": into.path = paxString(key, raw); break;
      case "linkpath": into.linkpath = paxString(key, raw); break;
      case "size": into.size = paxInteger(key, raw, Number.MAX_SAFE_INTEGER); break;
      case "uid": into.uid = paxInteger(key, raw, MAX_FILE_ID); break;
      case "gid": into.gid = paxInteger(key, raw, MAX_FILE_ID); break;
      case "mtime": {
        const s = latin.decode(raw);
        const v = PAX_TIME.test(s) ? Number(s) : NaN;
        if (!Number.isFinite(v)) throw new TarFormatError(`corrupt PAX header: mtime=${JSON.stringify(s.slice(0, 40))} is not a time`);
        into.mtime = v;
        break;
      }
      default:
        if (key.startsWith("SCHILY.xattr.")) {
          const name = key.slice(13);
          if (name === "") throw new TarFormatError("corrupt PAX header: an xattr without a name");
          // global xattrs would apply to no entry here; keeping them would only let an archive pile up memory
          if (!global) (into.xattrs ??= new Map()).set(name, raw.slice());
        } else if (key.startsWith("GNU.sparse")) {
          throw new TarFormatError("sparse files (GNU.sparse PAX records) are not supported in image layers");
        }
    }
    i += len;
  }
}

/** An owner id or device number from a header: what the kernel takes. */
function id(v: number, field: string): number {
  if (v > MAX_FILE_ID) throw new TarFormatError(`corrupt tar header: ${field} ${v} is out of range`);
  return v;
}

const enum State { Header, Data, Padding, Meta, Done }

export class TarReader {
  private state = State.Header;
  private hdr = new Uint8Array(BLOCK);
  private hdrFill = 0;
  private remaining = 0;   // data bytes left in the current entry
  private pad = 0;         // padding bytes left after it
  private meta: Uint8Array | null = null; // body of a PAX / GNU long-name entry being collected
  private metaFill = 0;
  private metaKind = 0;
  private pax: PaxOverrides = {};
  private globalPax: PaxOverrides = {};
  private longName: string | null = null;
  private longLink: string | null = null;
  entries = 0;

  constructor(private v: TarVisitor) {}

  get done(): boolean {
    return this.state === State.Done;
  }

  push(chunk: Uint8Array): void {
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      switch (this.state) {
        case State.Header: {
          const take = Math.min(BLOCK - this.hdrFill, n - off);
          if (this.hdrFill === 0 && take === BLOCK) {
            this.header(chunk.subarray(off, off + BLOCK));
          } else {
            this.hdr.set(chunk.subarray(off, off + take), this.hdrFill);
            this.hdrFill += take;
            if (this.hdrFill === BLOCK) {
              this.hdrFill = 0;
              this.header(this.hdr);
            }
          }
          off += take;
          break;
        }
        case State.Data: {
          const take = Math.min(this.remaining, n - off);
          this.v.data(chunk.subarray(off, off + take));
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) this.finishData();
          break;
        }
        case State.Meta: {
          const take = Math.min(this.remaining, n - off);
          this.meta!.set(chunk.subarray(off, off + take), this.metaFill);
          this.metaFill += take;
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) this.finishMeta();
          break;
        }
        case State.Padding: {
          const take = Math.min(this.pad, n - off);
          off += take;
          this.pad -= take;
          if (this.pad === 0) this.state = State.Header;
          break;
        }
        case State.Done:
          return; // trailing bytes after the end marker (tar pads to a record size) are ignored
      }
    }
  }

  /** Call at end of input: a truncated archive is an error, not a shorter layer. */
  finish(): void {
    if (this.state === State.Done) return;
    if (this.state === State.Header && this.hdrFill === 0 && this.entries > 0) {
      // no end-of-archive marker; tolerated (some writers omit it) when we stopped on an entry boundary
      this.state = State.Done;
      return;
    }
    throw new TarFormatError(this.entries === 0 ? "not a tar archive (no entries)" : "tar archive is truncated");
  }

  private header(h: Uint8Array): void {
    if (isZeroBlock(h)) {
      this.state = State.Done;
      return;
    }
    if (!checksumOk(h)) throw new TarFormatError(this.entries === 0 ? "not a tar archive (bad header checksum)" : "corrupt tar header (bad checksum)");
    const flag = h[156]!;
    const size = num(h, 124, 12, "size");
    // metadata entries that describe the next one
    if (flag === 0x78 /* x */ || flag === 0x67 /* g */ || flag === 0x4c /* L */ || flag === 0x4b /* K */) {
      if (size > MAX_META) throw new TarFormatError(`tar metadata record of ${size} bytes is too large`);
      this.metaKind = flag;
      this.meta = new Uint8Array(size);
      this.metaFill = 0;
      this.remaining = size;
      this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (size === 0) this.finishMeta();
      else this.state = State.Meta;
      return;
    }
    let type: TarType;
    switch (flag) {
      case 0: case 0x30: case 0x37: type = "file"; break;
      case 0x31: type = "hardlink"; break;
      case 0x32: type = "symlink"; break;
      case 0x33: type = "char"; break;
      case 0x34: type = "block"; break;
      case 0x35: type = "dir"; break;
      case 0x36: type = "fifo"; break;
      case 0x53: throw new TarFormatError("GNU sparse tar entries are not supported in image layers");
      default: throw new TarFormatError(`unsupported tar entry type '${String.fromCharCode(flag)}'`);
    }
    const ustar = h[257] === 0x75 && h[258] === 0x73 && h[259] === 0x74 && h[260] === 0x61 && h[261] === 0x72 && h[262] === 0;
    let name = cstring(h, 0, 100);
    if (ustar && h[345] !== 0) name = cstring(h, 345, 155) + "/" + name;
    const p = this.pax, g = this.globalPax;
    const e: TarEntry = {
      name: p.path ?? this.longName ?? g.path ?? name,
      type,
      mode: num(h, 100, 8, "mode") & 0o7777,
      uid: p.uid ?? g.uid ?? id(num(h, 108, 8, "uid"), "uid"),
      gid: p.gid ?? g.gid ?? id(num(h, 116, 8, "gid"), "gid"),
      size: p.size ?? g.size ?? size,
      mtime: p.mtime ?? g.mtime ?? num(h, 136, 12, "mtime", true),
      linkname: p.linkpath ?? this.longLink ?? g.linkpath ?? cstring(h, 157, 100),
      devmajor: type === "char" || type === "block" ? id(num(h, 329, 8, "devmajor"), "devmajor") : 0,
      devminor: type === "char" || type === "block" ? id(num(h, 337, 8, "devminor"), "devminor") : 0,
      xattrs: p.xattrs ?? null,
    };
    // Only regular files carry data; a size on any other type (some writers put one on hardlinks) is ignored.
    const dataSize = type === "file" ? e.size : 0;
    if (type !== "file") e.size = 0;
    this.pax = {};
    this.longName = this.longLink = null;
    this.entries++;
    this.v.entry(e);
    if (dataSize > 0 || type === "file") {
      this.remaining = dataSize;
      this.pad = (BLOCK - (dataSize % BLOCK)) % BLOCK;
      if (dataSize === 0) this.finishData();
      else this.state = State.Data;
    } else {
      this.v.endEntry();
      this.state = State.Header;
    }
  }

  private finishData(): void {
    this.v.endEntry();
    this.state = this.pad > 0 ? State.Padding : State.Header;
  }

  private finishMeta(): void {
    const body = this.meta!;
    this.meta = null;
    switch (this.metaKind) {
      case 0x78: parsePax(body, this.pax, false); break;
      case 0x67: parsePax(body, this.globalPax, true); break;
      case 0x4c: this.longName = cstring(body, 0, body.length); break;
      case 0x4b: this.longLink = cstring(body, 0, body.length); break;
    }
    this.state = this.pad > 0 ? State.Padding : State.Header;
  }
}

// ---- writing ----

const enc = new TextEncoder();

function octal(b: Uint8Array, off: number, len: number, v: number): boolean {
  const s = Math.floor(v).toString(8);
  if (s.length > len - 1) return false;
  b.set(enc.encode(s.padStart(len - 1, "0")), off);
  b[off + len - 1] = 0;
  return true;
}

function putString(b: Uint8Array, off: number, len: number, s: Uint8Array): boolean {
  if (s.length > len) return false;
  b.set(s, off);
  return true;
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const body = key.length + value.length + 3; // " " "=" "\n"
  let len = body + String(body).length;
  if (String(len).length !== String(body).length) len = body + String(len).length;
  const head = enc.encode(`${len} ${key}=`);
  const out = new Uint8Array(len);
  out.set(head, 0);
  out.set(value, head.length);
  out[len - 1] = 0x0a;
  return out;
}

const TYPE_FLAG: Record<TarType, number> = { file: 0x30, hardlink: 0x31, symlink: 0x32, char: 0x33, block: 0x34, dir: 0x35, fifo: 0x36 };

function ustarHeader(name: Uint8Array, e: TarEntry, flag: number, size: number, pax: Array<[string, Uint8Array]> | null): Uint8Array {
  const h = new Uint8Array(BLOCK);
  let nameOk = putString(h, 0, 100, name);
  if (!nameOk) {
    // try the ustar prefix split at a "/"
    for (let i = name.length - 1; i > 0; i--) {
      if (name[i] === 0x2f && i <= 155 && name.length - i - 1 <= 100 && name.length - i - 1 > 0) {
        h.set(name.subarray(0, i), 345);
        h.set(name.subarray(i + 1), 0);
        nameOk = true;
        break;
      }
    }
  }
  if (!nameOk) pax?.push(["path", name]), h.set(name.subarray(0, 100), 0);
  octal(h, 100, 8, e.mode & 0o7777);
  if (!octal(h, 108, 8, e.uid)) pax?.push(["uid", enc.encode(String(e.uid))]), octal(h, 108, 8, 0);
  if (!octal(h, 116, 8, e.gid)) pax?.push(["gid", enc.encode(String(e.gid))]), octal(h, 116, 8, 0);
  if (!octal(h, 124, 12, size)) pax?.push(["size", enc.encode(String(size))]), octal(h, 124, 12, 0);
  octal(h, 136, 12, Math.max(0, e.mtime));
  h[156] = flag;
  const link = enc.encode(e.linkname);
  if (!putString(h, 157, 100, link)) pax?.push(["linkpath", link]);
  h.set(enc.encode("ustar\u000000"), 257);
  octal(h, 329, 8, e.devmajor);
  octal(h, 337, 8, e.devminor);
  return h;
}

function finishChecksum(h: Uint8Array): void {
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  octal(h, 148, 7, sum);
  h[155] = 0x20;
}

/** The header block(s) for one entry: a PAX header first when names, ids or xattrs need it. */
export function tarHeader(e: TarEntry): Uint8Array {
  const name = enc.encode(e.name);
  const pax: Array<[string, Uint8Array]> = [];
  const h = ustarHeader(name, e, TYPE_FLAG[e.type], e.type === "file" ? e.size : 0, pax);
  if (e.xattrs) for (const [k, v] of [...e.xattrs].sort((a, b) => (a[0] < b[0] ? -1 : 1))) pax.push([`SCHILY.xattr.${k}`, v]);
  finishChecksum(h);
  if (pax.length === 0) return h;
  const records = pax.map(([k, v]) => paxRecord(k, v));
  const bodyLen = records.reduce((a, r) => a + r.length, 0);
  const paxName = enc.encode(`PaxHeaders/${e.name}`.slice(0, 99));
  const ph = ustarHeader(paxName, { ...e, linkname: "", devmajor: 0, devminor: 0 }, 0x78, bodyLen, null);
  finishChecksum(ph);
  const out = new Uint8Array(BLOCK + padded(bodyLen) + BLOCK);
  out.set(ph, 0);
  let o = BLOCK;
  for (const r of records) out.set(r, o), (o += r.length);
  out.set(h, BLOCK + padded(bodyLen));
  return out;
}

export function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

export function tarPadding(size: number): Uint8Array {
  return new Uint8Array(padded(size) - size);
}

/** Two zero blocks end an archive. */
export const TAR_END = new Uint8Array(BLOCK * 2);
