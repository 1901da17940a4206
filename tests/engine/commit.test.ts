// commit, export and diff as a user runs them (their work is engine/commit.ts's): a stopped
// container's overlay is mounted only for the call, --pause decides whether a running one is
// frozen, and export writes to a file, a FIFO or a pipe.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BERTH, berth, cgroupsOf, cleanupRoot, engineRoot, mountsUnder } from "./helpers.ts";

let root = "";
let work = "";
beforeAll(async () => {
  root = await engineRoot();
  work = mkdtempSync(join(root, "work-"));
});
afterAll(() => cleanupRoot(root));

function tarList(file: string): string[] {
  return Bun.spawnSync(["tar", "-tf", file]).stdout.toString().split("\n").filter(Boolean);
}

describe("the mount points the runtime made", () => {
  // The busybox image has no /etc/hosts, /etc/hostname or /etc/resolv.conf: the runtime makes
  // empty files in the upper dir to bind-mount them. They are not the container's changes.
  test("are neither in diff nor in a commit's layer", () => {
    expect(berth(root, ["run", "--name", "stubs", "--network", "none", "busybox", "sh", "-c", "echo x > /only"]).code).toBe(0);
    expect(berth(root, ["diff", "stubs"]).stdout).toBe("A /only\n");
    expect(berth(root, ["commit", "stubs", "stubs:1"]).code).toBe(0);
    const file = join(mkdtempSync(join(root, "stubs-")), "stubs.tar");
    expect(berth(root, ["save", "-o", file, "stubs:1"]).code).toBe(0);
    const manifest = JSON.parse(Bun.spawnSync(["tar", "-xOf", file, "manifest.json"]).stdout.toString()) as Array<{ Layers: string[] }>;
    const top = manifest[0]!.Layers.at(-1)!;
    const layer = Bun.spawnSync(["sh", "-c", `tar -xOf ${file} ${top} | tar -t`]).stdout.toString().split("\n").filter(Boolean);
    expect(layer).toEqual(["only"]);
    expect(berth(root, ["rm", "stubs"]).code).toBe(0);
  });
});

describe("a stopped container's files", () => {
  let id = "";
  beforeAll(() => {
    id = berth(root, ["create", "--name", "done", "--network", "none", "busybox", "sh", "-c", "echo data > /made; rm /etc/group"]).stdout.trim();
    expect(berth(root, ["start", "-a", "done"]).code).toBe(0);
  });

  test("diff: added, changed, deleted; nothing stays mounted", () => {
    const lines = berth(root, ["diff", "done"]).stdout.split("\n");
    expect(lines).toContain("A /made");
    expect(lines).toContain("D /etc/group");
    expect(mountsUnder(root)).toEqual([]);
  });

  test("export to a file (through a temporary name), to a FIFO in place, and to a pipe", async () => {
    const file = join(work, "fs.tar");
    expect(berth(root, ["export", "-o", file, "done"]).code).toBe(0);
    expect(tarList(file)).toContain("made");
    expect(Bun.spawnSync(["ls", "-A", work]).stdout.toString()).toBe("fs.tar\n");

    const fifo = join(work, "fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const reader = Bun.spawn(["sh", "-c", `cat ${fifo} > ${join(work, "via-fifo.tar")}`]);
    expect(berth(root, ["export", "--output", fifo, "done"]).code).toBe(0);
    await reader.exited;
    expect(statSync(fifo).isFIFO()).toBe(true);
    expect(tarList(join(work, "via-fifo.tar"))).toContain("made");

    const piped = Bun.spawnSync(["sh", "-c", `${BERTH} --root ${root} export done | tar -t`]);
    expect(piped.stdout.toString().split("\n")).toContain("made");
    expect(mountsUnder(root)).toEqual([]);
  });

  test("commit with -c and -m makes an image that runs", () => {
    const c = berth(root, ["commit", "-c", 'CMD ["cat", "/made"]', "-m", "from a test", "done", "snap:1"]);
    expect(c.code).toBe(0);
    expect(c.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(berth(root, ["run", "--rm", "--network", "none", "snap:1"]).stdout).toBe("data\n");
    expect(berth(root, ["history", "snap:1"]).stdout).toContain("from a test");
    expect(berth(root, ["rm", id]).code).toBe(0);
    expect(berth(root, ["rmi", "snap:1"]).code).toBe(0);
  });
});

describe("commit of a running container", () => {
  /** Whether the container's cgroup was seen frozen while `commit ARGS` ran. */
  async function frozenDuring(id: string, args: string[]): Promise<boolean> {
    const files = cgroupsOf([id]).flatMap((d) => [join(d, "freezer.state"), join(d, "cgroup.freeze")]).filter(existsSync);
    expect(files.length).toBeGreaterThan(0);
    const p = Bun.spawn([BERTH, "--root", root, "commit", ...args], { stdout: "pipe", stderr: "pipe" });
    let frozen = false;
    while (p.exitCode === null) {
      for (const f of files) {
        try {
          const v = readFileSync(f, "utf8").trim();
          if (v === "FROZEN" || v === "FREEZING" || v === "1") frozen = true;
        } catch { /* gone */ }
      }
      await Bun.sleep(1);
    }
    expect(await p.exited).toBe(0);
    return frozen;
  }

  test("it is frozen during the copy unless --pause=false, and runs on after", async () => {
    // A big upper layer: the copy takes long enough to be seen.
    const id = berth(root, ["run", "-d", "--name", "busy", "--network", "none", "busybox", "sh", "-c", "head -c 64000000 /dev/urandom > /big; echo ok > /ready; sleep 600"]).stdout.trim();
    for (let i = 0; i < 300 && berth(root, ["exec", "busy", "cat", "/ready"]).stdout !== "ok\n"; i++) await Bun.sleep(100);
    expect(await frozenDuring(id, ["busy", "snap:paused"])).toBe(true);
    expect(await frozenDuring(id, ["--pause=false", "busy", "snap:live"])).toBe(false);
    expect(berth(root, ["inspect", "-f", "{{.State.Status}}", "busy"]).stdout).toBe("running\n");
    expect(berth(root, ["rm", "-f", "busy"]).code).toBe(0);
    expect(berth(root, ["rmi", "snap:paused", "snap:live"]).code).toBe(0);
  }, 180_000);
});

