// What a container sees with the default config (`spec`): PID 1 is the user's process, its own
// hostname, only `lo`, its own namespaces and mount table, no host processes, no host files.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { makeBusyboxBundle, type Bundle } from "../helpers/bundle.ts";
import { ok, runBundle, runtime, stateOf, uniqueId, useStateRoot } from "../helpers/runtime.ts";
import { HOST } from "../helpers/host.ts";

const root = useStateRoot();
let b: Bundle;
let id: string;
let secretDir: string;

// One long-running container for the whole file; the per-test cleanup of useStateRoot would
// delete it, so it lives in its own root.
const sharedRoot = join(tmpdir(), `berth-test-iso-${process.pid}-${uniqueId()}`); // made by the runtime on first use

beforeAll(() => {
  secretDir = mkdtempSync(join(tmpdir(), "berth-secret-"));
  writeFileSync(join(secretDir, "secret"), "host only\n");
  b = makeBusyboxBundle({ args: ["sleep", "100000"] });
  b.config.hostname = "iso-" + Math.random().toString(36).slice(2, 8);
  // Every namespace there is: runc's spec (and so ours) has a cgroup one only on cgroup-v2-only hosts.
  if (!b.config.linux!.namespaces!.some((n) => n.type === "cgroup")) b.config.linux!.namespaces!.push({ type: "cgroup" });
  b.save();
  id = uniqueId("iso");
  ok(sharedRoot, ["run", "-d", "-b", b.dir, id]);
});

afterAll(() => {
  runtime(sharedRoot, ["delete", "--force", id]);
  rmSync(sharedRoot, { recursive: true, force: true });
  b.cleanup();
  rmSync(secretDir, { recursive: true, force: true });
});

/** Runs a command in the shared running container; throws on failure. */
function shared(...cmd: string[]): string {
  return ok(sharedRoot, ["exec", id, ...cmd]).stdout;
}

describe("isolation", () => {
  test("PID 1 is the user process", () => {
    expect(shared("cat", "/proc/1/cmdline")).toBe("sleep\0" + "100000\0");
    // And a container whose process reports its own pid sees 1.
    const one = makeBusyboxBundle({ args: ["sh", "-c", "echo $$"] });
    try {
      const r = runBundle(root, one.dir);
      expect(r.stdout).toBe("1\n");
      expect(r.code).toBe(0);
    } finally {
      one.cleanup();
    }
  });

  test("its own hostname", () => {
    const h = shared("hostname").trim();
    expect(h).toBe(b.config.hostname!);
    expect(h).not.toBe(hostname());
  });

  test("only lo in /proc/net/dev", () => {
    const ifaces = shared("cat", "/proc/net/dev").split("\n").slice(2).filter(Boolean).map((l) => l.split(":")[0]!.trim());
    expect(ifaces).toEqual(["lo"]);
  });

  test("own pid, net, ipc, uts, mnt, cgroup namespaces (inodes differ from the host's)", () => {
    for (const ns of ["pid", "net", "ipc", "uts", "mnt", "cgroup"]) {
      const mine = readlinkSync(`/proc/self/ns/${ns}`);
      const theirs = shared("readlink", `/proc/self/ns/${ns}`).trim();
      expect(theirs).toMatch(new RegExp(`^${ns}:\\[\\d+\\]$`));
      expect(theirs).not.toBe(mine);
      // The container's init (seen from the host) is in the same namespace as the exec'd process.
      expect(readlinkSync(`/proc/${stateOf(sharedRoot, id).pid}/ns/${ns}`)).toBe(theirs);
    }
    // Not asked for: shares the host's user and time namespaces.
    // (a kernel without time namespaces has no /proc/self/ns/time to compare)
    for (const ns of HOST.timeNamespaces ? ["user", "time"] : ["user"]) expect(shared("readlink", `/proc/self/ns/${ns}`).trim()).toBe(readlinkSync(`/proc/self/ns/${ns}`));
  });

  test("IPC: a SysV shm segment made on the host is not visible inside", () => {
    const r = Bun.spawnSync(["python3", "-c", `
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
shmid = libc.shmget(0x42e27e57, 4096, 0o1600)  # IPC_CREAT
print(shmid)
`], { stdout: "pipe" });
    const shmid = Number(r.stdout.toString().trim());
    expect(shmid).toBeGreaterThanOrEqual(0);
    try {
      expect(readFileSync("/proc/sysvipc/shm", "utf8")).toContain(String(shmid));
      const seen = shared("cat", "/proc/sysvipc/shm").split("\n").slice(1).filter(Boolean);
      expect(seen).toEqual([]);
    } finally {
      Bun.spawnSync(["python3", "-c", `import ctypes; ctypes.CDLL(None).shmctl(${shmid}, 0, None)`]);
    }
  });

  test("its own mount table, rooted at the bundle's rootfs", () => {
    const mounts = shared("cat", "/proc/self/mountinfo").split("\n").filter(Boolean);
    const rootMount = mounts.map((l) => l.split(" ")).find((f) => f[4] === "/")!;
    expect(rootMount[3]!.endsWith(`${basename(b.dir)}/rootfs`)).toBe(true);
    // Nothing from the host's mount table shows (the host's mounts are not under the rootfs).
    const points = mounts.map((l) => l.split(" ")[4]!);
    for (const p of points) expect(p === "/" || ["/proc", "/dev", "/sys"].some((t) => p === t || p.startsWith(t + "/"))).toBe(true);
  });

  test("cannot see host processes", () => {
    const pids = shared("ls", "/proc").split(/\s+/).filter((n) => /^\d+$/.test(n)).map(Number);
    // sleep (1) and the ls itself; nothing of the host's.
    expect(pids).toContain(1);
    expect(pids.length).toBeLessThanOrEqual(3);
    expect(shared("ps", "-o", "pid,comm").trim().split("\n").length).toBeLessThanOrEqual(3);
  });

  test("cannot see host files outside its rootfs", () => {
    const secret = join(secretDir, "secret");
    const r = runtime(sharedRoot, ["exec", id, "cat", secret]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toContain("host only");
    expect(shared("ls", "/").split(/\s+/).filter(Boolean).sort()).toEqual(
      readdirSync(b.rootfs).sort(),
    );
    // Climbing up from / stays at the container's /.
    expect(shared("ls", "/../../..").split(/\s+/).filter(Boolean).sort()).toEqual(readdirSync(b.rootfs).sort());
  });
});
