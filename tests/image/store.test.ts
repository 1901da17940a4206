// Store behaviour: round trips with identical digests, names resolved like docker, tag/rmi/prune,
// corrupted blobs refused, an interrupted load leaves nothing visible.
import { afterEach, beforeEach, describe, expect, test, setDefaultTimeout } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { archiveImporter, rootfsImporter, saveImages } from "../../src/image/index.ts";
import { DigestMismatchError, sha256 } from "../../src/storage/digest.ts";
import { baseLayer, makeTar, tempDir, tempStore, writeOciLayout } from "./helpers.ts";

setDefaultTimeout(60_000); // heavy I/O; the machine may be shared

let a: ReturnType<typeof tempStore>;
let b: ReturnType<typeof tempStore>;
let work: string;
beforeEach(() => {
  a = tempStore("a");
  b = tempStore("b");
  work = tempDir("work");
});
afterEach(() => {
  a.cleanup();
  b.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

async function saveTo(store: typeof a.store, refs: string[], format: "docker" | "oci", file: string): Promise<void> {
  const fd = fs.openSync(file, "w");
  try {
    for await (const c of saveImages(store, refs.map((r) => store.require(r)), format, refs)) fs.writeSync(fd, c);
  } finally {
    fs.closeSync(fd);
  }
}

function twoLayerLayout(dir: string, gzip = false) {
  return writeOciLayout(dir, [baseLayer(), makeTar([{ name: "etc/hostname", data: "top\n" }, { name: "etc/.wh.passwd", data: "" }])], { gzip, name: "localhost/two:1.0" });
}

describe("round trips", () => {
  for (const format of ["docker", "oci"] as const) {
    for (const gzip of [false, true]) {
      test(`OCI layout (${gzip ? "gzip" : "tar"} layers) -> save --format ${format} -> load: identical digests`, async () => {
        const layout = path.join(work, "layout");
        const { configDigest, manifestDigest } = twoLayerLayout(layout, gzip);
        const r = await archiveImporter(layout).run(a.store);
        expect(r.format).toBe("oci-layout");
        const img = r.images[0]!;
        expect(img.id).toBe(configDigest as `sha256:${string}`);
        expect(img.digest).toBe(manifestDigest as `sha256:${string}`);
        expect(img.names).toEqual(["localhost/two:1.0"]);
        expect(img.layers.length).toBe(2);

        const file = path.join(work, `saved-${format}.tar`);
        await saveTo(a.store, ["localhost/two:1.0"], format, file);
        const r2 = await archiveImporter(file).run(b.store);
        expect(r2.format).toBe(format === "docker" ? "docker-archive" : "oci-layout");
        const img2 = r2.images[0]!;
        expect(img2.id).toBe(img.id);
        expect(img2.digest).toBe(img.digest);
        expect(img2.layers.map((l) => l.digest)).toEqual(img.layers.map((l) => l.digest));
        expect(img2.chainIds).toEqual(img.chainIds);
        expect(img2.names).toEqual(["localhost/two:1.0"]);
        // the unpacked top layer carries the whiteout as an overlay char device 0:0
        const top = b.store.snapshotDirs(img2)[0]!;
        const st = fs.lstatSync(path.join(top, "etc/passwd"));
        expect(st.isCharacterDevice() && st.rdev === 0).toBe(true);

        // and saving again from the second store gives a byte-identical archive
        const again = path.join(work, "again.tar");
        await saveTo(b.store, ["localhost/two:1.0"], format, again);
        expect(Bun.hash(fs.readFileSync(again))).toBe(Bun.hash(fs.readFileSync(file)));
      });
    }
  }

  test("a legacy docker-archive (manifest.json + <id>/layer.tar) loads with the implied schema2 manifest", async () => {
    const layer = baseLayer();
    const { sha256 } = await import("../../src/storage/digest.ts");
    const diff = sha256(layer);
    const config = JSON.stringify({ architecture: "amd64", os: "linux", config: { Cmd: ["/bin/sh"] }, rootfs: { type: "layers", diff_ids: [diff] } });
    const cd = sha256(config);
    const tar = makeTar([
      { name: "abc/", type: "dir" },
      { name: "abc/layer.tar", data: layer },
      { name: "abc/VERSION", data: "1.0" },
      { name: "def/", type: "dir" },
      { name: "def/layer.tar", type: "symlink", linkname: "../abc/layer.tar" },
      { name: `${cd.slice(7)}.json`, data: config },
      { name: "manifest.json", data: JSON.stringify([{ Config: `${cd.slice(7)}.json`, RepoTags: ["legacy:v1"], Layers: ["def/layer.tar"] }]) },
      { name: "repositories", data: "{}" },
    ]);
    const file = path.join(work, "legacy.tar");
    fs.writeFileSync(file, tar);
    const r = await archiveImporter(file).run(a.store);
    expect(r.format).toBe("docker-archive");
    const img = r.images[0]!;
    expect(img.id).toBe(cd);
    expect(img.names).toEqual(["docker.io/library/legacy:v1"]);
    expect(img.manifest.mediaType).toBe("application/vnd.docker.distribution.manifest.v2+json");
    // loading it again is idempotent: same manifest digest
    const r2 = await archiveImporter(file).run(b.store);
    expect(r2.images[0]!.digest).toBe(img.digest);
    // and it saves + loads back identically
    const out = path.join(work, "out.tar");
    await saveTo(a.store, ["legacy:v1"], "docker", out);
    const c = tempStore("c");
    try {
      const r3 = await archiveImporter(out).run(c.store);
      expect(r3.images[0]!.digest).toBe(img.digest);
      expect(r3.images[0]!.id).toBe(img.id);
    } finally {
      c.cleanup();
    }
  });

  test("import of a directory and of a tar, with --change", async () => {
    const dir = path.join(work, "rootfs");
    fs.mkdirSync(path.join(dir, "etc"), { recursive: true });
    fs.writeFileSync(path.join(dir, "etc/os-release"), "ID=test\n");
    fs.symlinkSync("/etc/os-release", path.join(dir, "os"));
    const r = await rootfsImporter(dir).run(a.store, { names: ["imported"], changes: ['CMD ["/bin/sh","-c","echo hi"]', "ENV A=1 B=2", "EXPOSE 80", "WORKDIR /srv", "USER 1000", "LABEL x=y", "VOLUME /data"] });
    const img = r.images[0]!;
    expect(img.names).toEqual(["docker.io/library/imported:latest"]);
    expect(img.config.Cmd).toEqual(["/bin/sh", "-c", "echo hi"]);
    expect(img.config.Env).toEqual(["A=1", "B=2"]);
    expect(img.config.ExposedPorts).toEqual({ "80/tcp": {} });
    expect(img.config.WorkingDir).toBe("/srv");
    expect(img.config.User).toBe("1000");
    expect(img.config.Labels).toEqual({ x: "y" });
    expect(img.config.Volumes).toEqual({ "/data": {} });
    const snap = a.store.snapshotDirs(img)[0]!;
    expect(fs.readFileSync(path.join(snap, "etc/os-release"), "utf8")).toBe("ID=test\n");
    expect(fs.readlinkSync(path.join(snap, "os"))).toBe("/etc/os-release");
    // the same tree imported again hashes to the same layer (deterministic packing)
    const r2 = await rootfsImporter(dir).run(b.store, {});
    expect(r2.images[0]!.layers[0]!.diffId).toBe(img.layers[0]!.diffId);
    // a gzip tar import keeps the compressed blob and unpacks it
    const tgz = path.join(work, "root.tar.gz");
    fs.writeFileSync(tgz, Bun.gzipSync(new Uint8Array(baseLayer())));
    const r3 = await rootfsImporter(tgz).run(a.store, { names: ["gz:1"] });
    expect(r3.images[0]!.layers[0]!.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    expect(fs.readFileSync(path.join(a.store.snapshotDirs(r3.images[0]!)[0]!, "opt/a/two"), "utf8")).toBe("22");
  });

  test("zstd layers unpack", async () => {
    const { zstdCompressSync } = await import("node:zlib");
    const tz = path.join(work, "root.tar.zst");
    fs.writeFileSync(tz, zstdCompressSync(baseLayer()));
    const r = await rootfsImporter(tz).run(a.store, { names: ["zst:1"] });
    expect(r.images[0]!.layers[0]!.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+zstd");
    expect(fs.readFileSync(path.join(a.store.snapshotDirs(r.images[0]!)[0]!, "opt/a/one"), "utf8")).toBe("1");
  });
});

describe("several images in one archive", () => {
  test("two images sharing a base layer, and one reusing a layer at another position, save and load together", async () => {
    const base = baseLayer(), extra = makeTar([{ name: "extra", data: "e" }]);
    const l1 = path.join(work, "l1"), l2 = path.join(work, "l2"), l3 = path.join(work, "l3");
    writeOciLayout(l1, [base], { name: "localhost/one:1" });
    writeOciLayout(l2, [base, extra], { name: "localhost/two:1" });
    writeOciLayout(l3, [extra, base], { name: "localhost/three:1" }); // same blobs, other chain
    for (const l of [l1, l2, l3]) await archiveImporter(l).run(a.store);
    expect(a.store.snapshots.list().length).toBe(4); // base, base+extra, extra, extra+base
    const file = path.join(work, "all.tar");
    await saveTo(a.store, ["localhost/one:1", "localhost/two:1", "localhost/three:1"], "docker", file);
    const r = await archiveImporter(file).run(b.store);
    expect(r.images.map((i) => i.names[0]).sort()).toEqual(["localhost/one:1", "localhost/three:1", "localhost/two:1"]);
    expect(b.store.snapshots.list().sort()).toEqual(a.store.snapshots.list().sort());
    for (const img of r.images) expect(b.store.snapshotDirs(img).length).toBe(img.layers.length);
    expect(fs.readFileSync(path.join(b.store.snapshotDirs(b.store.require("localhost/three:1"))[0]!, "opt/a/one"), "utf8")).toBe("1");
  });
});

describe("names, tags, removal", () => {
  test("resolves like docker: short names, tags, ids, id prefixes, name@digest", async () => {
    const layout = path.join(work, "layout");
    writeOciLayout(layout, [baseLayer()], { name: "docker.io/library/busybox:latest" });
    const img = (await archiveImporter(layout).run(a.store)).images[0]!;
    for (const ref of ["busybox", "busybox:latest", "library/busybox", "docker.io/library/busybox:latest", img.id, img.id.slice(7, 19), `busybox@${img.digest}`, img.digest]) {
      expect(a.store.resolve(ref)?.id).toBe(img.id);
    }
    expect(a.store.resolve("busybox:other")).toBeNull();
    expect(a.store.resolve("localhost/busybox")).toBeNull();
    expect(() => a.store.resolve("BusyBox")).toThrow("lowercase");

    a.store.tag("busybox", "localhost/app:1.0");
    expect(a.store.require("localhost/app:1.0").id).toBe(img.id);
    expect(a.store.require(img.id).names.sort()).toEqual(["docker.io/library/busybox:latest", "localhost/app:1.0"]);

    // rmi by one of two names only untags
    const r1 = await a.store.remove("localhost/app:1.0");
    expect(r1).toEqual({ untagged: ["localhost/app:1.0"], deleted: [] });
    expect(a.store.resolve("busybox")?.id).toBe(img.id);

    // a held image is not removed without force
    a.store.hold("ctr1", img.id);
    await expect(a.store.remove("busybox")).rejects.toThrow("in use by container ctr1");
    a.store.release("ctr1");

    const r2 = await a.store.remove("busybox");
    expect(r2.deleted).toEqual([img.id]);
    expect(a.store.list()).toEqual([]);
    expect(a.store.blobs.list()).toEqual([]);
    expect(a.store.snapshots.list()).toEqual([]);
  });

  test("a name moves to a newer image; prune removes the dangling one and frees its data", async () => {
    const l1 = path.join(work, "l1"), l2 = path.join(work, "l2");
    writeOciLayout(l1, [baseLayer()], { name: "localhost/app:latest", cmd: ["one"] });
    writeOciLayout(l2, [baseLayer(), makeTar([{ name: "new", data: "n" }])], { name: "localhost/app:latest", cmd: ["two"] });
    const old = (await archiveImporter(l1).run(a.store)).images[0]!;
    const cur = (await archiveImporter(l2).run(a.store)).images[0]!;
    expect(a.store.require("localhost/app").id).toBe(cur.id);
    expect(a.store.get(old.id)!.names).toEqual([]);
    // the shared base layer was unpacked once
    expect(cur.chainIds[0]).toBe(old.chainIds[0]!);
    expect(a.store.snapshots.list().length).toBe(2);
    const res = await a.store.prune();
    expect(res.deleted).toEqual([old.id]);
    expect(res.reclaimedBytes).toBeGreaterThan(0);
    expect(a.store.snapshots.list().length).toBe(2); // both still used by the current image
    expect(a.store.blobs.has(old.id)).toBe(false);
    expect(a.store.require("localhost/app").id).toBe(cur.id);
  });
});

describe("integrity", () => {
  test("a corrupted blob in an archive is refused", async () => {
    const layout = path.join(work, "layout");
    const { manifestDigest } = twoLayerLayout(layout);
    const m = JSON.parse(fs.readFileSync(path.join(layout, "blobs/sha256", manifestDigest.slice(7)), "utf8"));
    const layerPath = path.join(layout, "blobs/sha256", m.layers[0].digest.slice(7));
    const bytes = fs.readFileSync(layerPath);
    bytes[600] = bytes[600]! ^ 0xff; // flip a bit inside a file's data
    fs.writeFileSync(layerPath, bytes);
    await expect(archiveImporter(layout).run(a.store)).rejects.toBeInstanceOf(DigestMismatchError);
    expect(a.store.list()).toEqual([]);
    expect(a.store.snapshots.list()).toEqual([]);
  });

  test("a config whose diff_ids do not match the layers is refused", async () => {
    const layer = baseLayer();
    const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${"0".repeat(64)}`] } });
    const { sha256 } = await import("../../src/storage/digest.ts");
    const file = path.join(work, "bad.tar");
    fs.writeFileSync(file, makeTar([
      { name: "l/layer.tar", data: layer },
      { name: `${sha256(config).slice(7)}.json`, data: config },
      { name: "manifest.json", data: JSON.stringify([{ Config: `${sha256(config).slice(7)}.json`, RepoTags: ["bad:1"], Layers: ["l/layer.tar"] }]) },
    ]));
    await expect(archiveImporter(file).run(a.store)).rejects.toThrow("diff ID");
    expect(a.store.list()).toEqual([]);
  });

  test("a blob corrupted inside the store is refused on read", async () => {
    const layout = path.join(work, "layout");
    twoLayerLayout(layout);
    const img = (await archiveImporter(layout).run(a.store)).images[0]!;
    const p = a.store.blobs.path(img.layers[1]!.digest);
    fs.appendFileSync(p, "tampered");
    const out = path.join(work, "x.tar");
    await expect(saveTo(a.store, [img.id], "oci", out)).rejects.toBeInstanceOf(DigestMismatchError);
  });

  test("a root filesystem tar given to load is pointed to import", async () => {
    const file = path.join(work, "rootfs.tar");
    fs.writeFileSync(file, baseLayer());
    await expect(archiveImporter(file).run(a.store)).rejects.toThrow("berth import");
  });

  test("two concurrent loads of the same image share one snapshot", async () => {
    const layout = path.join(work, "layout");
    twoLayerLayout(layout);
    const [r1, r2] = await Promise.all([archiveImporter(layout).run(a.store), archiveImporter(layout).run(a.store)]);
    expect(r1.images[0]!.id).toBe(r2.images[0]!.id);
    expect(a.store.snapshots.list().length).toBe(2);
    expect(fs.readdirSync(path.join(a.root, "tmp"))).toEqual([]);
  });

  test("two processes loading the same archive at once both succeed and share the snapshots", async () => {
    const layout = path.join(work, "layout");
    writeOciLayout(layout, [baseLayer(), makeTar(Array.from({ length: 200 }, (_, i) => ({ name: `f${i}`, data: "z".repeat(5000) })))], { name: "localhost/race:1" });
    const cli = path.resolve(import.meta.dir, "../../src/cli/berth/image.ts");
    const spawn = () => Bun.spawn([process.execPath, cli, "load", "-i", layout], { env: { ...process.env, BERTH_ROOT: a.root }, stdout: "pipe", stderr: "pipe" });
    const procs = [spawn(), spawn(), spawn()];
    const codes = await Promise.all(procs.map((p) => p.exited));
    const outs = await Promise.all(procs.map((p) => new Response(p.stdout).text()));
    expect(codes).toEqual([0, 0, 0]);
    for (const o of outs) expect(o.trim()).toBe("Loaded image: localhost/race:1");
    expect(a.store.list().length).toBe(1);
    expect(a.store.snapshots.list().length).toBe(2);
    expect(fs.readdirSync(path.join(a.root, "tmp"))).toEqual([]);
    expect(fs.readdirSync(path.join(a.store.snapshotDirs(a.store.require("localhost/race:1"))[0]!)).length).toBe(200);
  });

  test("a load killed half-way leaves nothing visible, and the next load and prune are clean", async () => {
    // a big layer so the child is surely mid-way when killed
    const big = makeTar(Array.from({ length: 400 }, (_, i) => ({ name: `f${i}`, data: new Uint8Array(256 * 1024).fill(i) })));
    const layout = path.join(work, "layout");
    writeOciLayout(layout, [big], { name: "localhost/big:1" });
    const script = path.join(work, "load.ts");
    fs.writeFileSync(script, `import { openImageStore, archiveImporter } from ${JSON.stringify(path.resolve(import.meta.dir, "../../src/image/index.ts"))};
      await archiveImporter(${JSON.stringify(layout)}).run(openImageStore(${JSON.stringify(a.root)}), { progress: (p) => { if (p.bytes > 20e6) { console.log("mid"); Bun.sleepSync(10000); } } });`);
    const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
    const reader = child.stdout.getReader();
    let seen = "";
    while (!seen.includes("mid")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    child.kill(9);
    await child.exited;
    expect(seen).toContain("mid");
    expect(a.store.list()).toEqual([]);
    expect(a.store.snapshots.list()).toEqual([]);
    expect(fs.readdirSync(path.join(a.root, "tmp")).length).toBeGreaterThan(0); // its private leftovers
    const r = await archiveImporter(layout).run(a.store);
    expect(r.images[0]!.names).toEqual(["localhost/big:1"]);
    await a.store.prune();
    expect(fs.readdirSync(path.join(a.root, "tmp"))).toEqual([]);
    expect(fs.readFileSync(path.join(a.store.snapshotDirs(r.images[0]!)[0]!, "f399")).length).toBe(256 * 1024);
  });
});

describe("edge cases", () => {
  test("an image with an empty (all-zero) layer and a gzip empty layer loads", async () => {
    const layout = path.join(work, "layout");
    writeOciLayout(layout, [baseLayer(), new Uint8Array(1024)], { name: "localhost/empty:1" });
    const img = (await archiveImporter(layout).run(a.store)).images[0]!;
    expect(img.layers.length).toBe(2);
    expect(fs.readdirSync(a.store.snapshotDirs(img)[0]!)).toEqual([]);
    const gz = path.join(work, "gz");
    writeOciLayout(gz, [new Uint8Array(1024)], { name: "localhost/empty:2", gzip: true });
    const img2 = (await archiveImporter(gz).run(a.store)).images[0]!;
    expect(img2.layers[0]!.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
  });

  test("loading from stdin works through the CLI", async () => {
    const layout = path.join(work, "layout");
    writeOciLayout(layout, [baseLayer()], { name: "localhost/stdin:1" });
    const tarFile = path.join(work, "layout.tar");
    expect(Bun.spawnSync(["tar", "-cf", tarFile, "-C", layout, "."]).exitCode).toBe(0);
    const cli = path.resolve(import.meta.dir, "../../src/cli/berth/image.ts");
    const r = Bun.spawnSync([process.execPath, cli, "load"], { stdin: Bun.file(tarFile), env: { ...process.env, BERTH_ROOT: b.root }, stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString().trim()).toBe("Loaded image: localhost/stdin:1");
  });
});

describe("big layers (hashed and stored on the worker thread, O_DIRECT)", () => {
  test("a 24 MB gzip layer and a 24 MB plain layer load with verified digests and diff IDs, from a dir and from a tar", async () => {
    // random bytes: gzip cannot shrink them below the 8 MB from which the worker thread is used;
    // 24 read buffers' worth, so the pooled buffers go round several times
    const files = Array.from({ length: 24 }, (_, i) => {
      const data = new Uint8Array(1 << 20);
      for (let o = 0; o < data.length; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536));
      return { name: `blob${i}`, data };
    });
    for (const gzip of [true, false]) {
      const layout = path.join(work, `big-${gzip}`);
      const { configDigest } = writeOciLayout(layout, [makeTar(files)], { gzip, name: `localhost/big:${gzip}` });
      const img = (await archiveImporter(layout).run(a.store)).images[0]!;
      expect(img.id).toBe(configDigest as `sha256:${string}`); // publish() checked the diff ID against the config
      const f = fs.readFileSync(path.join(a.store.snapshotDirs(img)[0]!, "blob23"));
      expect(f.length).toBe(1 << 20);
      expect(Bun.hash(f)).toBe(Bun.hash(files[23]!.data));
      expect(img.layers[0]!.size).toBeGreaterThan(8 << 20);
      // and the stored blob (written O_DIRECT, its tail zero-padded then truncated) is intact: verified while streamed
      expect(fs.statSync(a.store.blobs.path(img.layers[0]!.digest)).size).toBe(img.layers[0]!.size);
      for await (const _ of a.store.blobs.stream(img.layers[0]!.digest)) void _;
      // the same as one tar file (read in pooled 1 MB chunks, the layer parsed inside the archive's stream)
      const tarFile = `${layout}.tar`;
      expect(Bun.spawnSync(["tar", "-cf", tarFile, "-C", layout, "."]).exitCode).toBe(0);
      const img2 = (await archiveImporter(tarFile).run(b.store)).images[0]!;
      expect(img2.id).toBe(img.id);
      expect(img2.layers[0]!.digest).toBe(img.layers[0]!.digest);
      for await (const _ of b.store.blobs.stream(img2.layers[0]!.digest)) void _;
      for (const i of [0, 13, 23]) expect(Bun.hash(fs.readFileSync(path.join(b.store.snapshotDirs(img2)[0]!, `blob${i}`)))).toBe(Bun.hash(files[i]!.data));
    }
  });
});

describe("the blob worker", () => {
  test("a few huge chunks (more than may be in flight) are written and verified, an abort removes its file", async () => {
    const data = new Uint8Array(new SharedArrayBuffer((20 << 20) + 4097));
    for (let o = 0; o < data.length; o += 65536) crypto.getRandomValues(data.subarray(o, Math.min(data.length, o + 65536)));
    const w = a.store.blobs.writer(true);
    for (const part of [data.subarray(0, 17 << 20), data.subarray(17 << 20)]) await w.write(part); // each ack-less before
    await w.close();
    const d = w.commit();
    expect(d).toBe(sha256(data));
    expect(Bun.hash(fs.readFileSync(a.store.blobs.path(d)))).toBe(Bun.hash(data));
    const w2 = a.store.blobs.writer(true);
    await w2.write(data);
    w2.abort();
    for (let i = 0; i < 100 && fs.readdirSync(path.join(a.root, "tmp")).length; i++) await Bun.sleep(10);
    expect(fs.readdirSync(path.join(a.root, "tmp"))).toEqual([]);
  });
});

describe("failures clean up after themselves", () => {
  test("an archive cut off in the middle of a layer leaves no temp files in a live process", async () => {
    const layout = path.join(work, "layout");
    writeOciLayout(layout, [makeTar(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, data: "q".repeat(100_000) })))], { name: "localhost/cut:1" });
    const full = path.join(work, "full.tar");
    expect(Bun.spawnSync(["tar", "-cf", full, "-C", layout, "blobs", "index.json", "oci-layout"]).exitCode).toBe(0);
    const cut = path.join(work, "cut.tar");
    fs.writeFileSync(cut, fs.readFileSync(full).subarray(0, 3_000_000));
    await expect(archiveImporter(cut).run(a.store)).rejects.toThrow("truncated");
    await Bun.sleep(50); // the blob worker lets go of its file asynchronously
    expect(fs.readdirSync(path.join(a.root, "tmp"))).toEqual([]);
    expect(a.store.list()).toEqual([]);
  });
});

describe("indexes and holds", () => {
  test("a multi-platform index loads the host's manifest only", async () => {
    const { sha256 } = await import("../../src/storage/digest.ts");
    const layout = path.join(work, "multi");
    const host = writeOciLayout(layout, [baseLayer()], { cmd: ["host"] });
    // a second, foreign-platform manifest whose layer is not even in the layout
    const foreignConfig = JSON.stringify({ architecture: "s390x", os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${"1".repeat(64)}`] } });
    const fc = sha256(foreignConfig);
    fs.writeFileSync(path.join(layout, "blobs/sha256", fc.slice(7)), foreignConfig);
    const foreignManifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: fc, size: foreignConfig.length }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: `sha256:${"2".repeat(64)}`, size: 10 }] });
    const fm = sha256(foreignManifest);
    fs.writeFileSync(path.join(layout, "blobs/sha256", fm.slice(7)), foreignManifest);
    const idx = JSON.parse(fs.readFileSync(path.join(layout, "index.json"), "utf8"));
    const hostDesc = { ...idx.manifests[0], platform: { os: "linux", architecture: process.arch === "arm64" ? "arm64" : "amd64" } };
    const inner = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: fm, size: foreignManifest.length, platform: { os: "linux", architecture: "s390x" } }, hostDesc] });
    const ii = sha256(inner);
    fs.writeFileSync(path.join(layout, "blobs/sha256", ii.slice(7)), inner);
    fs.writeFileSync(path.join(layout, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.index.v1+json", digest: ii, size: inner.length, annotations: { "io.containerd.image.name": "docker.io/library/multi:1" } }] }));
    const r = await archiveImporter(layout).run(a.store);
    expect(r.images.length).toBe(1);
    expect(r.images[0]!.digest).toBe(host.manifestDigest as `sha256:${string}`);
    expect(r.images[0]!.names).toEqual(["docker.io/library/multi:1"]);
    expect(r.images[0]!.config.Cmd).toEqual(["host"]);
  });

  test("prune -a keeps held images; rmi --force only untags a held image", async () => {
    const layout = path.join(work, "held");
    writeOciLayout(layout, [baseLayer()], { name: "localhost/held:1" });
    const img = (await archiveImporter(layout).run(a.store)).images[0]!;
    a.store.hold("ctr-1", img.id);
    const p = await a.store.prune({ all: true });
    expect(p.deleted).toEqual([]);
    expect(a.store.resolve("localhost/held:1")?.id).toBe(img.id);
    const r = await a.store.remove("localhost/held:1", { force: true });
    expect(r).toEqual({ untagged: ["localhost/held:1"], deleted: [] });
    expect(a.store.resolve("localhost/held:1")).toBeNull();
    expect(a.store.get(img.id)?.names).toEqual([]); // dangling, still there for the container
    expect(a.store.snapshots.has(img.chainIds[0]!)).toBe(true);
    await a.store.prune();
    expect(a.store.get(img.id)).not.toBeNull();
    a.store.release("ctr-1");
    expect((await a.store.prune()).deleted).toEqual([img.id]);
    expect(a.store.snapshots.list()).toEqual([]);
  });
});
