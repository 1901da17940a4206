// issue 18, items 3, 9 and 10: `berth cp` writes only where the container could (read-only bind
// mounts, volumes and --read-only, along the resolved path, running or stopped), copies a symlink
// as a link unless -L; `exec` and `run` give one exit status for a command that cannot start.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { berth, cleanupRoot, engineRoot, mountsUnder } from "./helpers.ts";

let root = "";
let host = "";
beforeAll(async () => {
  root = await engineRoot();
  host = mkdtempSync(join(tmpdir(), "berth-cpx-"));
  writeFileSync(join(host, "payload"), "from the host\n");
  // A tree whose copy would write below a read-only mount nested in a writable one.
  mkdirSync(join(host, "tree/ro"), { recursive: true });
  writeFileSync(join(host, "tree/a"), "a\n");
  writeFileSync(join(host, "tree/ro/inner"), "inner\n");
});
afterAll(() => {
  cleanupRoot(root);
  rmSync(host, { recursive: true, force: true });
});

/** A host directory with one file, and what it holds (to prove it untouched). */
function hostDir(name: string): { dir: string; snapshot: () => string } {
  const dir = join(host, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "keep"), "host data\n");
  const snapshot = () => JSON.stringify(readdirSync(dir).sort().map((f) => [f, lstatSync(join(dir, f)).isFile() ? readFileSync(join(dir, f), "utf8") : "?"]));
  return { dir, snapshot };
}

describe("cp respects read-only mounts", () => {
  test("a read-only bind mount is never written through, directly, by a symlink or as a tree, running or stopped: the host directory is untouched", () => {
    const { dir, snapshot } = hostDir("ro-bind");
    const before = snapshot();
    expect(berth(root, ["run", "-d", "--name", "robind", "--network", "none", "-v", `${dir}:/ro:ro`, "busybox", "sleep", "600"]).code).toBe(0);
    berth(root, ["exec", "robind", "ln", "-s", "/ro", "/via"]);
    const attempts = () => {
      for (const dest of ["robind:/ro/x", "robind:/ro/", "robind:/ro/keep", "robind:/via/x"]) {
        const r = berth(root, ["cp", join(host, "payload"), dest]);
        expect(r.stderr).toContain("mounted volume is marked read-only");
        expect(r.code).not.toBe(0);
      }
      expect(berth(root, ["cp", join(host, "tree"), "robind:/ro"]).code).not.toBe(0);
      expect(berth(root, ["cp", `${host}/tree/.`, "robind:/via"]).code).not.toBe(0);
      expect(snapshot()).toBe(before);
    };
    attempts(); // running: through the container's own mounts
    expect(berth(root, ["stop", "-t", "0", "robind"]).code).toBe(0);
    attempts(); // stopped: the bind's host directory is reached directly, and must still be refused
    expect(berth(root, ["rm", "robind"]).code).toBe(0);
    expect(snapshot()).toBe(before);
    expect(mountsUnder(root)).toEqual([]);
  }, 180_000);

  test("--read-only refuses the root; a volume in it is writable, a read-only bind in that volume is not; a tmpfs only while running", () => {
    const { dir, snapshot } = hostDir("ro-in-vol");
    const before = snapshot();
    expect(berth(root, ["run", "-d", "--name", "rofs", "--read-only", "--network", "none", "-v", "cpxvol:/data", "-v", `${dir}:/data/ro:ro`, "--tmpfs", "/scratch", "busybox", "sleep", "600"]).code).toBe(0);
    const payload = join(host, "payload");
    const root1 = berth(root, ["cp", payload, "rofs:/x"]);
    expect(root1.stderr).toContain("container rootfs is marked read-only");
    expect(root1.code).not.toBe(0);
    expect(berth(root, ["cp", payload, "rofs:/data/x"]).code).toBe(0);
    expect(berth(root, ["exec", "rofs", "cat", "/data/x"]).stdout).toBe("from the host\n");
    expect(berth(root, ["cp", payload, "rofs:/data/ro/x"]).stderr).toContain("mounted volume is marked read-only");
    // A tree whose "ro" lands on the read-only bind: refused before anything is written.
    expect(berth(root, ["cp", `${host}/tree/.`, "rofs:/data"]).code).not.toBe(0);
    expect(berth(root, ["exec", "rofs", "ls", "/data"]).stdout.split("\n").filter(Boolean).sort()).toEqual(["ro", "x"]);
    // A running container's tmpfs is reached in its own mount namespace.
    expect(berth(root, ["cp", payload, "rofs:/scratch/x"]).code).toBe(0);
    expect(berth(root, ["exec", "rofs", "cat", "/scratch/x"]).stdout).toBe("from the host\n");
    expect(berth(root, ["stop", "-t", "0", "rofs"]).code).toBe(0);
    // Stopped: the same rule; a tmpfs does not exist then, and cp says so instead of writing underneath.
    expect(berth(root, ["cp", payload, "rofs:/y"]).stderr).toContain("container rootfs is marked read-only");
    expect(berth(root, ["cp", payload, "rofs:/data/ro/y"]).stderr).toContain("mounted volume is marked read-only");
    expect(berth(root, ["cp", payload, "rofs:/data/y"]).code).toBe(0);
    const tmpfs = berth(root, ["cp", payload, "rofs:/scratch/y"]);
    expect(tmpfs.stderr).toContain("exists only while the container runs");
    expect(tmpfs.code).not.toBe(0);
    expect(berth(root, ["start", "rofs"]).code).toBe(0);
    expect(berth(root, ["exec", "rofs", "cat", "/data/y"]).stdout).toBe("from the host\n");
    expect(berth(root, ["rm", "-f", "rofs"]).code).toBe(0);
    expect(snapshot()).toBe(before);
    expect(berth(root, ["volume", "rm", "cpxvol"]).code).toBe(0);
  }, 180_000);
});

describe("host files a container can write", () => {
  test("--network host: copies of the host's hosts and resolv.conf, never the host's own files bound in read-write", () => {
    const files = ["/etc/hosts", "/etc/resolv.conf"].filter((f) => existsSync(f));
    const r = berth(root, ["run", "--rm", "--network", "host", "busybox", "sh", "-c", `stat -c %d:%i ${files.join(" ")}; cat /etc/hosts`]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    files.forEach((f, i) => {
      const st = statSync(f);
      expect([f, lines[i]]).not.toEqual([f, `${st.dev}:${st.ino}`]);
    });
    expect(lines.slice(files.length).join("\n")).toBe(readFileSync("/etc/hosts", "utf8"));
  }, 180_000);
});

describe("the engine reading a running container's files", () => {
  test("exec -u reads /etc/passwd and /etc/group only as regular files inside the root: a fifo there does not hang it", () => {
    expect(berth(root, ["run", "-d", "--name", "fifo", "--network", "none", "busybox", "sleep", "600"]).code).toBe(0);
    berth(root, ["exec", "fifo", "sh", "-c", "rm /etc/passwd /etc/group && mkfifo /etc/passwd /etc/group"]);
    const r = berth(root, ["exec", "-u", "0", "fifo", "true"], { timeoutMs: 20_000 });
    expect(r.code).toBe(0);
    expect(berth(root, ["exec", "-u", "www", "fifo", "true"], { timeoutMs: 20_000 }).stderr).toContain("unable to find user www");
    expect(berth(root, ["rm", "-f", "fifo"]).code).toBe(0);
  }, 180_000);
});

describe("cp and symlinks", () => {
  test("a symlink source is copied as a link (dangling too); -L follows it inside the container's root", () => {
    expect(berth(root, ["run", "-d", "--name", "links", "--network", "none", "busybox", "sleep", "600"]).code).toBe(0);
    berth(root, ["exec", "links", "sh", "-c", "echo target > /tmp/t && ln -s /tmp/t /link && ln -s /nowhere /dangling && mkdir /d && ln -s ../tmp /d/up"]);
    const out = join(host, "links-out");
    mkdirSync(out);
    expect(berth(root, ["cp", "links:/link", join(out, "a")]).code).toBe(0);
    expect(readlinkSync(join(out, "a"))).toBe("/tmp/t");
    expect(berth(root, ["cp", "links:/dangling", join(out, "b")]).code).toBe(0);
    expect(readlinkSync(join(out, "b"))).toBe("/nowhere");
    expect(berth(root, ["cp", "-L", "links:/link", join(out, "c")]).code).toBe(0);
    expect(lstatSync(join(out, "c")).isFile()).toBe(true);
    expect(readFileSync(join(out, "c"), "utf8")).toBe("target\n");
    expect(berth(root, ["cp", "-L", "links:/dangling", join(out, "d")]).code).not.toBe(0);
    // Into a directory the copy keeps the link's name; a link on the way (a parent) is resolved.
    expect(berth(root, ["cp", "-L", "links:/link", `${out}/`]).code).toBe(0);
    expect(readFileSync(join(out, "link"), "utf8")).toBe("target\n");
    expect(berth(root, ["cp", "links:/d/up/t", join(out, "e")]).code).toBe(0);
    expect(readFileSync(join(out, "e"), "utf8")).toBe("target\n");
    // Stopped: the same.
    expect(berth(root, ["stop", "-t", "0", "links"]).code).toBe(0);
    expect(berth(root, ["cp", "links:/link", join(out, "f")]).code).toBe(0);
    expect(readlinkSync(join(out, "f"))).toBe("/tmp/t");
    expect(berth(root, ["rm", "links"]).code).toBe(0);
  }, 180_000);

  test("a host symlink is copied in as a link (dangling too); -L copies what it points to", () => {
    expect(berth(root, ["run", "-d", "--name", "linksin", "--network", "none", "busybox", "sleep", "600"]).code).toBe(0);
    symlinkSync("/no/such/file", join(host, "dangling-in"));
    symlinkSync(join(host, "payload"), join(host, "link-in"));
    expect(berth(root, ["cp", join(host, "dangling-in"), "linksin:/tmp/"]).code).toBe(0);
    expect(berth(root, ["exec", "linksin", "readlink", "/tmp/dangling-in"]).stdout).toBe("/no/such/file\n");
    expect(berth(root, ["cp", join(host, "link-in"), "linksin:/tmp/"]).code).toBe(0);
    expect(berth(root, ["exec", "linksin", "readlink", "/tmp/link-in"]).stdout).toBe(`${join(host, "payload")}\n`);
    // -L over the link just copied: replaced by a regular file with the target's contents.
    expect(berth(root, ["cp", "-L", join(host, "link-in"), "linksin:/tmp/"]).code).toBe(0);
    expect(berth(root, ["exec", "linksin", "sh", "-c", "test -L /tmp/link-in || cat /tmp/link-in"]).stdout).toBe("from the host\n");
    expect(berth(root, ["rm", "-f", "linksin"]).code).toBe(0);
  }, 180_000);
});

describe("a command that cannot start: one rule for run and exec", () => {
  test("126 when it exists but cannot run (a directory, not executable), 127 when it does not exist", () => {
    expect(berth(root, ["run", "-d", "--name", "codes", "--network", "none", "busybox", "sleep", "600"]).code).toBe(0);
    const cases: [string, number, RegExp][] = [
      ["/etc", 126, /is a directory/],
      ["/etc/passwd", 126, /[Pp]ermission denied/],
      ["/no/such/file", 127, /[Nn]o such file or directory/],
      ["nosuchcommand", 127, /executable file not found in \$PATH/],
    ];
    for (const [cmd, code, message] of cases) {
      const exec = berth(root, ["exec", "codes", cmd]);
      expect([cmd, exec.code]).toEqual([cmd, code]);
      expect(exec.stderr).toMatch(message);
      const run = berth(root, ["run", "--rm", "--network", "none", "busybox", cmd]);
      expect([cmd, run.code]).toEqual([cmd, code]);
      expect(run.stderr).toMatch(message);
    }
    expect(berth(root, ["rm", "-f", "codes"]).code).toBe(0);
  }, 180_000);
});
