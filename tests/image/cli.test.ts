// The CLI end to end (as bin/berth will run it), and the busybox image script.
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { mountContainerRootfs, unmountContainerRootfs } from "../../src/image/index.ts";
import { closeImageStore, openImageStore } from "../../src/image/index.ts";
import { tempDir } from "./helpers.ts";
import { lacks } from "../helpers/host.ts";

setDefaultTimeout(60_000); // heavy I/O; the machine may be shared

const repo = path.resolve(import.meta.dir, "../..");
const cli = path.join(repo, "src/cli/berth/image.ts");
let root: string;
let work: string;

beforeAll(() => {
  root = tempDir("cli-root");
  work = tempDir("cli-work");
});
afterAll(() => {
  closeImageStore(root);
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

function berth(...args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([process.execPath, cli, ...args], { env: { ...process.env, BERTH_ROOT: root }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe("berth image CLI", () => {
  test("import, images, tag, inspect, history, save, rmi, load, layers, tree, diff, prune", () => {
    const dir = path.join(work, "rootfs");
    fs.mkdirSync(path.join(dir, "etc"), { recursive: true });
    fs.writeFileSync(path.join(dir, "etc/app.conf"), "v=1\n");
    const imp = berth("import", dir, "localhost/app:1", "-c", "CMD [\"/app\"]", "-q");
    expect(imp.code).toBe(0);
    const id = imp.out.trim();
    expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);

    expect(berth("images", "-q").out.trim()).toBe(id.slice(7, 19));
    expect(berth("tag", "localhost/app:1", "app:2").code).toBe(0);
    const listed = berth("images", "--format", "{{.Repository}}:{{.Tag}}").out.trim().split("\n").sort();
    expect(listed).toEqual(["app:2", "localhost/app:1"]);

    expect(berth("images", "-q", "-f", "reference=local*/app").out.trim()).toBe(id.slice(7, 19));
    expect(berth("images", "-q", "-f", "dangling=true").out.trim()).toBe("");
    expect(berth("image", "inspect", "-f", "{{.Config.Cmd}} {{json .Config.Cmd}}", "app:2").out.trim()).toBe('[/app] ["/app"]');
    const inspect = JSON.parse(berth("image", "inspect", "app:2").out) as Array<{ Id: string; Config: { Cmd: string[] }; RootFS: { Layers: string[] } }>;
    expect(inspect[0]!.Id).toBe(id);
    expect(inspect[0]!.Config.Cmd).toEqual(["/app"]);
    expect(inspect[0]!.RootFS.Layers.length).toBe(1);
    expect(berth("history", "app:2").out).toContain("berth import");

    const archive = path.join(work, "app.tar");
    expect(berth("save", "-o", archive, "localhost/app:1").code).toBe(0);
    expect(berth("rmi", "app:2").out).toContain("Untagged: app:2");
    const rm = berth("rmi", "localhost/app:1");
    expect(rm.out).toContain(`Deleted: ${id}`);
    expect(berth("images", "-q").out.trim()).toBe("");
    const load = berth("load", "-i", archive);
    expect(load.code).toBe(0);
    expect(load.out.trim()).toBe("Loaded image: localhost/app:1");
    expect(berth("image", "inspect", "--format", "{{.Id}}", "localhost/app:1").out.trim()).toBe(id);

    // a second image on top for layers/tree/diff
    fs.writeFileSync(path.join(dir, "etc/app.conf"), "v=2\n");
    fs.writeFileSync(path.join(dir, "etc/extra"), "e");
    const id2 = berth("import", dir, "localhost/app:2", "-q").out.trim();
    const layers = JSON.parse(berth("image", "layers", "localhost/app:2", "--json").out) as { layers: Array<{ added: number }>; efficiency: number };
    expect(layers.layers[0]!.added).toBe(2);
    expect(layers.efficiency).toBe(1);
    const tree = JSON.parse(berth("image", "tree", "localhost/app:2", "--json").out) as Array<{ path: string; layer: number }>;
    expect(tree.map((e) => e.path)).toEqual(["/etc", "/etc/app.conf", "/etc/extra"]);
    const diff = JSON.parse(berth("image", "diff", "localhost/app:1", "localhost/app:2", "--json").out) as { added: Array<{ path: string }>; changed: Array<{ path: string }> };
    expect(diff.added.map((e) => e.path)).toEqual(["/etc/extra"]);
    expect(diff.changed.map((e) => e.path)).toEqual(["/etc/app.conf"]);

    // errors say what is wrong and exit non-zero
    const missing = berth("image", "inspect", "nope");
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("No such image: nope");
    expect(berth("save", "-o", path.join(work, "x.tar"), "nope").err).toContain("no such image: nope");
    expect(berth("frobnicate").code).toBe(2);

    const prune = berth("image", "prune", "-a", "-f");
    expect(prune.code).toBe(0);
    expect(prune.out).toContain(id2);
    expect(berth("images", "-q").out.trim()).toBe("");
  }, 60_000);
});

describe.skipIf(lacks(fs.existsSync("/bin/busybox"), "/bin/busybox (Debian's busybox-static)"))("scripts/make-busybox-image.sh", () => {
  test("builds a working, reproducible busybox:latest", () => {
    const run = () => Bun.spawnSync(["bash", path.join(repo, "scripts/make-busybox-image.sh")], { cwd: repo, env: { ...process.env, BERTH_ROOT: root, BUN: process.execPath }, stdout: "pipe", stderr: "pipe" });
    const r1 = run();
    expect(r1.exitCode).toBe(0);
    const store = openImageStore(root);
    const img = store.require("busybox");
    expect(img.names).toEqual(["docker.io/library/busybox:latest"]);
    expect(img.config.Cmd).toEqual(["sh"]);
    const r2 = run();
    expect(r2.exitCode).toBe(0);
    expect(store.require("busybox:latest").layers[0]!.diffId).toBe(img.layers[0]!.diffId);

    // the image works: mount it and run a shell command inside with chroot
    const cdir = path.join(work, "bb-ctr");
    const { rootfs } = mountContainerRootfs(store.snapshotDirs(img), cdir);
    try {
      const r = Bun.spawnSync(["chroot", rootfs, "/bin/sh", "-c", "echo hello from $(cat /etc/passwd | head -1 | cut -d: -f1) > /tmp/out; cat /tmp/out; ls /bin | wc -l"], { stdout: "pipe", stderr: "pipe" });
      expect(r.exitCode).toBe(0);
      const [line, count] = r.stdout.toString().trim().split("\n");
      expect(line).toBe("hello from root");
      expect(Number(count)).toBeGreaterThan(50);
    } finally {
      unmountContainerRootfs(cdir, true);
    }
  }, 60_000);
});
