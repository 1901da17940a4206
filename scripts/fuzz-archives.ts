#!/usr/bin/env bun
// A mutation fuzzer for the tar reader and the archive importers (issue 18, item 5).
//
//   bun scripts/fuzz-archives.ts [--duration SECONDS] [--seed N] [--timeout MS] [--out DIR] [--jobs N]
//   bun scripts/fuzz-archives.ts --replay DIR [--json] [--timeout MS]
//
// Fuzzing: seed archives are built in memory (root filesystem tars with every entry kind, PAX and
// GNU long names, base-256 numbers, global PAX headers; gzip and zstd layers; docker-archives,
// legacy and docker 25+; OCI layouts with nested indexes). Each case is a seed mutated at one of
// two levels — bytes (bit flips, boundary values written over bytes and over header fields with
// the checksum fixed or not, truncation, splicing two cases, blocks inserted, dropped, repeated)
// or structure (a hostile tar generated from random entries and PAX records; a JSON document of
// an archive mutated node by node; a layer inside an archive replaced by a mutated one) — and fed
// to a target: "tar" (TarReader alone, in random chunk sizes), "import" (rootfsImporter) or
// "load" (archiveImporter). Cases that give an outcome not seen before (error class and message,
// numbers and paths taken out) join the pool that later cases mutate: feedback by outcome.
//
// Cases run in a child process, so a hang (even a synchronous loop) is caught by a per-case
// timeout and a crash by the child's death. A finding is: a hang; a crash; an unexpected
// exception (TypeError, RangeError, SyntaxError…, or an unhandled rejection: the code did not
// foresee the input); something left behind (an image, a snapshot or a temp file after a failed
// case, a temp file after a good one); or a file written outside the store. Each finding is saved
// once per outcome as TARGET-KIND-HASH.tar in --out (default tests/image/fixtures/tar-crashers/),
// the corpus that tests/image/tar-crashers.test.ts replays. --replay runs every file of a
// directory that way (through its own target, the other importer, and the reader alone in 7-byte
// chunks) and exits 1 if any is still a finding.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";

const repo = path.resolve(import.meta.dir, "..");
const SELF = path.join(repo, "scripts/fuzz-archives.ts");
const DEFAULT_OUT = path.join(repo, "tests/image/fixtures/tar-crashers");
const enc = new TextEncoder();

type Target = "tar" | "import" | "load";
const TARGETS: Target[] = ["tar", "import", "load"];

interface CaseResult {
  outcome: "ok" | "error" | "unexpected" | "leak" | "escape" | "hang" | "crash";
  errorClass?: string;
  message?: string;
}

// ---------------------------------------------------------------------------------------------
// The child: runs one case at a time, read as JSON lines {file, target, chunk} on stdin.

async function child(root: string): Promise<void> {
  const { openImageStore } = await import("../src/image/store.ts");
  const { archiveImporter, rootfsImporter } = await import("../src/image/importers.ts");
  const { TarReader } = await import("../src/storage/tar.ts");
  const storeRoot = path.join(root, "store");
  const outside = path.join(root, "outside");
  fs.mkdirSync(outside, { recursive: true });
  fs.writeFileSync(path.join(outside, "sentinel"), "untouched");
  fs.utimesSync(outside, 1000, 1000);
  const store = openImageStore(storeRoot, { durable: false });
  const tmp = path.join(storeRoot, "tmp");
  let unhandled: unknown = null;
  process.on("unhandledRejection", (e) => (unhandled ??= e));
  process.on("uncaughtException", (e) => (unhandled ??= e));

  const reply = (r: CaseResult) => process.stdout.write(JSON.stringify(r) + "\n");

  for await (const line of console) {
    if (!line.trim()) continue;
    const { file, target, chunk } = JSON.parse(line) as { file: string; target: Target; chunk: number };
    unhandled = null;
    let err: unknown = null;
    try {
      if (target === "tar") {
        const bytes = fs.readFileSync(file);
        let size = 0;
        const r = new TarReader({ entry: (e) => void (size += e.name.length), data: (c) => void (size += c.length), endEntry: () => {} });
        for (let i = 0; i < bytes.length && !r.done; i += chunk) r.push(bytes.subarray(i, i + chunk));
        r.finish();
      } else if (target === "import") {
        await rootfsImporter(file).run(store, { names: ["localhost/fuzz:1"] });
      } else {
        await archiveImporter(file).run(store);
      }
    } catch (e) {
      err = e;
    }
    await Bun.sleep(0); // let a stray rejection of this case surface now
    let result: CaseResult = err === null ? { outcome: "ok" } : classify(err);
    if (unhandled !== null && result.outcome !== "unexpected") result = { ...classify(unhandled), outcome: "unexpected", errorClass: `unhandled ${classify(unhandled).errorClass}` };
    if (target !== "tar") {
      // what a case may leave: after a failure nothing; after success its image (removed here)
      const left: string[] = [];
      if (err !== null && store.list().length) left.push(`${store.list().length} image(s)`);
      if (err !== null && store.snapshots.list().length) left.push(`${store.snapshots.list().length} snapshot(s)`);
      const temp = fs.existsSync(tmp) ? fs.readdirSync(tmp) : [];
      if (temp.length) left.push(`temp files ${temp.join(",")}`);
      if (left.length && (result.outcome === "ok" || result.outcome === "error")) result = { outcome: "leak", errorClass: result.errorClass ?? "none", message: `left behind: ${left.join("; ")}${result.message ? ` (after: ${result.message})` : ""}` };
      const escaped = fs.readdirSync(root).filter((n) => n !== "store" && n !== "outside");
      const outsideNow = fs.readdirSync(outside);
      if (escaped.length || outsideNow.join() !== "sentinel" || fs.statSync(outside).mtimeMs !== 1_000_000) {
        result = { outcome: "escape", errorClass: result.errorClass ?? "none", message: `written outside the store: ${[...escaped, ...outsideNow].join(",")}` };
      }
      for (const img of store.list()) await store.remove(img.id, { force: true }).catch(() => {});
      await store.prune({ all: true }).catch(() => {});
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.mkdirSync(tmp, { recursive: true });
      for (const n of escaped) fs.rmSync(path.join(root, n), { recursive: true, force: true });
      if (result.outcome === "escape") {
        fs.rmSync(outside, { recursive: true, force: true });
        fs.mkdirSync(outside);
        fs.writeFileSync(path.join(outside, "sentinel"), "untouched");
        fs.utimesSync(outside, 1000, 1000);
      }
    }
    reply(result);
  }
}

const UNEXPECTED_CLASSES = new Set(["TypeError", "RangeError", "SyntaxError", "ReferenceError", "EvalError", "URIError", "AggregateError"]);
// what the engine says when code met a value it did not foresee (quoted archive contents aside)
const UNEXPECTED_WORDS = /undefined is not|null is not|is not a function|\(evaluating '|Cannot read propert|Maximum call stack|out of memory|\bNaN\b|\bundefined\b|\[object Object\]/;

/** A clean error is one of ours (or a system error) with a message that says something. */
function classify(e: unknown): CaseResult {
  if (!(e instanceof Error)) return { outcome: "unexpected", errorClass: typeof e, message: String(e) };
  const cls = e.constructor?.name ?? "Error";
  const ours = e.message.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  if (UNEXPECTED_CLASSES.has(cls) || UNEXPECTED_WORDS.test(ours) || e.message.trim() === "") {
    return { outcome: "unexpected", errorClass: cls, message: `${e.message}\n${(e.stack ?? "").split("\n").slice(1, 6).join("\n")}` };
  }
  return { outcome: "error", errorClass: cls, message: e.message };
}

// ---------------------------------------------------------------------------------------------
// The parent side: a pool of children, each running one case at a time under a timeout.

class Runner {
  private proc!: ReturnType<typeof Bun.spawn>;
  private lines: string[] = [];
  private buf = "";
  private wake: (() => void) | null = null;
  private dead = false;
  private root = "";

  constructor(private timeoutMs: number) {
    this.start();
  }

  private start(): void {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), "berth-fuzz-"));
    this.dead = false;
    this.lines = [];
    this.buf = "";
    this.proc = Bun.spawn([process.execPath, SELF, "--child", this.root], { stdin: "pipe", stdout: "pipe", stderr: "ignore" });
    const proc = this.proc;
    void (async () => {
      const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.buf += dec.decode(value, { stream: true });
        let nl: number;
        while ((nl = this.buf.indexOf("\n")) >= 0) {
          this.lines.push(this.buf.slice(0, nl));
          this.buf = this.buf.slice(nl + 1);
        }
        this.wake?.();
      }
      if (proc === this.proc) this.dead = true;
      this.wake?.();
    })();
  }

  private async restart(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
    fs.rmSync(this.root, { recursive: true, force: true }); // the killed child's store and files
    this.start();
  }

  async run(file: string, target: Target, chunk: number): Promise<CaseResult> {
    (this.proc.stdin as import("bun").FileSink).write(JSON.stringify({ file, target, chunk }) + "\n");
    (this.proc.stdin as import("bun").FileSink).flush();
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const line = this.lines.shift();
      if (line !== undefined) return JSON.parse(line) as CaseResult;
      if (this.dead) {
        const code = await this.proc.exited;
        const signal = this.proc.signalCode;
        await this.restart();
        return { outcome: "crash", message: `the child exited (${signal ?? code}) during the case` };
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        await this.restart();
        return { outcome: "hang", message: `no answer within ${this.timeoutMs} ms` };
      }
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.wake = () => {
          clearTimeout(t);
          res();
        };
      });
      this.wake = null;
    }
  }

  async close(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Randomness (seeded, so a run can be repeated) and tar building blocks.

class Rng {
  constructor(private s: number) {}
  next(): number {
    // mulberry32
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

const BLOCK = 512;
const FIELDS: Record<string, [number, number]> = {
  name: [0, 100], mode: [100, 8], uid: [108, 8], gid: [116, 8], size: [124, 12], mtime: [136, 12], chksum: [148, 8],
  typeflag: [156, 1], linkname: [157, 100], magic: [257, 6], version: [263, 2], devmajor: [329, 8], devminor: [337, 8], prefix: [345, 155],
};

function pad(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(b.length / BLOCK) * BLOCK);
  out.set(b);
  return out;
}

function fixChecksum(h: Uint8Array, off = 0): void {
  h.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[off + i]!;
  h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), off + 148);
}

function octalField(v: number, len: number): Uint8Array {
  return enc.encode(v.toString(8).padStart(len - 1, "0") + "\0");
}

function base256(v: bigint, len: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = v < 0n ? (1n << BigInt(len * 8)) + v : v;
  for (let i = len - 1; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (v >= 0n) b[0] = (b[0]! & 0x7f) | 0x80;
  return b;
}

interface RawEntry {
  name: string;
  flag: string;         // typeflag character
  data?: Uint8Array;
  size?: Uint8Array;    // raw size field (overrides the data length)
  linkname?: string;
  mode?: number;
  uid?: Uint8Array;
  gid?: Uint8Array;
  mtime?: Uint8Array;
  dev?: [number, number];
  prefix?: string;
}

function rawHeader(e: RawEntry): Uint8Array {
  const h = new Uint8Array(BLOCK);
  h.set(enc.encode(e.name).subarray(0, 100), 0);
  h.set(octalField(e.mode ?? 0o644, 8), 100);
  h.set(e.uid ?? octalField(0, 8), 108);
  h.set(e.gid ?? octalField(0, 8), 116);
  h.set(e.size ?? octalField(e.data?.length ?? 0, 12), 124);
  h.set(e.mtime ?? octalField(1700000000, 12), 136);
  h[156] = e.flag.charCodeAt(0);
  h.set(enc.encode(e.linkname ?? "").subarray(0, 100), 157);
  h.set(enc.encode("ustar\u000000"), 257);
  if (e.dev) {
    h.set(octalField(e.dev[0], 8), 329);
    h.set(octalField(e.dev[1], 8), 337);
  }
  if (e.prefix) h.set(enc.encode(e.prefix).subarray(0, 155), 345);
  fixChecksum(h);
  return h;
}

function paxRecords(records: Array<[string, string | Uint8Array]>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [k, v] of records) {
    const value = typeof v === "string" ? enc.encode(v) : v;
    const body = 3 + enc.encode(k).length + value.length;
    let len = body + 1;
    while (String(len).length + body !== len) len = String(len).length + body;
    parts.push(enc.encode(`${len} ${k}=`), value, enc.encode("\n"));
  }
  return Buffer.concat(parts);
}

function rawTar(entries: RawEntry[], end = true): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    parts.push(rawHeader(e));
    if (e.data?.length) parts.push(pad(e.data));
  }
  if (end) parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

/** PAX ('x' or 'g') header with its records, as entries. */
function pax(kind: "x" | "g", records: Array<[string, string | Uint8Array]>): RawEntry {
  return { name: kind === "g" ? "pax_global_header" : "PaxHeaders/x", flag: kind, data: paxRecords(records) };
}

function gnuLong(kind: "L" | "K", value: string): RawEntry {
  return { name: "././@LongLink", flag: kind, data: enc.encode(value + "\0") };
}

// ---------------------------------------------------------------------------------------------
// Seeds.

interface FileSpec {
  name: string;
  data?: Uint8Array;
  flag?: string;
  linkname?: string;
}

interface ArchiveSeed {
  label: string;
  files: FileSpec[];
  layers: Map<string, { tar: Uint8Array; compression: "none" | "gzip" | "zstd" }>; // by file name
}

function compress(tar: Uint8Array, c: "none" | "gzip" | "zstd"): Uint8Array {
  return c === "gzip" ? gzipSync(tar) : c === "zstd" ? zstdCompressSync(tar) : tar;
}

function rootfsSeeds(rng: Rng): Array<{ label: string; bytes: Uint8Array }> {
  const long = "d/" + "n".repeat(120);
  const tree = rawTar([
    { name: "bin/", flag: "5", mode: 0o755 },
    { name: "bin/sh", flag: "0", data: enc.encode("#!/bin/busybox\n"), mode: 0o755 },
    { name: "etc/", flag: "5", mode: 0o755 },
    { name: "etc/passwd", flag: "0", data: enc.encode("root:x:0:0::/root:/bin/sh\n") },
    { name: "etc/hardlink", flag: "1", linkname: "etc/passwd" },
    { name: "usr/lib/", flag: "5", mode: 0o755 },
    { name: "lib/libfoo.so.1", flag: "0", data: enc.encode("ELF") },
    { name: "usr/lib/libfoo.so", flag: "2", linkname: "../../../../lib/libfoo.so.1" },
    { name: "abs", flag: "2", linkname: "/etc/passwd" },
    { name: "dev/", flag: "5", mode: 0o755 },
    { name: "dev/null", flag: "3", mode: 0o666, dev: [1, 3] },
    { name: "dev/loop0", flag: "4", mode: 0o660, dev: [7, 0] },
    { name: "fifo", flag: "6" },
    { name: "etc/.wh.shadow", flag: "0" },
    { name: "opt/", flag: "5" },
    { name: "opt/.wh..wh..opq", flag: "0" },
    { name: "setuid", flag: "0", data: enc.encode("x"), mode: 0o4755 },
    { name: "nested/dir/", flag: "5", prefix: "pre" },
  ]);
  const paxTree = rawTar([
    pax("g", [["mtime", "1700000000.5"], ["comment", "global"]]),
    pax("x", [["path", long], ["uid", "70000"], ["gid", "70000"], ["mtime", "1700000000.123456789"], ["SCHILY.xattr.user.k", "v"], ["SCHILY.xattr.security.capability", new Uint8Array([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]]),
    { name: "placeholder", flag: "0", data: enc.encode("pax file") },
    pax("x", [["linkpath", "l".repeat(150)]]),
    { name: "longlink", flag: "2", linkname: "x" },
    pax("x", [["size", "11"]]),
    { name: "sized", flag: "0", data: enc.encode("hello world"), size: octalField(0, 12) },
  ]);
  const gnuTree = rawTar([
    gnuLong("L", "g/" + "x".repeat(200)),
    { name: "trunc", flag: "0", data: enc.encode("gnu long name") },
    gnuLong("K", "/" + "y".repeat(150)),
    gnuLong("L", "gnu-link"),
    { name: "t", flag: "2", linkname: "t" },
    { name: "b256", flag: "0", data: enc.encode("base-256"), size: base256(8n, 12), uid: base256(3000000n, 8), gid: base256(0n, 8), mtime: base256(-1n, 12) },
  ]);
  const random = makeRandomTar(rng);
  const noEnd = rawTar([{ name: "a", flag: "0", data: enc.encode("no end marker") }], false);
  return [
    { label: "tree", bytes: tree },
    { label: "pax", bytes: paxTree },
    { label: "gnu", bytes: gnuTree },
    { label: "random", bytes: random },
    { label: "noend", bytes: noEnd },
    { label: "empty", bytes: new Uint8Array(1024) },
    { label: "tree.gz", bytes: gzipSync(tree) },
    { label: "pax.zst", bytes: zstdCompressSync(paxTree) },
  ];
}

function archiveSeeds(rng: Rng): ArchiveSeed[] {
  const arch = process.arch === "arm64" ? "arm64" : "amd64";
  const layerA = rawTar([{ name: "etc/", flag: "5" }, { name: "etc/os-release", flag: "0", data: enc.encode("ID=fuzz\n") }, { name: "usr/lib/l.so", flag: "2", linkname: "../../../../lib/l.so.1" }]);
  const layerB = rawTar([pax("x", [["path", "p/" + "q".repeat(110)]]), { name: "x", flag: "0", data: enc.encode("second") }, { name: "etc/.wh.os-release", flag: "0" }]);
  const sha = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");
  const config = (layers: Uint8Array[]) => enc.encode(JSON.stringify({ architecture: arch, os: "linux", config: { Cmd: ["/bin/sh"] }, rootfs: { type: "layers", diff_ids: layers.map((l) => `sha256:${sha(l)}`) }, history: layers.map(() => ({ created_by: "fuzz" })) }));
  const out: ArchiveSeed[] = [];

  // docker-archive, legacy layout; config named without its digest so mutating it reaches the parser
  {
    const cfg = config([layerA, layerB]);
    const layers = new Map([["a/layer.tar", { tar: layerA, compression: "none" as const }], ["b/layer.tar", { tar: layerB, compression: "gzip" as const }]]);
    out.push({
      label: "docker-legacy", layers,
      files: [
        { name: "config.json", data: cfg },
        { name: "a/", flag: "5" }, { name: "a/layer.tar", data: layerA },
        { name: "b/", flag: "5" }, { name: "b/layer.tar", data: gzipSync(layerB) },
        { name: "b/alias.tar", flag: "2", linkname: "layer.tar" },
        { name: "manifest.json", data: enc.encode(JSON.stringify([{ Config: "config.json", RepoTags: ["localhost/fuzz:1", "fuzz:2"], Layers: ["a/layer.tar", "b/alias.tar"] }])) },
        { name: "repositories", data: enc.encode(JSON.stringify({ fuzz: { "1": sha(layerB) } })) },
      ],
    });
  }

  // OCI layout (and docker 25+: the same plus manifest.json), zstd and gzip layers, a nested index
  for (const docker of [false, true]) {
    const blobs: FileSpec[] = [];
    const layers = new Map<string, { tar: Uint8Array; compression: "none" | "gzip" | "zstd" }>();
    const addBlob = (b: Uint8Array) => {
      const name = `blobs/sha256/${sha(b)}`;
      if (!blobs.some((f) => f.name === name)) blobs.push({ name, data: b });
      return { digest: `sha256:${sha(b)}`, size: b.length, name };
    };
    const la = compress(layerA, "zstd"), lb = compress(layerB, "gzip");
    const da = addBlob(la), db = addBlob(lb);
    layers.set(da.name, { tar: layerA, compression: "zstd" });
    layers.set(db.name, { tar: layerB, compression: "gzip" });
    const cfg = addBlob(config([layerA, layerB]));
    const manifest = enc.encode(JSON.stringify({
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: cfg.digest, size: cfg.size },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: da.digest, size: da.size }, { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: db.digest, size: db.size }],
    }));
    const m = addBlob(manifest);
    const nested = enc.encode(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: m.digest, size: m.size, platform: { os: "linux", architecture: arch } }] }));
    const n = addBlob(nested);
    const index = {
      schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { mediaType: "application/vnd.oci.image.index.v1+json", digest: n.digest, size: n.size, annotations: { "io.containerd.image.name": "localhost/fuzz:oci" } },
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: m.digest, size: m.size, annotations: { "org.opencontainers.image.ref.name": "localhost/fuzz:ref" } },
      ],
    };
    const files: FileSpec[] = [{ name: "blobs/", flag: "5" }, { name: "blobs/sha256/", flag: "5" }, ...blobs, { name: "index.json", data: enc.encode(JSON.stringify(index)) }, { name: "oci-layout", data: enc.encode('{"imageLayoutVersion":"1.0.0"}') }];
    if (docker) files.push({ name: "manifest.json", data: enc.encode(JSON.stringify([{ Config: cfg.name, RepoTags: ["fuzz:docker"], Layers: [da.name, db.name] }])) });
    out.push({ label: docker ? "docker-oci" : "oci", files, layers });
  }

  // a gzip layer big enough that zlib pushes back (the class of the load hang of issue 18)
  {
    const big = rawTar([{ name: "rand", flag: "0", data: rng.bytes(40 << 10) }]); // > zlib's 16 kB buffer
    const cfg = config([big]);
    out.push({
      label: "docker-gzip-big", layers: new Map([["layer.tar.gz", { tar: big, compression: "gzip" as const }]]),
      files: [{ name: "config.json", data: cfg }, { name: "layer.tar.gz", data: gzipSync(big) }, { name: "manifest.json", data: enc.encode(JSON.stringify([{ Config: "config.json", RepoTags: ["fuzz:big"], Layers: ["layer.tar.gz"] }])) }],
    });
  }
  return out;
}

function buildArchive(files: FileSpec[]): Uint8Array {
  return rawTar(files.map((f) => ({ name: f.name, flag: f.flag ?? "0", ...(f.data ? { data: f.data } : {}), ...(f.linkname !== undefined ? { linkname: f.linkname } : {}), mode: f.flag === "5" ? 0o755 : 0o644 })));
}

// ---------------------------------------------------------------------------------------------
// Mutations.

const HOSTILE_NUMBERS = ["-1", "-512", "-1024", "-513", "-0", "0", "1", "511", "512", "513", "1.5", "1e3", "0x10", "+5", " 5", "5 ", "NaN", "Infinity", "", "9007199254740991", "9007199254740993", "99999999999999999999", "4294967295", "4294967294", "2147483648", "077", "1".repeat(400)];
const HOSTILE_OCTAL = ["77777777777", "00000000000", "-0000000001", "        ", "\0\0\0\0", "8", "0000000000x", " 1 2 3", "7".repeat(12), "1e10"];
const HOSTILE_NAMES = ["", ".", "..", "/", "../x", "a/../../x", "/etc/x", "a//b", "a/./b", "a\0b", ".wh.", ".wh..", ".wh...", ".wh..wh..opq", "a/.wh..wh..opq/x", "x".repeat(300), "é/ü", "\u00ff\u00fe", "dev/null/x", "bin/sh/x", "usr/lib/libfoo.so/x"];
const PAX_KEYS = ["path", "linkpath", "size", "uid", "gid", "mtime", "atime", "ctime", "uname", "gname", "SCHILY.xattr.user.x", "SCHILY.xattr.", "SCHILY.xattr.trusted.overlay.redirect", "SCHILY.xattr.security.capability", "GNU.sparse.map", "LIBARCHIVE.xattr.user.y", "", "=", "comment", "hdrcharset"];

function makeRandomTar(rng: Rng): Uint8Array {
  const entries: RawEntry[] = [];
  const n = 1 + rng.int(8);
  for (let i = 0; i < n; i++) {
    if (rng.chance(0.35)) {
      const recs: Array<[string, string]> = [];
      for (let j = 0, m = 1 + rng.int(3); j < m; j++) {
        const key = rng.chance(0.5) ? rng.pick(["size", "uid", "gid", "mtime"]) : rng.pick(PAX_KEYS);
        const value = ["size", "uid", "gid", "mtime", "atime"].includes(key) ? rng.pick(HOSTILE_NUMBERS) : rng.pick(HOSTILE_NAMES);
        recs.push([key, value]);
      }
      const body = paxRecords(recs);
      if (rng.chance(0.2)) body[rng.int(body.length)] = rng.pick([0x20, 0x0a, 0x3d, 0x30, 0x00]); // a broken record
      entries.push({ name: "pax", flag: rng.chance(0.3) ? "g" : "x", data: body });
    }
    if (rng.chance(0.1)) entries.push(gnuLong(rng.chance(0.5) ? "L" : "K", rng.pick(HOSTILE_NAMES)));
    const flag = rng.pick(["0", "0", "0", "5", "2", "1", "3", "4", "6", "7", "\0", "S", "V", "g", "x", "L", "K", "Z"]);
    const data = flag === "0" || rng.chance(0.1) ? rng.bytes(rng.pick([0, 1, 511, 512, 513, 2000])) : undefined;
    const e: RawEntry = { name: rng.pick(HOSTILE_NAMES.concat(["f", "d/", "d/f", "l", "h", "lib/x"])), flag, ...(data ? { data } : {}) };
    if (flag === "1" || flag === "2") e.linkname = rng.pick(HOSTILE_NAMES.concat(["f", "d/f", "/", "../../../../etc/passwd"]));
    if (rng.chance(0.2)) e.size = rng.chance(0.5) ? enc.encode(rng.pick(HOSTILE_OCTAL).padEnd(12, "\0").slice(0, 12)) : base256(BigInt(rng.pick([-1, -512, 2 ** 53, 2 ** 40, 7])), 12);
    if (rng.chance(0.1)) e.uid = base256(BigInt(rng.pick([-1, 2 ** 32, 2 ** 32 - 1, 2 ** 53])), 8);
    if (rng.chance(0.1)) e.mtime = rng.chance(0.5) ? base256(BigInt(rng.pick([-1, -(2 ** 50), 2 ** 50])), 12) : enc.encode(rng.pick(HOSTILE_OCTAL).padEnd(12, "\0").slice(0, 12));
    if (flag === "3" || flag === "4") e.dev = [rng.pick([0, 1, 7, 0o7777777]), rng.pick([0, 3, 0o7777777])];
    if (rng.chance(0.1)) e.mode = rng.pick([0, 0o7777, 0o777777]);
    if (rng.chance(0.1)) e.prefix = rng.pick(HOSTILE_NAMES);
    entries.push(e);
  }
  return rawTar(entries, rng.chance(0.9));
}

/** Offsets of blocks that look like headers (a valid checksum), for field-level mutations. */
function headerOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let off = 0; off + BLOCK <= b.length; off += BLOCK) {
    if (b[off + 257] === 0x75 && b[off + 258] === 0x73 && b[off + 259] === 0x74) out.push(off);
  }
  return out;
}

function mutateBytes(rng: Rng, input: Uint8Array, other: () => Uint8Array): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input);
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    if (b.length === 0) b = new Uint8Array(BLOCK);
    switch (rng.int(9)) {
      case 0: { // bit flips
        for (let i = 0, n = 1 + rng.int(8); i < n; i++) b[rng.int(b.length)]! ^= 1 << rng.int(8);
        break;
      }
      case 1: { // interesting bytes
        for (let i = 0, n = 1 + rng.int(4); i < n; i++) b[rng.int(b.length)] = rng.pick([0, 0xff, 0x7f, 0x80, 0x2d, 0x20, 0x39, 0x30, 0x0a, 0x3d, 0x2f, 0x2e]);
        break;
      }
      case 2:
      case 3:
      case 4: { // a header field overwritten with a boundary value, checksum usually fixed
        const hs = headerOffsets(b);
        if (!hs.length) break;
        const off = rng.pick(hs);
        const [fo, fl] = FIELDS[rng.pick(Object.keys(FIELDS))]!;
        let v: Uint8Array;
        const kind = rng.int(5);
        if (kind === 0) v = enc.encode(rng.pick(HOSTILE_OCTAL));
        else if (kind === 1) v = base256(BigInt(rng.pick([-1, -512, 0, 1, 2 ** 31, 2 ** 32, 2 ** 53 + 1, 2 ** 62])), fl);
        else if (kind === 2) v = enc.encode(rng.pick(HOSTILE_NAMES));
        else if (kind === 3) v = new Uint8Array(fl).fill(rng.pick([0, 0x20, 0x37, 0xff]));
        else v = enc.encode(rng.pick(["x", "g", "L", "K", "0", "1", "2", "5", "S", "\0"]));
        const field = new Uint8Array(fl);
        field.set(v.subarray(0, fl));
        b.set(field, off + fo);
        if (fo !== 148 && rng.chance(0.85)) fixChecksum(b, off);
        break;
      }
      case 5: { // truncation, often on a block boundary
        const at = rng.chance(0.5) ? rng.int(Math.ceil(b.length / BLOCK)) * BLOCK : rng.int(b.length);
        b = b.subarray(0, at);
        break;
      }
      case 6: { // splice with another case
        const o = other();
        const a = rng.chance(0.5) ? rng.int(Math.ceil(b.length / BLOCK) + 1) * BLOCK : rng.int(b.length + 1);
        const c = rng.chance(0.5) ? rng.int(Math.ceil(o.length / BLOCK) + 1) * BLOCK : rng.int(o.length + 1);
        b = Buffer.concat([b.subarray(0, a), o.subarray(Math.min(c, o.length))]);
        break;
      }
      case 7: { // a block dropped or repeated
        const blocks = Math.floor(b.length / BLOCK);
        if (!blocks) break;
        const i = rng.int(blocks) * BLOCK;
        b = rng.chance(0.5) ? Buffer.concat([b.subarray(0, i), b.subarray(i + BLOCK)]) : Buffer.concat([b.subarray(0, i + BLOCK), b.subarray(i, i + BLOCK), b.subarray(i + BLOCK)]);
        break;
      }
      case 8: { // random bytes inserted
        const i = rng.int(b.length + 1);
        b = Buffer.concat([b.subarray(0, i), rng.bytes(1 + rng.int(600)), b.subarray(i)]);
        break;
      }
    }
  }
  return b;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const JSON_VALUES: Array<() => Json | string> = [
  () => null, () => true, () => 0, () => -1, () => 1.5, () => 2 ** 53 + 2, () => "", () => "x", () => "sha256:" + "0".repeat(64), () => "../../etc/passwd",
  () => [], () => ({}), () => "localhost/x:1", () => ({ os: "linux", architecture: "amd64" }), () => "x".repeat(5000),
  () => "RAW:1e999", () => "RAW:" + "[".repeat(20000) + "]".repeat(20000), () => "RAW:{\"__proto__\":{\"a\":1}}",
];

/** Replaces one random node of a JSON document (the raw text may not even be JSON). */
function mutateJson(rng: Rng, bytes: Uint8Array): Uint8Array {
  try {
    return mutateJsonNode(rng, bytes);
  } catch {
    return mutateBytes(rng, bytes, () => bytes); // a document too deep to handle here
  }
}

function mutateJsonNode(rng: Rng, bytes: Uint8Array): Uint8Array {
  let doc: Json;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes)) as Json;
    JSON.stringify(doc); // too deep to write back out: mutate its bytes instead
  } catch {
    return mutateBytes(rng, bytes, () => bytes);
  }
  const nodes: Array<{ parent: Json[] | Record<string, Json>; key: string | number }> = [];
  const walk = (v: Json, depth: number) => {
    if (depth > 64 || nodes.length > 10_000) return; // (a document nested 20000 deep, made by an earlier case)
    if (Array.isArray(v)) v.forEach((x, i) => (nodes.push({ parent: v, key: i }), walk(x, depth + 1)));
    else if (v && typeof v === "object") for (const k of Object.keys(v)) nodes.push({ parent: v, key: k }), walk(v[k]!, depth + 1);
  };
  walk(doc, 0);
  const raws = new Map<string, string>();
  const value = () => {
    const v = rng.pick(JSON_VALUES)();
    if (typeof v === "string" && v.startsWith("RAW:")) {
      const token = `__raw${raws.size}__`;
      raws.set(`"${token}"`, v.slice(4));
      return token;
    }
    return v as Json;
  };
  if (!nodes.length || rng.chance(0.05)) doc = value();
  else {
    const { parent, key } = rng.pick(nodes);
    const op = rng.int(4);
    if (op === 0 && !Array.isArray(parent)) delete (parent as Record<string, Json>)[key as string];
    else if (op === 1 && Array.isArray(parent)) parent.push(...Array.from({ length: rng.pick([1, 2, 100]) }, () => structuredClone(parent[key as number]!)));
    else (parent as Record<string | number, Json>)[key] = value();
  }
  let text = JSON.stringify(doc);
  for (const [token, raw] of raws) text = text.replace(token, raw);
  return enc.encode(text);
}

function mutateArchive(rng: Rng, seed: ArchiveSeed): Uint8Array {
  const files = seed.files.map((f) => ({ ...f }));
  const rounds = 1 + rng.int(2);
  for (let r = 0; r < rounds; r++) {
    const op = rng.int(5);
    if (op <= 1) { // a JSON document
      const jsons = files.filter((f) => f.data && f.data[0] === 0x7b || f.data?.[0] === 0x5b);
      if (jsons.length) {
        const f = rng.pick(jsons);
        f.data = mutateJson(rng, f.data!);
      }
    } else if (op === 2) { // a layer replaced by a mutated (or generated) one, compressed as before
      const names = [...seed.layers.keys()];
      const name = rng.pick(names);
      const f = files.find((x) => x.name === name);
      const layer = seed.layers.get(name)!;
      if (f) f.data = compress(rng.chance(0.3) ? makeRandomTar(rng) : mutateBytes(rng, layer.tar, () => makeRandomTar(rng)), rng.chance(0.9) ? layer.compression : rng.pick(["none", "gzip", "zstd"] as const));
    } else if (op === 3) { // a file dropped, duplicated, renamed or turned into a link
      const i = rng.int(files.length);
      const f = files[i]!;
      const k = rng.int(4);
      if (k === 0) files.splice(i, 1);
      else if (k === 1) files.push({ ...f });
      else if (k === 2) f.name = rng.pick(HOSTILE_NAMES.concat(files.map((x) => x.name)));
      else files.splice(i, 1, { name: f.name, flag: rng.pick(["1", "2"]), linkname: rng.pick(files.map((x) => x.name).concat(["manifest.json", "../manifest.json", f.name])) });
    } else { // a file's bytes mutated
      const withData = files.filter((f) => f.data?.length);
      if (withData.length) {
        const f = rng.pick(withData);
        f.data = mutateBytes(rng, f.data!, () => f.data!);
      }
    }
  }
  const bytes = buildArchive(files);
  return rng.chance(0.25) ? mutateBytes(rng, bytes, () => bytes) : bytes;
}

// ---------------------------------------------------------------------------------------------
// Driving.

function signature(target: Target, r: CaseResult): string {
  const msg = (r.message ?? "").split("\n")[0]!
    .replace(/sha256:[0-9a-f]{64}/g, "D").replace(/[0-9a-f]{12,}/g, "H").replace(/"[^"]*"/g, "S").replace(/'[^']*'/g, "S")
    .replace(/\/[^\s,;:()]+/g, "P").replace(/\d+/g, "N");
  return `${target} ${r.outcome} ${r.errorClass ?? ""} ${msg}`;
}

/**
 * Shrinks a finding while it gives the same outcome: the tail cut, blocks dropped, then bytes
 * zeroed a block at a time (zero blocks compress well in git). Hangs are not shrunk (each try
 * would cost the whole timeout).
 */
async function minimize(runner: Runner, file: string, target: Target, bytes: Uint8Array, sig: string, budget = 150): Promise<Uint8Array> {
  let best = bytes;
  const same = async (b: Uint8Array) => {
    if (budget-- <= 0) return false;
    fs.writeFileSync(file, b);
    return signature(target, await runner.run(file, target, 4096)) === sig;
  };
  for (let cut = Math.floor(best.length / 2); cut >= BLOCK; cut = Math.floor(cut / 2)) {
    while (best.length > cut && (await same(best.subarray(0, best.length - cut)))) best = best.subarray(0, best.length - cut);
  }
  for (let off = Math.floor(best.length / BLOCK) * BLOCK - BLOCK; off >= 0 && budget > 0; off -= BLOCK) {
    const without = Buffer.concat([best.subarray(0, off), best.subarray(off + BLOCK)]);
    if (await same(without)) best = without;
  }
  for (let off = 0; off < best.length && budget > 0; off += BLOCK) {
    const block = best.subarray(off, off + BLOCK);
    if (block.every((x) => x === 0)) continue;
    const zeroed = Uint8Array.from(best);
    zeroed.fill(0, off, off + BLOCK);
    if (await same(zeroed)) best = zeroed;
  }
  return Uint8Array.from(best);
}

function args(): Map<string, string> {
  const m = new Map<string, string>();
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i++) {
    const k = a[i]!;
    if (!k.startsWith("--")) continue;
    const v = a[i + 1] !== undefined && !a[i + 1]!.startsWith("--") ? a[++i]! : "true";
    m.set(k.slice(2), v);
  }
  return m;
}

async function replay(dir: string, timeoutMs: number, json: boolean): Promise<number> {
  const runner = new Runner(timeoutMs);
  const results: Array<{ file: string; target: Target } & CaseResult> = [];
  try {
    for (const name of fs.readdirSync(dir).sort()) {
      const target = name.split("-")[0] as Target;
      if (!TARGETS.includes(target)) continue;
      const file = path.join(dir, name);
      // its own target first, then the other two, then the reader alone in small, odd chunks
      const runs: Array<[Target, number]> = [[target, 4096], ...TARGETS.filter((t) => t !== target && t !== "tar").map((t): [Target, number] => [t, 4096]), ["tar", 7]];
      for (const [t, chunk] of runs) {
        const r = await runner.run(file, t, chunk);
        results.push({ file: name, target: t, ...r });
        if (!json) console.log(`${r.outcome === "ok" || r.outcome === "error" ? "ok  " : "FAIL"} ${name} (${t}): ${r.outcome}${r.message ? ` — ${r.message.split("\n")[0]}` : ""}`);
      }
    }
  } finally {
    await runner.close();
  }
  if (json) console.log(JSON.stringify(results));
  return results.some((r) => r.outcome !== "ok" && r.outcome !== "error") ? 1 : 0;
}

async function fuzz(opts: Map<string, string>): Promise<number> {
  const duration = Number(opts.get("duration") ?? 300) * 1000;
  const seedArg = Number(opts.get("seed") ?? Date.now() % 2 ** 31);
  const timeoutMs = Number(opts.get("timeout") ?? 10_000);
  const outDir = path.resolve(opts.get("out") ?? DEFAULT_OUT);
  const jobs = Math.max(1, Number(opts.get("jobs") ?? 1));
  const rng = new Rng(seedArg);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "berth-fuzz-cases-"));
  fs.mkdirSync(outDir, { recursive: true });
  console.log(`fuzz-archives: seed ${seedArg}, ${duration / 1000} s, timeout ${timeoutMs} ms per case, ${jobs} job(s), findings to ${outDir}`);

  const rootfs = rootfsSeeds(rng);
  const archives = archiveSeeds(rng);
  // the pool of byte strings to mutate, per target (grows with cases that gave a new outcome)
  const pool: Record<Target, Uint8Array[]> = {
    tar: [...rootfs.map((s) => s.bytes).filter((b) => b[0] !== 0x1f && b[0] !== 0x28), ...archives.map((a) => buildArchive(a.files))],
    import: rootfs.map((s) => s.bytes),
    load: archives.map((a) => buildArchive(a.files)),
  };
  const seen = new Map<string, number>();
  const findings = new Map<string, string>();
  let cases = 0;
  const deadline = Date.now() + duration;

  const nextCase = (): { target: Target; bytes: Uint8Array } => {
    const target = rng.pick(TARGETS);
    const other = () => rng.pick(pool[target]);
    let bytes: Uint8Array;
    const how = rng.int(10);
    if (target === "load" && how < 5) bytes = mutateArchive(rng, rng.pick(archives));
    else if (target !== "load" && how < 2) bytes = makeRandomTar(rng);
    else bytes = mutateBytes(rng, rng.pick(pool[target]), other);
    if (target === "import" && rng.chance(0.1)) bytes = compress(bytes, rng.pick(["gzip", "zstd"] as const));
    return { target, bytes };
  };

  const worker = async (id: number) => {
    const runner = new Runner(timeoutMs);
    try {
      while (Date.now() < deadline) {
        const { target, bytes } = nextCase();
        const file = path.join(work, `case-${id}.tar`);
        fs.writeFileSync(file, bytes);
        const r = await runner.run(file, target, 1 + rng.int(4096));
        cases++;
        const sig = signature(target, r);
        const count = seen.get(sig) ?? 0;
        seen.set(sig, count + 1);
        if (count === 0 && pool[target].length < 400) pool[target].push(bytes);
        if (r.outcome !== "ok" && r.outcome !== "error" && !findings.has(sig)) {
          findings.set(sig, "");
          const small = r.outcome === "hang" ? bytes : await minimize(runner, file, target, bytes, sig);
          const hash = new Bun.CryptoHasher("sha256").update(small).digest("hex").slice(0, 12);
          const name = `${target}-${r.outcome}-${hash}.tar`;
          fs.writeFileSync(path.join(outDir, name), small);
          findings.set(sig, name);
          console.log(`FINDING ${name} (${small.length} bytes): ${r.errorClass ?? ""} ${(r.message ?? "").split("\n").slice(0, 3).join(" | ")}`);
        }
        if (cases % 500 === 0) console.log(`… ${cases} cases, ${seen.size} outcomes, ${findings.size} findings`);
      }
    } finally {
      await runner.close();
    }
  };
  await Promise.all(Array.from({ length: jobs }, (_, i) => worker(i)));
  fs.rmSync(work, { recursive: true, force: true });
  console.log(`fuzz-archives: ${cases} cases, ${seen.size} distinct outcomes, ${findings.size} findings`);
  for (const [sig, name] of findings) console.log(`  ${name}  ${sig.slice(0, 160)}`);
  if (opts.has("outcomes")) for (const [sig, n] of [...seen].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(6)}  ${sig.slice(0, 200)}`);
  return findings.size ? 1 : 0;
}

if (import.meta.main) {
  const opts = args();
  if (opts.has("child")) {
    await child(opts.get("child")!);
  } else if (opts.has("replay")) {
    process.exit(await replay(opts.get("replay")!, Number(opts.get("timeout") ?? 20_000), opts.has("json")));
  } else {
    process.exit(await fuzz(opts));
  }
}
