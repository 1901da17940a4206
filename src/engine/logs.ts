// Reading what berth-monitor wrote, and talking to its attach socket.
//
// Log format (CRI, one record per line): `<RFC3339Nano> <stdout|stderr> <F|P> <bytes>\n`.
// F ends a line of output (the newline itself is not stored); P is part of a line whose rest is
// in the stream's next record(s). When the log is rotated the older part is `<log>.1`.
import { closeSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";

export type StreamName = "stdout" | "stderr";

export interface LogRecord {
  /** As written, e.g. 2026-11-23T16:00:00.123456789Z */
  readonly time: string;
  /** Nanoseconds since the epoch. */
  readonly timeNs: bigint;
  readonly stream: StreamName;
  /** More of the same line follows in a later record of this stream. */
  readonly partial: boolean;
  readonly text: Buffer;
}

const SPACE = 0x20, NEWLINE = 0x0a;

/** Nanoseconds since the epoch of an RFC3339 timestamp (any fraction length, Z or ±hh:mm). */
export function parseTimestamp(time: string): bigint | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

function digits(b: Buffer, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/** The monitor's own timestamp shape, YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ, checked without a string. */
function fixedShape(line: Buffer, end: number): boolean {
  return end === 30 && line[29] === 0x5a && line[19] === 0x2e && line[10] === 0x54 && line[4] === 0x2d && line[7] === 0x2d
    && line[13] === 0x3a && line[16] === 0x3a;
}

let lastSecsKey = -1;
let lastSecsNs = 0n;

/** Nanoseconds of a fixed-shape timestamp; records of one second share the Date/BigInt work. */
function fixedTimeNs(line: Buffer): bigint | null {
  const key = digits(line, 0, 4) * 1e10 + digits(line, 5, 2) * 1e8 + digits(line, 8, 2) * 1e6 + digits(line, 11, 2) * 1e4
    + digits(line, 14, 2) * 100 + digits(line, 17, 2);
  const frac = digits(line, 20, 9);
  if (Number.isNaN(key) || Number.isNaN(frac)) return null;
  if (key !== lastSecsKey) {
    const ms = Date.UTC(digits(line, 0, 4), digits(line, 5, 2) - 1, digits(line, 8, 2), digits(line, 11, 2), digits(line, 14, 2), digits(line, 17, 2));
    lastSecsKey = key;
    lastSecsNs = BigInt(ms) * 1_000_000n;
  }
  return lastSecsNs + BigInt(frac);
}

/** A parsed record. Time text and value are worked out only when asked for (-t, --since):
 *  logs are read by the million. */
class ParsedRecord implements LogRecord {
  private ns: bigint | undefined;
  constructor(private readonly line: Buffer, private readonly timeEnd: number, ns: bigint | undefined,
    readonly stream: StreamName, readonly partial: boolean, readonly text: Buffer) {
    this.ns = ns;
  }
  get time(): string {
    return this.line.toString("latin1", 0, this.timeEnd);
  }
  get timeNs(): bigint {
    return (this.ns ??= fixedTimeNs(this.line) ?? 0n);
  }
}

/** One line of the log file, without its newline; null when it is not a log record. */
export function parseLogRecord(line: Buffer): LogRecord | null {
  const s1 = line.indexOf(SPACE);
  if (s1 < 0) return null;
  const s2 = s1 + 7; // "stdout" and "stderr" are both six bytes
  if (line.length < s2 + 2 || line[s2] !== SPACE || line[s1 + 1] !== 0x73 || line[s1 + 2] !== 0x74 || line[s1 + 3] !== 0x64) return null;
  let stream: StreamName;
  if (line[s1 + 4] === 0x6f && line[s1 + 5] === 0x75 && line[s1 + 6] === 0x74) stream = "stdout";
  else if (line[s1 + 4] === 0x65 && line[s1 + 5] === 0x72 && line[s1 + 6] === 0x72) stream = "stderr";
  else return null;
  const tag = line[s2 + 1];
  if (tag !== 0x46 /* F */ && tag !== 0x50 /* P */) return null;
  if (line.length > s2 + 2 && line[s2 + 2] !== SPACE) return null;
  let ns: bigint | undefined;
  if (!fixedShape(line, s1)) {
    const parsed = parseTimestamp(line.toString("latin1", 0, s1)); // another writer's shape: parse now
    if (parsed === null) return null;
    ns = parsed;
  }
  return new ParsedRecord(line, s1, ns, stream, tag === 0x50, line.subarray(Math.min(line.length, s2 + 3)));
}

/** Splits complete lines off `data`; returns the records and the unterminated rest. */
function splitRecords(data: Buffer): { records: LogRecord[]; rest: Buffer } {
  const records: LogRecord[] = [];
  let start = 0;
  for (;;) {
    const nl = data.indexOf(NEWLINE, start);
    if (nl < 0) break;
    const r = parseLogRecord(data.subarray(start, nl));
    if (r) records.push(r);
    start = nl + 1;
  }
  return { records, rest: data.subarray(start) };
}

/**
 * docker's --since/--until: an RFC3339 time, unix seconds (with fraction), or a duration before
 * `now` such as 10m, 1h30m, 45s. Returns nanoseconds since the epoch.
 */
export function parseSince(value: string, now: Date = new Date()): bigint {
  const v = value.trim();
  if (/^\d+(\.\d{1,9})?$/.test(v)) {
    const [secs, frac = ""] = v.split(".");
    return BigInt(secs!) * 1_000_000_000n + BigInt(frac.padEnd(9, "0"));
  }
  const ts = parseTimestamp(v) ?? (/^\d{4}-\d\d-\d\d$/.test(v) ? parseTimestamp(`${v}T00:00:00Z`) : null);
  if (ts !== null) return ts;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  const parts = [...v.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g)];
  if (parts.length > 0 && parts.map((p) => p[0]).join("") === v) {
    const ms = parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
    return (BigInt(now.getTime()) - BigInt(Math.round(ms))) * 1_000_000n;
  }
  throw new Error(`invalid time "${value}": use an RFC3339 time (2026-11-23T16:00:00Z), unix seconds, or a duration like 10m`);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return -1;
    throw e;
  }
}

function readRange(path: string, start: number, end: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(end - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** For each record, the index of the logical line it belongs to (a line = P… records then an F, per stream). */
function lineIds(records: LogRecord[]): { ids: number[]; total: number } {
  const current: Record<StreamName, number> = { stdout: -1, stderr: -1 };
  let next = 0;
  const ids = records.map((r) => {
    if (current[r.stream] < 0) current[r.stream] = next++;
    const id = current[r.stream];
    if (!r.partial) current[r.stream] = -1;
    return id;
  });
  return { ids, total: next };
}

function countLines(records: LogRecord[]): number {
  return lineIds(records).total;
}

/** The records making up the last `n` lines, reading each file from its end in growing windows. */
function tailRecords(files: { path: string; size: number }[], n: number): LogRecord[] {
  let out: LogRecord[] = [];
  for (let i = files.length - 1; i >= 0; i--) {
    const { path, size } = files[i]!;
    let window = 64 * 1024;
    let recs: LogRecord[];
    for (;;) {
      const start = Math.max(0, size - window);
      const data = readRange(path, start, size);
      // A window may begin mid-record: drop that fragment. Its first record may also continue
      // an earlier line; that line is then beyond the last n, since we stop only past n lines.
      const first = start === 0 ? 0 : data.indexOf(NEWLINE) + 1;
      recs = start !== 0 && first === 0 ? [] : splitRecords(data.subarray(first)).records;
      if (start === 0 || countLines(recs.concat(out)) > n) break;
      window *= 4;
    }
    out = recs.concat(out);
    if (countLines(out) > n) break;
  }
  const { ids, total } = lineIds(out);
  return out.filter((_, k) => ids[k]! >= total - n);
}

export interface LogReadOptions {
  /** Only the last N lines (docker's --tail; undefined or negative = all). */
  tail?: number;
  /** Only records at or after this time (ns since the epoch). */
  since?: bigint;
  /** Only records before this time (ns since the epoch). */
  until?: bigint;
  /** Keep reading as the log grows (docker's -f) until `stop` resolves or aborts. */
  follow?: boolean;
  /** For follow: when this resolves (e.g. the container's exit file appeared) the last records are read and reading ends. */
  stop?: Promise<unknown>;
  signal?: AbortSignal;
}

/** Reads one log path as it grows, in slices (memory stays bounded for any log size), and
 *  when following, across rotations: the rest of the renamed file first, then the new one. */
class LogCursor {
  private fd = -1;
  private ino = -1;
  private pos = 0;
  private carry: Buffer = Buffer.alloc(0);

  constructor(private readonly path: string, startAt: number, private readonly followRotation = true) {
    this.pos = startAt;
    this.open();
  }

  private open(): void {
    try {
      this.fd = openSync(this.path, "r");
      this.ino = fstatSync(this.fd).ino;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      this.fd = -1;
    }
  }

  private *drain(): Generator<LogRecord[]> {
    if (this.fd < 0) return;
    for (;;) {
      const buf = Buffer.allocUnsafe(1 << 20); // fresh each slice: yielded records point into it
      const n = readSync(this.fd, buf, 0, buf.length, this.pos);
      if (n === 0) return;
      this.pos += n;
      const data = this.carry.length > 0 ? Buffer.concat([this.carry, buf.subarray(0, n)]) : buf.subarray(0, n);
      const { records, rest } = splitRecords(data);
      this.carry = Buffer.from(rest);
      yield records;
    }
  }

  /** Everything there now, slice by slice. */
  *read(): Generator<LogRecord[]> {
    if (this.fd < 0) {
      this.open();
      this.pos = 0;
    }
    yield* this.drain();
    if (!this.followRotation) return;
    let current = -1;
    try {
      current = statSync(this.path).ino;
    } catch {}
    if (this.fd >= 0 && current !== -1 && current !== this.ino) {
      closeSync(this.fd);
      this.fd = -1;
      this.carry = Buffer.alloc(0);
      this.open();
      this.pos = 0;
      yield* this.drain();
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** The offset just past the last newline before `size` (0 when there is none). */
function completeEnd(path: string, size: number): number {
  for (let end = size; end > 0; end -= 4096) {
    const start = Math.max(0, end - 4096);
    const nl = readRange(path, start, end).lastIndexOf(NEWLINE);
    if (nl >= 0) return start + nl + 1;
  }
  return 0;
}

/** The log's records in order, optionally tailing and following it. */
export async function* readLog(path: string, opts: LogReadOptions = {}): AsyncGenerator<LogRecord> {
  for await (const batch of readLogBatches(path, opts)) yield* batch;
}

/** As readLog, in batches (one per read of up to 1 MiB): the per-record cost of an async
 *  generator is what dominated reading a large log. */
export async function* readLogBatches(path: string, opts: LogReadOptions = {}): AsyncGenerator<LogRecord[]> {
  const since = opts.since, until = opts.until;
  const keep = (batch: LogRecord[]) => since === undefined && until === undefined ? batch
    : batch.filter((r) => (since === undefined || r.timeNs >= since) && (until === undefined || r.timeNs < until));
  const rotated = `${path}.1`;
  const olderSize = fileSize(rotated);
  let cursor: LogCursor;
  if (opts.tail !== undefined && opts.tail >= 0) {
    // Stop at the last complete record now in the file; the cursor continues from there.
    const end = completeEnd(path, Math.max(0, fileSize(path)));
    const files = [{ path: rotated, size: olderSize }, { path, size: end }].filter((f) => f.size > 0);
    if (opts.tail > 0) yield keep(tailRecords(files, opts.tail));
    cursor = new LogCursor(path, end);
  } else {
    if (olderSize > 0) {
      const older = new LogCursor(rotated, 0, false);
      try {
        for (const batch of older.read()) yield keep(batch);
      } finally {
        older.close();
      }
    }
    cursor = new LogCursor(path, 0);
  }
  try {
    if (!opts.follow) {
      for (const batch of cursor.read()) yield keep(batch);
      return;
    }
    yield* follow(cursor, path, opts, keep);
  } finally {
    cursor.close();
  }
}

/** Reads what the cursor finds each time the directory changes (or every 500 ms), until stopped. */
async function* follow(cursor: LogCursor, path: string, opts: LogReadOptions, keep: (b: LogRecord[]) => LogRecord[]): AsyncGenerator<LogRecord[]> {
  let stopped = false, dirty = false;
  let wake = () => { dirty = true; };
  const poke = () => wake();
  opts.stop?.then(() => { stopped = true; poke(); }, () => { stopped = true; poke(); });
  const onAbort = () => { stopped = true; poke(); };
  opts.signal?.addEventListener("abort", onAbort);
  let watcher: FSWatcher | undefined;
  try {
    const name = basename(path);
    watcher = watch(dirname(path), (_e, file) => { if (file === null || file === name) poke(); });
  } catch {}
  try {
    for (;;) {
      const wasStopped = stopped || opts.signal?.aborted === true;
      dirty = false;
      for (const batch of cursor.read()) yield keep(batch);
      if (wasStopped) return;
      if (dirty || stopped) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { wake = () => { dirty = true; }; resolve(); }, 500);
        wake = () => { clearTimeout(t); wake = () => { dirty = true; }; resolve(); };
      });
    }
  } finally {
    watcher?.close();
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

export interface LogWriteOptions extends LogReadOptions {
  /** Prefix each line with its RFC3339Nano time (docker's -t). */
  timestamps?: boolean;
}

export interface LogSink {
  stdout: (data: Uint8Array) => void;
  stderr: (data: Uint8Array) => void;
}

const NL = Buffer.from("\n");

/** `berth logs`: the container's output as it was written, each stream to its own sink. One
 *  sink call per run of same-stream records in a batch, not per line. */
export async function writeLogs(path: string, opts: LogWriteOptions, sink: LogSink): Promise<void> {
  const midLine = { stdout: false, stderr: false };
  let parts: Buffer[] = [];
  let current: StreamName = "stdout";
  const flush = () => {
    if (parts.length > 0) sink[current](parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    parts = [];
  };
  for await (const batch of readLogBatches(path, opts)) {
    for (const r of batch) {
      if (r.stream !== current) { flush(); current = r.stream; }
      if (opts.timestamps && !midLine[r.stream]) parts.push(Buffer.from(`${r.time} `));
      parts.push(r.text);
      if (!r.partial) parts.push(NL);
      midLine[r.stream] = r.partial;
      if (parts.length >= 8192) flush();
    }
    flush();
  }
}

// ---- attach ----

/** Client -> monitor frame kinds (see native/monitor/attach.c). */
const KIND_STDIN = 0, KIND_RESIZE = 1, KIND_CLOSE_STDIN = 2;

/** Docker's stdcopy frame, which the monitor speaks both ways: a kind byte (stdout 1, stderr 2;
 *  to the monitor the KIND_* above), 3 zero bytes, the big-endian length, the payload. */
export function muxFrame(kind: number, payload: Uint8Array): Buffer {
  const f = Buffer.allocUnsafe(8 + payload.length);
  f.writeUInt32BE(0, 0);
  f[0] = kind;
  f.writeUInt32BE(payload.length, 4);
  f.set(payload, 8);
  return f;
}

/** Demultiplexes the monitor's stdcopy-framed output (pipes mode). */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly emit: (stream: StreamName, data: Buffer) => void) {}
  push(chunk: Uint8Array): void {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      this.emit(this.buf[0] === 2 ? "stderr" : "stdout", this.buf.subarray(8, 8 + len));
      this.buf = this.buf.subarray(8 + len);
    }
  }
}

export interface AttachOptions {
  /** The container has a terminal: output is raw, not framed. */
  tty: boolean;
  onOutput: (stream: StreamName, data: Uint8Array) => void;
}

export interface AttachSession {
  /** Bytes for the container's stdin (ignored by the monitor unless it runs with --stdin). */
  write(data: Uint8Array | string): void;
  /** The container reads EOF on stdin (pipes; a terminal keeps its stdin). */
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  /** Disconnect; the container keeps running. */
  detach(): void;
  /** Resolves when the connection ends: the container exited, or detach(). */
  closed: Promise<void>;
}

/** sun_path holds 107 bytes; reach a longer socket path through its directory's fd. */
function shortSocketPath(path: string): { path: string; release: () => void } {
  if (Buffer.byteLength(path) < 108) return { path, release: () => {} };
  const fd = openSync(dirname(path), "r");
  return { path: `/proc/self/fd/${fd}/${basename(path)}`, release: () => closeSync(fd) };
}

export async function attach(socketPath: string, opts: AttachOptions): Promise<AttachSession> {
  const decoder = opts.tty ? null : new FrameDecoder((s, d) => opts.onOutput(s, d));
  const queue: Buffer[] = [];
  let ended = false;
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((r) => { resolveClosed = r; });
  const where = shortSocketPath(socketPath);
  let socket: Awaited<ReturnType<typeof Bun.connect>>;
  try {
    socket = await Bun.connect({
      unix: where.path,
      socket: {
        data(_s, chunk) {
          if (decoder) decoder.push(chunk);
          else opts.onOutput("stdout", chunk);
        },
        drain(s) { flush(s); },
        close() { ended = true; resolveClosed(); },
        error() { ended = true; resolveClosed(); },
      },
    });
  } catch (e) {
    throw new Error(`attach: cannot connect to ${socketPath} (${(e as Error).message}); is the container running?`);
  } finally {
    where.release();
  }
  function flush(s: typeof socket) {
    while (queue.length > 0) {
      const head = queue[0]!;
      const n = s.write(head);
      if (n < head.length) {
        queue[0] = head.subarray(Math.max(0, n));
        return;
      }
      queue.shift();
    }
  }
  const send = (b: Buffer) => {
    if (ended) return;
    queue.push(b);
    flush(socket);
  };
  return {
    write(data) {
      const bytes = typeof data === "string" ? Buffer.from(data) : data;
      // Frames stay well under the monitor's read size, so one frame never stalls on stdin.
      for (let i = 0; i < bytes.length; i += 8192) send(muxFrame(KIND_STDIN, bytes.subarray(i, i + 8192)));
    },
    closeStdin() { send(muxFrame(KIND_CLOSE_STDIN, new Uint8Array(0))); },
    resize(rows, cols) {
      const p = Buffer.alloc(4);
      p.writeUInt16BE(rows, 0);
      p.writeUInt16BE(cols, 2);
      send(muxFrame(KIND_RESIZE, p));
    },
    detach() { socket.end(); },
    closed,
  };
}
