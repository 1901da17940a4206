// Issue 18, items 4, 5, 11 and 12: loads that hung (a gzip layer inside a tar; a lock held while
// waiting on input that never comes), a tar header that made the reader spin, relative symlinks
// that climb above the layer root (harmless: they resolve inside the root when used), and `load`
// naming tags the archive did not carry. The CLI runs as bin/berth, each under a time guard so a
// hang fails the test instead of the run.
import { afterEach, beforeEach, describe, expect, test, setDefaultTimeout } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { archiveImporter, rootfsImporter } from "../../src/image/index.ts";
import { sha256 } from "../../src/storage/digest.ts";
import { mkfifo } from "../../src/sys/libc.ts";
import { listTree, makeTar, type Spec, tempDir, tempStore, writeOciLayout } from "./helpers.ts";

setDefaultTimeout(120_000); // heavy I/O; the machine may be shared

const repo = path.resolve(import.meta.dir, "../..");
const BERTH = path.join(repo, "bin/berth");
const GUARD_MS = Number(process.env.GUARD_MS ?? 90_000); // a command still running after this is hung (each takes well under a second)

let ctx: ReturnType<typeof tempStore>;
let work: string;
beforeEach(() => {
  ctx = tempStore("load-defects");
  work = tempDir("load-defects-work");
});
afterEach(() => {
  ctx.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

interface Run { code: number | null; out: string; err: string; hung: boolean }

function berth(args: string[], opts: { stdin?: "ignore" | ReturnType<typeof Bun.file> | Uint8Array } = {}): Run {
  const r = Bun.spawnSync([BERTH, "--root", ctx.root, ...args], { stdin: opts.stdin ?? "ignore", stdout: "pipe", stderr: "pipe", timeout: GUARD_MS, killSignal: "SIGKILL" });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString(), hung: r.signalCode === "SIGKILL" };
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(b.subarray(o, Math.min(n, o + 65536)));
  return b;
}

/** A docker-archive (legacy layout: manifest.json, a config, one file per layer) written as a tar. */
function dockerArchive(file: string, layers: Uint8Array[], opts: { gzip?: boolean; tags?: string[] } = {}): string {
  const blobs = layers.map((l) => (opts.gzip ? gzipSync(l) : l));
  const config = new TextEncoder().encode(JSON.stringify({
    architecture: process.arch === "arm64" ? "arm64" : "amd64", os: "linux", config: { Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: layers.map((l) => sha256(l)) },
  }));
  const configName = `${sha256(config).slice(7)}.json`;
  const names = blobs.map((_, i) => `layer${i}/layer.tar${opts.gzip ? ".gz" : ""}`);
  const manifest = JSON.stringify([{ Config: configName, RepoTags: opts.tags ?? ["localhost/gz:1"], Layers: names }]);
  fs.writeFileSync(file, makeTar([
    { name: configName, data: config },
    ...blobs.map((b, i) => ({ name: names[i]!, data: b })),
    { name: "manifest.json", data: manifest },
  ]));
  return sha256(config);
}

function expectStoreClean(): void {
  expect(ctx.store.list()).toEqual([]);
  expect(ctx.store.snapshots.list()).toEqual([]);
  expect(fs.readdirSync(path.join(ctx.root, "tmp"))).toEqual([]);
}

describe("item 4: gzip layers inside a tar archive load (they hung in epoll_wait holding gc.lock)", () => {
  const cases: Array<[string, () => Uint8Array]> = [
    ["a 100 KB random layer", () => makeTar([{ name: "rand", data: randomBytes(100 << 10) }])],
    ["a 20 MB zero layer", () => makeTar([{ name: "zero", data: new Uint8Array(20 << 20) }])],
  ];
  for (const [what, layer] of cases) {
    test(`${what}, gzip-compressed: load -i, load < file and cat file | load`, () => {
      const archive = path.join(work, "gz.tar");
      const id = dockerArchive(archive, [layer()], { gzip: true });
      for (const how of ["-i", "<", "|"] as const) {
        const r = how === "-i" ? berth(["load", "-i", archive])
          : how === "<" ? berth(["load"], { stdin: Bun.file(archive) })
          : berth(["load"], { stdin: fs.readFileSync(archive) });
        expect({ how, hung: r.hung, code: r.code, err: r.err }).toEqual({ how, hung: false, code: 0, err: "" });
        expect(r.out.trim()).toBe("Loaded image: localhost/gz:1");
        expect(ctx.store.require("localhost/gz:1").id).toBe(id as `sha256:${string}`);
        expect(berth(["rmi", "localhost/gz:1"]).code).toBe(0);
      }
    });
  }

  test("an OCI layout with gzip layers, saved and loaded back", () => {
    const layout = path.join(work, "layout");
    writeOciLayout(layout, [makeTar([{ name: "rand", data: randomBytes(300 << 10) }]), makeTar([{ name: "zero", data: new Uint8Array(20 << 20) }])], { gzip: true, name: "localhost/oci:1" });
    expect(berth(["load", "-i", layout]).code).toBe(0);
    const saved = path.join(work, "saved.tar");
    expect(berth(["save", "-o", saved, "localhost/oci:1"]).code).toBe(0);
    expect(berth(["rmi", "localhost/oci:1"]).code).toBe(0);
    const r = berth(["load", "-i", saved]);
    expect({ hung: r.hung, code: r.code, err: r.err }).toEqual({ hung: false, code: 0, err: "" });
    expect(r.out.trim()).toBe("Loaded image: localhost/oci:1");
  });
});

describe("item 4, the class: a load never holds the store lock while it waits on input that does not come", () => {
  test("a load whose stdin pipe stays silent holds no lock: rmi and prune run meanwhile", async () => {
    const other = path.join(work, "other.tar");
    dockerArchive(other, [makeTar([{ name: "f", data: "x" }])], { tags: ["localhost/other:1"] });
    expect(berth(["load", "-i", other]).code).toBe(0);
    const waiting = Bun.spawn([BERTH, "--root", ctx.root, "load"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    try {
      await Bun.sleep(300); // let it reach its read (it must not matter: it holds nothing while it waits)
      const rmi = berth(["rmi", "localhost/other:1"]);
      expect({ hung: rmi.hung, code: rmi.code }).toEqual({ hung: false, code: 0 });
      const prune = berth(["image", "prune", "-f"]);
      expect({ hung: prune.hung, code: prune.code }).toEqual({ hung: false, code: 0 });
    } finally {
      waiting.stdin.end();
    }
    expect(await waiting.exited).not.toBe(0); // nothing came: an error, not an image
    expect(await new Response(waiting.stderr).text()).toContain("stdin is empty");
    expectStoreClean();
  });

  test("a FIFO given to load -i with no writer holds no lock either", async () => {
    const fifo = path.join(work, "fifo");
    mkfifo(fifo, 0o600);
    const waiting = Bun.spawn([BERTH, "--root", ctx.root, "load", "-i", fifo], { stdout: "pipe", stderr: "pipe" });
    let writer: ReturnType<typeof Bun.spawn> | null = null;
    try {
      await Bun.sleep(300);
      const prune = berth(["image", "prune", "-f"]);
      expect({ hung: prune.hung, code: prune.code }).toEqual({ hung: false, code: 0 });
    } finally {
      // a writer that closes at once: end of input (in a child: opening a FIFO blocks until the other end opens)
      writer = Bun.spawn(["sh", "-c", `: > '${fifo}'`]);
    }
    expect(await waiting.exited).not.toBe(0);
    writer!.kill();
    await writer!.exited;
    expectStoreClean();
  });

  test("input that stops half-way is given up after the stall limit, the lock released and nothing left", async () => {
    const archive = path.join(work, "a.tar");
    dockerArchive(archive, [makeTar([{ name: "rand", data: randomBytes(200 << 10) }])], { gzip: true });
    const bytes = fs.readFileSync(archive);
    const fifo = path.join(work, "fifo");
    mkfifo(fifo, 0o600);
    const load = archiveImporter(fifo).run(ctx.store, { stallTimeoutMs: 500 }).then(() => null, (e: Error) => e);
    const fd = fs.openSync(fifo, "r+"); // O_RDWR: never blocks, and the pipe stays open (no end of input)
    fs.writeSync(fd, bytes, 0, 60 << 10); // part of it (less than a pipe holds), then silence with the pipe still open
    const err = await load;
    fs.closeSync(fd);
    expect(err?.message).toContain("no data");
    expect(ctx.store.busy()).toBe(false);
    expectStoreClean();
  });
});

describe("item 4, the class: the blob worker thread going away fails the writes that wait on it", () => {
  test("a parallel blob writer whose worker is stopped fails instead of waiting forever", async () => {
    const { stopBlobWorker } = await import("../../src/storage/blobs.ts");
    const w = ctx.store.blobs.writer(true);
    const chunk = new Uint8Array(new SharedArrayBuffer(1 << 20));
    let waited: Promise<void> | undefined;
    for (let i = 0; i < 40 && !waited; i++) waited = w.write(chunk) ?? undefined; // until it waits on the worker
    stopBlobWorker();
    const closed = Promise.all([waited, w.close()]).then(() => null, (e: Error) => e);
    const err = await closed;
    expect(err?.message ?? (() => { try { w.digest(); return ""; } catch (e) { return (e as Error).message; } })()).toContain("blob worker");
    w.abort();
    // the next writer gets a fresh worker
    const w2 = ctx.store.blobs.writer(true);
    await w2.write(new TextEncoder().encode("hello"));
    await w2.close();
    expect(w2.commit()).toBe(sha256("hello"));
  });
});

// ---- item 5 ----

/** A raw ustar header block with its checksum; fields given as raw bytes at their offsets. */
function rawHeader(name: string, flag: string, size: number | Uint8Array, extra: Array<[number, Uint8Array]> = []): Uint8Array {
  const h = new Uint8Array(512);
  const enc = new TextEncoder();
  h.set(enc.encode(name), 0);
  h.set(enc.encode("0000644\0"), 100);
  h.set(enc.encode("0000000\0"), 108);
  h.set(enc.encode("0000000\0"), 116);
  h.set(typeof size === "number" ? enc.encode(size.toString(8).padStart(11, "0") + "\0") : size, 124);
  h.set(enc.encode("00000000000\0"), 136);
  h[156] = flag.charCodeAt(0);
  h.set(enc.encode("ustar\u000000"), 257);
  for (const [off, bytes] of extra) h.set(bytes, off);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return h;
}

function paxBody(records: Array<[string, string]>): Uint8Array {
  let s = "";
  for (const [k, v] of records) {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    s += `${len}${body}`;
  }
  return new TextEncoder().encode(s);
}

function withPadding(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(b.length / 512) * 512);
  out.set(b);
  return out;
}

function paxThenFile(kind: "g" | "x", records: Array<[string, string]>): Uint8Array {
  const body = paxBody(records);
  return Buffer.concat([rawHeader("pax", kind, body.length), withPadding(body), rawHeader("file", "0", 5), withPadding(new TextEncoder().encode("hello")), new Uint8Array(1024)]);
}

const hostileHeaders: Array<[string, () => Uint8Array, string]> = [
  ["a negative size in a global PAX header", () => paxThenFile("g", [["size", "-512"]]), "size"],
  ["a negative size in a PAX header", () => paxThenFile("x", [["size", "-1"]]), "size"],
  ["a non-numeric PAX size", () => paxThenFile("x", [["size", "abc"]]), "size"],
  ["a fractional PAX size", () => paxThenFile("x", [["size", "1.5"]]), "size"],
  ["a hexadecimal PAX size", () => paxThenFile("x", [["size", "0x10"]]), "size"],
  ["a PAX size beyond 2^53", () => paxThenFile("x", [["size", "99999999999999999999"]]), "size"],
  ["a negative PAX uid", () => paxThenFile("x", [["uid", "-1"]]), "uid"],
  ["a PAX uid beyond what the kernel takes", () => paxThenFile("x", [["uid", "4294967296"]]), "uid"],
  ["a NaN PAX mtime", () => paxThenFile("x", [["mtime", "nan"]]), "mtime"],
  ["a PAX record length of zero", () => Buffer.concat([rawHeader("pax", "x", 16), withPadding(new TextEncoder().encode("0 path=aaaaaaa\n")), rawHeader("f", "0", 0), new Uint8Array(1024)]), "PAX"],
  ["a PAX record length beyond the record", () => Buffer.concat([rawHeader("pax", "x", 12), withPadding(new TextEncoder().encode("99 path=aa\n")), rawHeader("f", "0", 0), new Uint8Array(1024)]), "PAX"],
  ["a PAX record length with a sign", () => Buffer.concat([rawHeader("pax", "x", 12), withPadding(new TextEncoder().encode("+12 path=a\n")), rawHeader("f", "0", 0), new Uint8Array(1024)]), "PAX"],
  ["a negative base-256 size", () => Buffer.concat([rawHeader("f", "0", new Uint8Array(12).fill(0xff)), new Uint8Array(1024)]), "size"],
  ["a base-256 size beyond 2^53", () => Buffer.concat([rawHeader("f", "0", Uint8Array.of(0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), new Uint8Array(1024)]), "size"],
  ["a base-256 uid beyond 2^32", () => Buffer.concat([rawHeader("f", "0", 0, [[108, Uint8Array.of(0x80, 0, 0, 1, 0, 0, 0, 0)]]), new Uint8Array(1024)]), "uid"],
];

describe("item 5: every tar header field is bounded before use", () => {
  for (const [what, make, word] of hostileHeaders) {
    test(`${what}: import and load fail cleanly, nothing left`, () => {
      const file = path.join(work, "hostile.tar");
      fs.writeFileSync(file, make());
      for (const verb of [["import", file, "localhost/h:1"], ["load", "-i", file]]) {
        const r = berth(verb);
        expect({ verb: verb[0], hung: r.hung, code: r.code }).toEqual({ verb: verb[0], hung: false, code: 1 });
        expect(r.err).toContain(word);
        expect(r.err).not.toMatch(/TypeError|RangeError|at .*\.ts:/);
        expectStoreClean();
      }
    });
  }
});

describe("item 5, the class: the JSON documents of an archive are untrusted too", () => {
  const configs: Array<[string, Record<string, unknown>, string]> = [
    ["an Env entry that is not a string", { Env: ["A=1", 1] }, "config.Env must be a list of strings"],
    ["Labels with a non-string value", { Labels: { a: { b: 1 } } }, "config.Labels must map strings to strings"],
    ["a negative healthcheck interval", { Healthcheck: { Test: ["CMD", "true"], Interval: -1 } }, "config.Healthcheck.Interval"],
  ];
  for (const [what, config, message] of configs) {
    // (loaded fine before; an Env entry that is not a string then failed every run with a TypeError)
    test(`an image config with ${what} is refused at load, the field named`, () => {
      const layer = makeTar([{ name: "f", data: "x" }]);
      const cfg = new TextEncoder().encode(JSON.stringify({ architecture: process.arch === "arm64" ? "arm64" : "amd64", os: "linux", config, rootfs: { type: "layers", diff_ids: [sha256(layer)] } }));
      const archive = path.join(work, "cfg.tar");
      fs.writeFileSync(archive, makeTar([
        { name: "config.json", data: cfg },
        { name: "layer.tar", data: layer },
        { name: "manifest.json", data: JSON.stringify([{ Config: "config.json", RepoTags: ["localhost/cfg:1"], Layers: ["layer.tar"] }]) },
      ]));
      const r = berth(["load", "-i", archive]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(message);
      expectStoreClean();
    });
  }

  test("manifest.json RepoTags that are not strings are refused by name (a TypeError before)", () => {
    const layer = makeTar([{ name: "f", data: "x" }]);
    const archive = path.join(work, "tags.tar");
    dockerArchive(archive, [layer], { tags: [null, 5] as unknown as string[] });
    const r = berth(["load", "-i", archive]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("RepoTags[0] is not a string");
    expectStoreClean();
  });
});

// ---- item 11 ----

describe("item 11: symlinks may point outside the root; nothing may write outside it", () => {
  test("a relative symlink climbing above the layer root loads (as docker), its target kept as written", async () => {
    const layout = path.join(work, "layout");
    writeOciLayout(layout, [makeTar([
      { name: "lib/", type: "dir" },
      { name: "lib/libfoo.so.1", data: "ELF" },
      { name: "usr/lib/", type: "dir" },
      { name: "usr/lib/libfoo.so", type: "symlink", linkname: "../../../../lib/libfoo.so.1" },
    ])], { name: "localhost/lib:1" });
    const img = (await archiveImporter(layout).run(ctx.store)).images[0]!;
    const dir = ctx.store.snapshotDirs(img)[0]!;
    expect(fs.readlinkSync(path.join(dir, "usr/lib/libfoo.so"))).toBe("../../../../lib/libfoo.so.1");
  });

  describe("while every way of writing outside stays refused", () => {
    let outside: string;
    beforeEach(() => {
      outside = tempDir("outside");
      fs.writeFileSync(path.join(outside, "sentinel"), "untouched");
      fs.utimesSync(outside, 1000, 1000);
    });
    afterEach(() => fs.rmSync(outside, { recursive: true, force: true }));

    const up = () => "../".repeat(12) + outside.replace(/^\//, "");
    async function importTar(specs: Spec[]): Promise<Error | null> {
      const file = path.join(work, "layer.tar");
      fs.writeFileSync(file, makeTar(specs));
      return rootfsImporter(file).run(ctx.store, { names: ["localhost/h:1"] }).then(() => null, (e: Error) => e);
    }
    function expectOutsideUntouched(): void {
      expect(listTree(outside)).toEqual(["sentinel f"]);
      expect(fs.readFileSync(path.join(outside, "sentinel"), "utf8")).toBe("untouched");
      expect(fs.statSync(outside).mtimeMs).toBe(1000_000);
    }

    test("a file written through a climbing symlink made earlier in the same tar is refused", async () => {
      const err = await importTar([{ name: "up", type: "symlink", linkname: up() }, { name: "up/evil", data: "x" }]);
      expect(err?.message).toContain("its parent up is a symlink");
      expectOutsideUntouched();
      expectStoreClean();
    });

    test("a hardlink through a climbing symlink is refused", async () => {
      const err = await importTar([{ name: "up", type: "symlink", linkname: up() }, { name: "pw", type: "hardlink", linkname: "up/sentinel" }]);
      expect(err?.message).toContain("is a symlink");
      expectOutsideUntouched();
      expectStoreClean();
    });

    for (const [kind, target] of [["climbing", () => "../".repeat(12) + outside.replace(/^\//, "")], ["absolute", () => outside]] as const) {
      test(`a directory replaced by a ${kind} symlink does not get its timestamps stamped through the link`, async () => {
        const err = await importTar([{ name: "d/", type: "dir", mtime: 5 }, { name: "d", type: "symlink", linkname: target() }]);
        expect(err).toBeNull();
        expectOutsideUntouched();
      });
    }
  });
});

// ---- item 12 ----

describe("item 12: load names only the tags the archive carries", () => {
  test("an image already known under other names prints only the archive's tag", () => {
    const archive = path.join(work, "a.tar");
    const layer = makeTar([{ name: "f", data: "x" }]);
    dockerArchive(archive, [layer], { tags: ["localhost/app:1"] });
    expect(berth(["load", "-i", archive]).code).toBe(0);
    expect(berth(["tag", "localhost/app:1", "localhost/other:2"]).code).toBe(0);
    expect(berth(["tag", "localhost/app:1", "localhost/third:3"]).code).toBe(0);
    const r = berth(["load", "-i", archive]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe("Loaded image: localhost/app:1");
  });

  test("an archive with no tags prints the image ID even when the image has names", () => {
    const layer = makeTar([{ name: "f", data: "x" }]);
    const named = path.join(work, "named.tar");
    const id = dockerArchive(named, [layer], { tags: ["localhost/app:1"] });
    const bare = path.join(work, "bare.tar");
    dockerArchive(bare, [layer], { tags: [] });
    expect(berth(["load", "-i", named]).code).toBe(0);
    const r = berth(["load", "-i", bare]);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(`Loaded image ID: ${id}`);
  });
});
