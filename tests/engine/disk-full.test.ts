// A full disk (issue 18, item 6). The state root lives on a small tmpfs of its own, and the disk
// is filled for real: by a load of an archive larger than the file system, by a container writing
// until ENOSPC, by this test padding the last blocks. Every database is closed cleanly before,
// so the next command has to make SQLite's -shm anew (what failed with "disk I/O error").
// A failed load leaves nothing; ps, system df, rm, rmi, image prune, system prune and system
// reset still work on a full disk, free space and say how much.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BERTH, berth, cleanupRoot, engineRoot, eventually } from "./helpers.ts";
import { berthAt, closeDatabases, fillUp, freeBytes, importImage, killDuring, randomArchive, reclaimed, sizeOf, smallFs, temps, unpad } from "./disk-helpers.ts";

// system reset removes the root's networks: kernel names and subnet of this test's own.
const env = { BERTH_NETWORK_PREFIX: `df${process.pid % 10000}`, BERTH_NETWORK_SUBNET: `172.31.${100 + (process.pid % 150)}.0/24` };
const MB = 1 << 20;

let small: { dir: string; umount: () => void } | undefined;
let root = "";
let out = "";
let big = "";

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), "berth-diskfull-"));
  small = smallFs(48);
  root = join(small.dir, "root");
  await importImage(root, "busybox");
  await importImage(root, "extra", 4 * MB);
  big = join(out, "big.tar");
  await randomArchive(big, 64 * MB); // larger than the whole file system
}, 120_000);

afterAll(() => {
  if (root) cleanupRoot(root);
  small?.umount();
  if (out) rmSync(out, { recursive: true, force: true });
});

function run(args: string[]) {
  return berthAt(root, args, out, env);
}

/** Disk full to the last block, databases closed (no -shm, no -wal): the worst case for the next command. */
function diskFull(): void {
  unpad(small!.dir);
  closeDatabases(root);
  fillUp(small!.dir);
  expect(freeBytes(small!.dir)).toBeLessThan(64 << 10);
}

/** Kills a load of the big archive once it has written `bytes` to tmp/; returns what it left there. */
async function killedLoad(bytes: number): Promise<number> {
  unpad(small!.dir);
  await killDuring(root, ["load", "-i", big], 60_000, () => sizeOf(join(root, "tmp")) > bytes);
  expect(temps(root).length).toBeGreaterThan(0);
  return sizeOf(join(root, "tmp"));
}

describe("a full disk", () => {
  test("a load that runs out of space fails clearly and leaves nothing behind", () => {
    const blobs = readdirSync(join(root, "blobs/sha256")).sort();
    const snaps = readdirSync(join(root, "snapshots")).sort();
    const r = run(["load", "-i", big]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("no space left on device");
    expect(r.stderr).toContain("free space");
    expect(temps(root)).toEqual([]);
    expect(readdirSync(join(root, "blobs/sha256")).sort()).toEqual(blobs);
    expect(readdirSync(join(root, "snapshots")).sort()).toEqual(snaps);
    expect(run(["images", "--format", "{{.Repository}}"]).stdout.split("\n").filter(Boolean).sort()).toEqual(["busybox", "extra"]);
  }, 120_000);

  test("ps, system df and rm -f work when a container filled the disk, and rm gives the space back", async () => {
    const sig = join(out, "sig");
    mkdirSync(sig);
    // The container starts filling once told to, after the databases were closed.
    const r = run(["run", "-d", "--name", "filler", "--network", "none", "-v", `${sig}:/sig`, "busybox", "sh", "-c",
      "while [ ! -e /sig/go ]; do sleep 0.05; done; cat /dev/zero > /fill; touch /sig/done; sleep 600"]);
    expect(r.code).toBe(0);
    closeDatabases(root);
    writeFileSync(join(sig, "go"), "");
    expect(await eventually(() => readdirSync(sig).includes("done"), 60_000)).toBe(true);
    fillUp(small!.dir);
    expect(freeBytes(small!.dir)).toBeLessThan(64 << 10);

    const ps = run(["ps", "--format", "{{.Names}} {{.State}}"]);
    expect(ps.stderr).toBe("");
    expect(ps.code).toBe(0);
    expect(ps.stdout).toBe("filler running\n");
    const df = run(["system", "df"]);
    expect(df.stderr).toBe("");
    expect(df.code).toBe(0);
    expect(df.stdout).toContain("Temporary Files");
    const rm = run(["rm", "-f", "filler"]);
    expect(rm.stderr).toBe("");
    expect(rm.code).toBe(0);
    expect(freeBytes(small!.dir)).toBeGreaterThan(16 * MB);
    expect(run(["ps", "-aq"]).stdout).toBe("");
  }, 120_000);

  test("image prune and rmi work on a full disk and report what they freed", async () => {
    const left = await killedLoad(4 * MB);
    diskFull();
    const prune = run(["image", "prune", "-f"]);
    expect(prune.stderr).toBe("");
    expect(prune.code).toBe(0);
    expect(temps(root)).toEqual([]);
    expect(reclaimed(prune.stdout)).toBeGreaterThanOrEqual(left * 0.95); // humanSize rounds to 3 digits

    diskFull();
    const rmi = run(["rmi", "extra"]);
    expect(rmi.stderr).toBe("");
    expect(rmi.code).toBe(0);
    expect(rmi.stdout).toContain("Deleted: sha256:");
    expect(freeBytes(small!.dir)).toBeGreaterThan(4 * MB);
  }, 120_000);

  test("system prune on a full disk removes stopped containers, dangling images and dead temporaries, and says how much", async () => {
    expect(run(["create", "--name", "stopped", "--network", "none", "busybox", "true"]).code).toBe(0);
    expect(run(["run", "--name", "ran", "--network", "none", "busybox", "sh", "-c", "head -c 3000000 /dev/urandom > /data"]).code).toBe(0);
    // A dangling image: commit, then move its name to another image.
    expect(run(["commit", "ran", "dangling:1"]).code).toBe(0);
    expect(run(["tag", "busybox", "dangling:1"]).code).toBe(0);
    const left = await killedLoad(4 * MB);
    diskFull();
    const r = run(["system", "prune", "-f"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Deleted Containers:");
    expect(r.stdout).toContain("Deleted Images:");
    // the killed load's leftovers, the container's 3 MB and the committed layer's blob and snapshot (3 MB each)
    expect(reclaimed(r.stdout)).toBeGreaterThanOrEqual((left + 9_000_000) * 0.99); // humanSize rounds
    expect(temps(root)).toEqual([]);
    expect(run(["ps", "-aq"]).stdout).toBe("");
  }, 120_000);

  test("system reset works on a full disk", () => {
    expect(run(["run", "-d", "--name", "sleeper", "--network", "none", "busybox", "sleep", "600"]).code).toBe(0);
    diskFull();
    const r = run(["system", "reset", "-f"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(run(["ps", "-aq"]).stdout).toBe("");
    unpad(small!.dir);
  }, 120_000);
});

describe("temporaries of a load in progress", () => {
  test("system df shows them; ps, system df and system prune meanwhile never break the load", async () => {
    const root2 = await engineRoot();
    const archive = join(out, "mid.tar");
    try {
      await randomArchive(archive, 24 * MB, "mid:latest");
      const bytes = await Bun.file(archive).bytes();
      const load = Bun.spawn([BERTH, "--root", root2, "load"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      load.stdin.write(bytes.subarray(0, bytes.length >> 1));
      await load.stdin.flush();
      expect(await eventually(() => sizeOf(join(root2, "tmp")) > 4 * MB, 30_000)).toBe(true);

      expect(berth(root2, ["ps"]).code).toBe(0);
      const df = berth(root2, ["system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}"]);
      expect(df.code).toBe(0);
      const row = df.stdout.split("\n").find((l) => l.startsWith("Temporary Files "));
      expect(row).toBeDefined();
      const [total, active] = row!.slice("Temporary Files ".length).split(" ").map(Number);
      expect(total).toBeGreaterThan(0);
      expect(active).toBe(total!);
      // system prune waits for the load (it holds the image store's lock) and leaves its files alone.
      const prune = Bun.spawn([BERTH, "--root", root2, "system", "prune", "-f"], { stdout: "pipe", stderr: "pipe" });
      expect(temps(root2).length).toBeGreaterThan(0);
      load.stdin.write(bytes.subarray(bytes.length >> 1));
      await load.stdin.end();
      const [code, stdout, stderr] = [await load.exited, await new Response(load.stdout).text(), await new Response(load.stderr).text()];
      expect(stderr).toBe("");
      expect(stdout).toBe("Loaded image: mid:latest\n");
      expect(code).toBe(0);
      expect(await prune.exited).toBe(0);
      expect(temps(root2)).toEqual([]);
      expect(berth(root2, ["run", "--rm", "--network", "none", "mid", "sh", "-c", "wc -c < /random.bin"]).stdout.trim()).toBe(String(24 * MB));
    } finally {
      cleanupRoot(root2);
      rmSync(archive, { force: true });
    }
  }, 180_000);
});
