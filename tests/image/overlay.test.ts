// A 3-layer image with whiteouts and an opaque dir, mounted for real with overlayfs: the merged
// view is right; a container's diff, commit and export work; layer analysis counts correctly.
import { afterEach, beforeEach, describe, expect, test, setDefaultTimeout } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { archiveImporter, commitContainer, diffContainer, exportContainer, mountContainerRootfs, unmountContainerRootfs } from "../../src/image/index.ts";
import type { ImageRecord } from "../../src/image/index.ts";
import { analyzeImage, diffImages, imageTree } from "../../src/image/layers.ts";
import { isMountPoint } from "../../src/storage/overlay.ts";
import { TarReader } from "../../src/storage/tar.ts";
import { baseLayer, makeTar, tempDir, tempStore, writeOciLayout } from "./helpers.ts";
import { lacks } from "../helpers/host.ts";

setDefaultTimeout(60_000); // heavy I/O; the machine may be shared

let ctx: ReturnType<typeof tempStore>;
let work: string;
const mounted: string[] = [];

beforeEach(() => {
  ctx = tempStore("overlay");
  work = tempDir("ovl-work");
});
afterEach(() => {
  for (const d of mounted.splice(0)) unmountContainerRootfs(d, true);
  ctx.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

async function threeLayers(): Promise<ImageRecord> {
  const l2 = makeTar([
    { name: "etc/", type: "dir" },
    { name: "etc/.wh.hostname", data: "" },           // delete a file
    { name: "etc/motd", data: "hello\n" },            // add a file
    { name: "opt/", type: "dir" },
    { name: "opt/a/", type: "dir" },
    { name: "opt/a/.wh..wh..opq", data: "" },         // hide everything below opt/a from lower layers
    { name: "opt/a/three", data: "333" },
    { name: "var/big", data: "y".repeat(20000) },     // overwrite: the 10000-byte version is wasted
    { name: "bin/suid", data: "s", mode: 0o4755, uid: 1000, gid: 1000 },
    { name: "dev/", type: "dir" },
    { name: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
    { name: "run/", type: "dir" },
    { name: "run/fifo", type: "fifo", mode: 0o600 },
  ]);
  // the hardlink target comes first, as tar writers order them
  const l3 = makeTar([
    { name: ".wh.var", data: "" },
    { name: "etc/", type: "dir" },
    { name: "etc/motd", data: "hello again\n" },
    { name: "bin/", type: "dir" },
    { name: "bin/sh-copy", data: "copy" },
    { name: "bin/ls", type: "hardlink", linkname: "bin/sh-copy" },
  ]);
  const layout = path.join(work, "layout");
  writeOciLayout(layout, [baseLayer(), l2, l3], { name: "localhost/three:1", gzip: true, history: ["base", "tweak", "cleanup"] });
  return (await archiveImporter(layout).run(ctx.store)).images[0]!;
}

describe("overlay root filesystems", () => {
  test("the merged view applies whiteouts and opaque dirs; diff, commit and export work", async () => {
    const img = await threeLayers();
    expect(img.layers.length).toBe(3);
    const lowers = ctx.store.snapshotDirs(img);
    expect(lowers.length).toBe(3);
    const cdir = path.join(work, "ctr");
    const { rootfs, upper } = mountContainerRootfs(lowers, cdir);
    mounted.push(cdir);
    expect(isMountPoint(rootfs)).toBe(true);

    const r = (p: string) => fs.readFileSync(path.join(rootfs, p), "utf8");
    const exists = (p: string) => fs.existsSync(path.join(rootfs, p));
    expect(r("bin/sh")).toBe("#!shell\n");
    expect(r("etc/passwd")).toBe("root:x:0:0:root:/root:/bin/sh\n");
    expect(exists("etc/hostname")).toBe(false);          // whited out in layer 2
    expect(r("etc/motd")).toBe("hello again\n");        // layer 3 wins
    expect(fs.readdirSync(path.join(rootfs, "opt/a"))).toEqual(["three"]); // opaque: one, two hidden
    expect(exists("var")).toBe(false);                  // whole dir deleted in layer 3
    const suid = fs.statSync(path.join(rootfs, "bin/suid"));
    expect(suid.mode & 0o7777).toBe(0o4755);
    expect([suid.uid, suid.gid]).toEqual([1000, 1000]);
    const dn = fs.statSync(path.join(rootfs, "dev/null"));
    expect(dn.isCharacterDevice() && dn.rdev === 0x103).toBe(true);
    expect(fs.statSync(path.join(rootfs, "run/fifo")).isFIFO()).toBe(true);
    expect(fs.statSync(path.join(rootfs, "bin/ls")).ino).toBe(fs.statSync(path.join(rootfs, "bin/sh-copy")).ino);

    // the container changes things
    fs.writeFileSync(path.join(rootfs, "etc/passwd"), "root:x:0:0::/root:/bin/sh\nnew:x:1:1::/:/bin/sh\n");
    fs.rmSync(path.join(rootfs, "bin/sh"));
    fs.mkdirSync(path.join(rootfs, "data"));
    fs.writeFileSync(path.join(rootfs, "data/x"), "x");
    fs.rmSync(path.join(rootfs, "opt/a"), { recursive: true });
    fs.mkdirSync(path.join(rootfs, "opt/a"));           // re-created: overlay makes it opaque
    fs.writeFileSync(path.join(rootfs, "opt/a/four"), "4");

    const changes = diffContainer(upper, lowers).map((c) => `${c.kind} ${c.path}`);
    expect(changes).toEqual(["C /bin", "D /bin/sh", "A /data", "A /data/x", "C /etc", "C /etc/passwd", "C /opt", "C /opt/a", "A /opt/a/four", "D /opt/a/three"]);

    // commit: a 4th layer whose whiteouts and opaque dir reproduce the container's view
    const committed = await commitContainer(ctx.store, { upper, image: img, ref: "localhost/committed:1", changes: ["CMD [\"/bin/true\"]"] });
    expect(committed.layers.length).toBe(4);
    expect(committed.chainIds.slice(0, 3)).toEqual(img.chainIds);
    expect(committed.config.Cmd).toEqual(["/bin/true"]);
    const cdir2 = path.join(work, "ctr2");
    const m2 = mountContainerRootfs(ctx.store.snapshotDirs(committed), cdir2);
    mounted.push(cdir2);
    expect(fs.existsSync(path.join(m2.rootfs, "bin/sh"))).toBe(false);
    expect(fs.readFileSync(path.join(m2.rootfs, "etc/passwd"), "utf8")).toContain("new:x:1:1");
    expect(fs.readdirSync(path.join(m2.rootfs, "opt/a"))).toEqual(["four"]);
    expect(fs.readFileSync(path.join(m2.rootfs, "data/x"), "utf8")).toBe("x");

    // export: the merged filesystem as a tar (no whiteouts, no hidden files)
    const names: string[] = [];
    const reader = new TarReader({ entry: (e) => names.push(e.name), data: () => {}, endEntry: () => {} });
    for await (const chunk of exportContainer(m2.rootfs)) reader.push(chunk);
    reader.finish();
    expect(names).toContain("etc/passwd");
    expect(names).toContain("opt/a/four");
    expect(names.some((n) => n.includes(".wh."))).toBe(false);
    expect(names).not.toContain("bin/sh");
    expect(names).not.toContain("opt/a/three");

    // image diff between the original and the committed image
    const d = diffImages(ctx.store, img, committed);
    expect(d.added.map((e) => e.path)).toEqual(["/data", "/data/x", "/opt/a/four"]);
    expect(d.removed.map((e) => e.path)).toEqual(["/bin/sh", "/opt/a/three"]);
    expect(d.changed.map((c) => `${c.path}:${c.what.join(",")}`)).toContain("/etc/passwd:content");
  });

  test("layer analysis: per-layer changes, efficiency and wasted bytes", async () => {
    const img = await threeLayers();
    const a = analyzeImage(ctx.store, img, { changes: true });
    expect(a.layers.map((l) => l.createdBy)).toEqual(["base", "tweak", "cleanup"]);
    const [l0, l1, l2] = a.layers;
    expect(l0!.added).toBe(6);                 // sh passwd hostname one two big
    expect(l1!.removed).toBe(3);               // hostname, opt/a/one, opt/a/two
    expect(l1!.modified).toBe(1);              // var/big
    expect(l1!.added).toBe(5);                 // motd three suid null fifo
    expect(l2!.removed).toBe(1);               // /var (with big inside)
    expect(l2!.removedBytes).toBe(20000);
    expect(l2!.changes!.find((c) => c.path === "/etc/motd")?.kind).toBe("M");
    // bytes stored but invisible in the final image: hostname(5)+one(1)+two(2)+big v1(10000)+big v2(20000)+motd v1(6)
    expect(a.wastedBytes).toBe(5 + 1 + 2 + 10000 + 20000 + 6);
    expect(a.efficiency).toBeGreaterThan(0);
    expect(a.efficiency).toBeLessThan(1);
    expect(a.inefficiencies[0]!.path).toBe("/var/big");

    const tree = imageTree(ctx.store, img);
    const byPath = new Map(tree.map((e) => [e.path, e]));
    expect(byPath.get("/etc/motd")?.layer).toBe(2);
    expect(byPath.get("/etc/passwd")?.layer).toBe(0);
    expect(byPath.has("/var")).toBe(false);
    const t1 = imageTree(ctx.store, img, 1);
    expect(t1.find((e) => e.path === "/var/big")?.size).toBe(20000);
  });
  test("an image with more layers than fit in one mount option string still mounts", async () => {
    const layers = Array.from({ length: 70 }, (_, i) => makeTar([{ name: `l${i}`, data: String(i) }, { name: "top", data: String(i) }]));
    const layout = path.join(work, "many");
    writeOciLayout(layout, layers, { name: "localhost/many:1" });
    const img = (await archiveImporter(layout).run(ctx.store)).images[0]!;
    const lowers = ctx.store.snapshotDirs(img);
    expect(lowers.join(":").length).toBeGreaterThan(4000);
    const cdir = path.join(work, "many-ctr");
    const { rootfs } = mountContainerRootfs(lowers, cdir);
    mounted.push(cdir);
    expect(fs.readFileSync(path.join(rootfs, "top"), "utf8")).toBe("69");
    expect(fs.readFileSync(path.join(rootfs, "l0"), "utf8")).toBe("0");
    expect(fs.readdirSync(rootfs).length).toBe(71);
  });
  test.skipIf(lacks(fs.existsSync("/bin/busybox"), "/bin/busybox (Debian's busybox-static)"))("a process inside the 3-layer rootfs sees the merged view", async () => {
    const bb = fs.readFileSync("/bin/busybox");
    const layers = [
      makeTar([
        { name: "bin/", type: "dir" }, { name: "bin/busybox", data: bb, mode: 0o755 }, { name: "bin/sh", type: "symlink", linkname: "busybox" },
        { name: "etc/", type: "dir" }, { name: "etc/hostname", data: "base\n" }, { name: "etc/motd", data: "v1\n" },
        { name: "data/", type: "dir" }, { name: "data/a", data: "a" }, { name: "data/b", data: "b" },
      ]),
      makeTar([{ name: "etc/.wh.hostname", data: "" }, { name: "etc/motd", data: "v2\n" }, { name: "data/.wh..wh..opq", data: "" }, { name: "data/c", data: "c" }]),
      makeTar([{ name: ".wh.data", data: "" }, { name: "data2/", type: "dir" }, { name: "data2/d", data: "d" }]),
    ];
    const layout = path.join(work, "bb3");
    writeOciLayout(layout, layers, { name: "localhost/bb3:1" });
    const img = (await archiveImporter(layout).run(ctx.store)).images[0]!;
    const cdir = path.join(work, "bb3-ctr");
    const { rootfs } = mountContainerRootfs(ctx.store.snapshotDirs(img), cdir);
    mounted.push(cdir);
    const script = "/bin/busybox cat /etc/motd; test -e /etc/hostname && echo hostname-visible; test -e /data && echo data-visible; /bin/busybox ls /data2";
    const r = Bun.spawnSync(["chroot", rootfs, "/bin/sh", "-c", script], { stdout: "pipe", stderr: "pipe" });
    expect({ out: r.stdout.toString(), err: r.stderr.toString() }).toEqual({ out: "v2\nd\n", err: "" });
  });
});


