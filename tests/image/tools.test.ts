// Archives written by other tools (umoci, skopeo) load; archives we write are read by them.
import { afterEach, beforeEach, describe, expect, test, setDefaultTimeout } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { archiveImporter, saveImages } from "../../src/image/index.ts";
import { tempDir, tempStore } from "./helpers.ts";
import { lacks } from "../helpers/host.ts";

setDefaultTimeout(60_000); // heavy I/O; the machine may be shared

const haveTools = Bun.which("umoci") !== null && Bun.which("skopeo") !== null;
let ctx: ReturnType<typeof tempStore>;
let work: string;

beforeEach(() => {
  ctx = tempStore("tools");
  work = tempDir("tools-work");
});
afterEach(() => {
  ctx.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

function run(cmd: string[], cwd = work): string {
  const r = Bun.spawnSync(cmd, { cwd, stderr: "pipe", stdout: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** A two-layer image made by umoci: an OCI layout dir with gzip layers. */
function umociImage(): string {
  const lay = path.join(work, "lay");
  run(["umoci", "init", "--layout", lay]);
  run(["umoci", "new", "--image", `${lay}:latest`]);
  const bundle = path.join(work, "bundle");
  run(["umoci", "unpack", "--image", `${lay}:latest`, bundle]);
  fs.mkdirSync(path.join(bundle, "rootfs/etc"), { recursive: true });
  fs.writeFileSync(path.join(bundle, "rootfs/etc/greeting"), "from umoci\n");
  fs.writeFileSync(path.join(bundle, "rootfs/etc/doomed"), "x");
  fs.symlinkSync("greeting", path.join(bundle, "rootfs/etc/link"));
  run(["umoci", "repack", "--refresh-bundle", "--image", `${lay}:latest`, bundle]);
  fs.rmSync(path.join(bundle, "rootfs/etc/doomed"));
  fs.writeFileSync(path.join(bundle, "rootfs/etc/greeting"), "from umoci, layer 2\n");
  run(["umoci", "repack", "--image", `${lay}:latest`, bundle]);
  run(["umoci", "config", "--image", `${lay}:latest`, "--config.cmd", "/bin/sh", "--config.env", "HELLO=world"]);
  return lay;
}

describe.skipIf(lacks(haveTools, "umoci and skopeo (scripts/install-system-deps.sh installs them)"))("archives from other tools", () => {
  test("umoci layout dir, skopeo oci-archive and skopeo docker-archive all load to the same image", async () => {
    const lay = umociImage();
    run(["skopeo", "copy", `oci:${lay}:latest`, `oci-archive:${work}/oci.tar:localhost/umo:oci`]);
    run(["skopeo", "copy", `oci:${lay}:latest`, `docker-archive:${work}/docker.tar:localhost/umo:docker`]);

    const fromDir = (await archiveImporter(lay).run(ctx.store, { names: ["localhost/umo:dir"] })).images[0]!;
    const fromOci = (await archiveImporter(`${work}/oci.tar`).run(ctx.store)).images[0]!;
    const fromDocker = (await archiveImporter(`${work}/docker.tar`).run(ctx.store)).images[0]!;
    expect(fromOci.digest).toBe(fromDir.digest);
    expect(fromOci.names).toContain("localhost/umo:oci");
    expect(fromDocker.names).toContain("localhost/umo:docker");
    // skopeo decompresses layers for docker-archive: same diff IDs, so the same snapshots
    expect(fromDocker.chainIds).toEqual(fromDir.chainIds);
    expect(fromDir.layers.length).toBe(2);
    expect(fromDir.config.Env).toContain("HELLO=world");
    expect(ctx.store.snapshots.list().length).toBe(2);
    const top = ctx.store.snapshotDirs(fromDir);
    expect(fs.readFileSync(path.join(top[0]!, "etc/greeting"), "utf8")).toBe("from umoci, layer 2\n");
    const wh = fs.lstatSync(path.join(top[0]!, "etc/doomed"));
    expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true);
    expect(fs.readlinkSync(path.join(top[1]!, "etc/link"))).toBe("greeting");
  });

  test("skopeo reads what berth save writes, in both formats", async () => {
    const lay = umociImage();
    const img = (await archiveImporter(lay).run(ctx.store, { names: ["localhost/umo:1"] })).images[0]!;
    for (const format of ["docker", "oci"] as const) {
      const file = path.join(work, `saved-${format}.tar`);
      const fd = fs.openSync(file, "w");
      for await (const c of saveImages(ctx.store, [img], format)) fs.writeSync(fd, c);
      fs.closeSync(fd);
      const transport = format === "docker" ? "docker-archive" : "oci-archive";
      const info = JSON.parse(run(["skopeo", "inspect", `${transport}:${file}`])) as { Layers: string[]; Env: string[] };
      expect(info.Env).toContain("HELLO=world");
      // skopeo describes a docker-archive by its uncompressed layers (diff IDs), an OCI archive by its blobs
      expect(info.Layers).toEqual(img.layers.map((l) => (format === "docker" ? l.diffId : l.digest)));
      // and skopeo can copy it on into a fresh layout that umoci lists
      const out = path.join(work, `copy-${format}`);
      run(["skopeo", "copy", `${transport}:${file}`, `oci:${out}:again`]);
      expect(run(["umoci", "ls", "--layout", out]).trim()).toBe("again");
    }
  });
});
