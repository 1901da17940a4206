// Images without /etc/passwd or /etc/group (every FROM scratch image with a static binary, a
// hand-made root as in the "containers from scratch" tutorials): docker runs them as 0:0 and takes
// numeric -u without any entry; only a user or group NAME the image lacks is an error.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { berth, cleanupRoot } from "./helpers.ts";

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "berth-scratch-"));
  // The directory holds one file: a static busybox. No /etc at all.
  const src = join(root, "src");
  mkdirSync(join(src, "bin"), { recursive: true });
  copyFileSync("/bin/busybox", join(src, "bin/busybox"));
  const r = berth(root, ["import", src, "scratchy"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  rmSync(src, { recursive: true });
});
afterAll(() => cleanupRoot(root));

const run = (...args: string[]) => berth(root, ["run", "--rm", "--network", "none", ...args]);

describe("an image without /etc/passwd", () => {
  test("runs as 0:0 with HOME=/", () => {
    const r = run("scratchy", "/bin/busybox", "sh", "-c", "/bin/busybox id; echo home=$HOME");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("uid=0 gid=0\nhome=/\n");
    expect(r.code).toBe(0);
  });
  test("numeric -u UID:GID and -u UID need no passwd or group entry", () => {
    expect(run("-u", "1000:1000", "scratchy", "/bin/busybox", "id").stdout).toBe("uid=1000 gid=1000\n");
    expect(run("-u", "1000", "scratchy", "/bin/busybox", "id").stdout).toBe("uid=1000 gid=0\n");
  });
  test("a user name the image lacks is docker's error, exit 125", () => {
    const r = run("-u", "bob", "scratchy", "/bin/busybox", "id");
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("unable to find user bob: no matching entries in passwd file");
    // "root" is a name too: docker refuses it where there is no passwd file.
    expect(run("-u", "root", "scratchy", "/bin/busybox", "id").stderr).toContain("unable to find user root: no matching entries in passwd file");
    const g = run("-u", "0:staff", "scratchy", "/bin/busybox", "id");
    expect(g.code).toBe(125);
    expect(g.stderr).toContain("unable to find group staff: no matching entries in group file");
  });
  test("ids stay range-checked", () => {
    const r = run("-u", "4294967295", "scratchy", "/bin/busybox", "id");
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("uids and gids must be in range 0-2147483647");
  });
  test("exec in a running container without passwd: 0:0 and numeric ids", () => {
    const id = berth(root, ["run", "-d", "--network", "none", "scratchy", "/bin/busybox", "sleep", "60"]).stdout.trim();
    try {
      expect(berth(root, ["exec", id, "/bin/busybox", "id"]).stdout).toBe("uid=0 gid=0\n");
      expect(berth(root, ["exec", "-u", "7:8", id, "/bin/busybox", "id"]).stdout).toBe("uid=7 gid=8\n");
      expect(berth(root, ["exec", "-u", "alice", id, "/bin/busybox", "id"]).stderr).toContain("unable to find user alice: no matching entries in passwd file");
    } finally {
      berth(root, ["rm", "-f", id]);
    }
  });
});
