// The tar-breakout class: every way a layer entry could write outside its layer dir is refused,
// nothing lands outside, and the store is left without a half-made image.
import { afterEach, beforeEach, describe, expect, test, setDefaultTimeout } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { rootfsImporter } from "../../src/image/index.ts";
import { makeTar, type Spec, tempDir, tempStore, listTree } from "./helpers.ts";

setDefaultTimeout(60_000); // heavy I/O; the machine may be shared

let ctx: ReturnType<typeof tempStore>;
let outside: string;

beforeEach(() => {
  ctx = tempStore("hostile");
  outside = tempDir("outside");
  fs.writeFileSync(path.join(outside, "sentinel"), "untouched");
});
afterEach(() => {
  ctx.cleanup();
  fs.rmSync(outside, { recursive: true, force: true });
});

async function importTar(specs: Spec[]): Promise<Error | null> {
  const file = path.join(ctx.root, "layer.tar");
  fs.writeFileSync(file, makeTar(specs));
  try {
    await rootfsImporter(file).run(ctx.store, { names: ["hostile:latest"] });
    return null;
  } catch (e) {
    return e as Error;
  }
}

function expectNothingVisible(): void {
  expect(ctx.store.list()).toEqual([]);
  expect(ctx.store.snapshots.list()).toEqual([]);
  expect(fs.readFileSync(path.join(outside, "sentinel"), "utf8")).toBe("untouched");
  expect(listTree(outside)).toEqual(["sentinel f"]);
  expect(fs.readdirSync(path.join(ctx.root, "tmp"))).toEqual([]); // no half-unpacked leftovers either
}

// Relative ".." depth that reaches `outside` from the layer dir <root>/tmp/snap-…/diff
function upTo(dir: string): string {
  return "../".repeat(12) + dir.replace(/^\//, "");
}

describe("hostile layer tars", () => {
  test("'..' in a name is refused", async () => {
    const err = await importTar([{ name: `${upTo(outside)}/evil`, data: "x" }]);
    expect(err?.message).toContain("\"..\" path components are not allowed");
    expectNothingVisible();
  });

  test("'..' in the middle of a name is refused", async () => {
    const err = await importTar([{ name: "a/", type: "dir" }, { name: "a/../../evil", data: "x" }]);
    expect(err?.message).toContain("refusing layer entry");
    expectNothingVisible();
  });

  test("absolute names are refused", async () => {
    const err = await importTar([{ name: `${outside}/evil`, data: "x" }]);
    expect(err?.message).toContain("absolute paths are not allowed");
    expectNothingVisible();
  });

  test("a file under a symlink to an absolute dir outside is refused", async () => {
    const err = await importTar([
      { name: "escape", type: "symlink", linkname: outside },
      { name: "escape/evil", data: "x" },
    ]);
    expect(err?.message).toContain("its parent escape is a symlink");
    expectNothingVisible();
  });

  test("a file under a symlink to an inside dir is refused too (never followed)", async () => {
    const err = await importTar([
      { name: "real/", type: "dir" },
      { name: "alias", type: "symlink", linkname: "real" },
      { name: "alias/file", data: "x" },
    ]);
    expect(err?.message).toContain("is a symlink");
    expectNothingVisible();
  });

  test("a relative symlink climbing above the layer root is kept (as docker: it resolves inside the root when used), never written through", async () => {
    const err = await importTar([
      { name: "a/", type: "dir" },
      { name: "a/up", type: "symlink", linkname: `../${upTo(outside)}` },
      { name: "a/up/evil", data: "x" },
    ]);
    expect(err?.message).toContain("its parent a/up is a symlink");
    expectNothingVisible();
    expect(await importTar([{ name: "a/", type: "dir" }, { name: "a/up", type: "symlink", linkname: "../../../../etc" }])).toBeNull();
    const dir = ctx.store.snapshotDirs(ctx.store.require("hostile"))[0]!;
    expect(fs.readlinkSync(path.join(dir, "a/up"))).toBe("../../../../etc");
  });

  test("a hardlink to a file outside (absolute) is refused", async () => {
    const err = await importTar([{ name: "pw", type: "hardlink", linkname: path.join(outside, "sentinel") }]);
    expect(err?.message).toContain("absolute paths are not allowed");
    expectNothingVisible();
  });

  test("a hardlink climbing out with '..' is refused", async () => {
    const err = await importTar([{ name: "pw", type: "hardlink", linkname: `${upTo(outside)}/sentinel` }]);
    expect(err?.message).toContain("\"..\"");
    expectNothingVisible();
  });

  test("a hardlink through a symlinked dir is refused", async () => {
    const err = await importTar([
      { name: "escape", type: "symlink", linkname: outside },
      { name: "pw", type: "hardlink", linkname: "escape/sentinel" },
    ]);
    expect(err?.message).toContain("is a symlink");
    expectNothingVisible();
  });

  test("a symlink entry then a file of the same name does not write through the link", async () => {
    // the second entry replaces the symlink itself (O_EXCL|O_NOFOLLOW), it never follows it
    const err = await importTar([
      { name: "f", type: "symlink", linkname: path.join(outside, "sentinel") },
      { name: "f", data: "replaced" },
    ]);
    expect(err).toBeNull();
    expect(fs.readFileSync(path.join(outside, "sentinel"), "utf8")).toBe("untouched");
    const img = ctx.store.require("hostile");
    const dir = ctx.store.snapshotDirs(img)[0]!;
    expect(fs.lstatSync(path.join(dir, "f")).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(dir, "f"), "utf8")).toBe("replaced");
  });

  test("a whiteout of '..' is refused", async () => {
    const err = await importTar([{ name: "a/", type: "dir" }, { name: "a/.wh..", data: "" }]);
    expect(err?.message).toContain("refusing layer entry");
    expectNothingVisible();
  });

  test("overlay xattrs smuggled in a layer are dropped", async () => {
    const err = await importTar([{ name: "d/", type: "dir", xattrs: { "trusted.overlay.redirect": "/etc", "user.ok": "1" } }]);
    expect(err).toBeNull();
    const dir = ctx.store.snapshotDirs(ctx.store.require("hostile"))[0]!;
    const { readXattrs } = await import("../../src/storage/ffi.ts");
    const x = readXattrs(path.join(dir, "d"));
    expect(x?.has("trusted.overlay.redirect") ?? false).toBe(false);
    expect(new TextDecoder().decode(x?.get("user.ok"))).toBe("1");
  });

  test("a truncated layer is refused", async () => {
    const file = path.join(ctx.root, "layer.tar");
    const full = makeTar([{ name: "big", data: "y".repeat(5000) }]);
    fs.writeFileSync(file, full.subarray(0, 2048));
    let err: Error | null = null;
    try {
      await rootfsImporter(file).run(ctx.store, {});
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toContain("truncated");
    expectNothingVisible();
  });
});
