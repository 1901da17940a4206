// Safety, each shown: no fd leaks into the container beyond stdio and --preserve-fds; the cwd is
// always inside the container (CVE-2024-21626 class); nothing in a container can overwrite the
// host's runtime binary through /proc/PID/exe (CVE-2019-5736 class); stage 0 runs from a
// sealed memfd.
import { describe, expect, test } from "bun:test";
import { chmodSync, closeSync, copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBundles, type Bundle } from "../helpers/bundle.ts";
import { IS_BERTH, ok, processAlive, REPO, runtime, RUNTIME, stateOf, uniqueId, useStateRoot, waitFor, useCleanups } from "../helpers/runtime.ts";

const root = useStateRoot();
const defer = useCleanups();

const newBundle = useBundles(defer);
const bundle = (args: string[]): Bundle => newBundle({ args });

function hostDir(): string {
  const d = mkdtempSync(join(tmpdir(), "berth-host-"));
  chmodSync(d, 0o755);
  defer(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** An fd of ours (a host file) the runtime will inherit as fd 3. */
function hostFd(): { fd: number; path: string } {
  const path = join(hostDir(), "leak-me");
  const fd = openSync(path, "w+");
  defer(() => closeSync(fd));
  return { fd, path };
}

function fdsOf(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).sort((a, b) => Number(a) - Number(b));
}

function ppid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

describe("file descriptors", () => {
  test("the container's process has only stdio, though the runtime inherited more", () => {
    const { fd } = hostFd();
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("fds");
    ok(root, ["run", "-d", "-b", b.dir, id], { extraFds: [fd, fd] });
    expect(fdsOf(stateOf(root, id).pid!)).toEqual(["0", "1", "2"]);
  });

  test("from inside: /proc/self/fd shows stdio only (plus, at most, the listing's own directory fd)", () => {
    const { fd } = hostFd();
    const b = bundle(["ls", "-l", "/proc/self/fd"]);
    const r = runtime(root, ["run", "-b", b.dir, uniqueId("fdin")], { extraFds: [fd] });
    expect(r.code).toBe(0);
    const fds = r.stdout.split("\n").map((l) => /\s(\d+) -> /.exec(l)?.[1]).filter(Boolean);
    expect(fds.slice(0, 3)).toEqual(["0", "1", "2"]);
    expect(fds.length).toBeLessThanOrEqual(4); // ls may hold /proc/self/fd open while listing it
    for (const l of r.stdout.split("\n").filter((l) => / \d+ -> /.test(l) && !/ [012] -> /.test(l))) expect(l).toMatch(/-> \/proc\/\d+\/fd$/);
    expect(r.stdout).not.toContain("leak-me");
  });

  test("exec'd processes get only stdio too", () => {
    const { fd } = hostFd();
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("fdexec");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const pidFile = join(hostDir(), "pid");
    ok(root, ["exec", "-d", "--pid-file", pidFile, id, "sleep", "999"], { extraFds: [fd, fd, fd] });
    expect(fdsOf(Number(readFileSync(pidFile, "utf8")))).toEqual(["0", "1", "2"]);
  });

  test("--preserve-fds N passes fds 3..3+N-1 through, and no more", () => {
    const a = hostFd(), c = hostFd();
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("pfds");
    const r = runtime(root, ["run", "-d", "--preserve-fds", "1", "-b", b.dir, id], { extraFds: [a.fd, c.fd] });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const pid = stateOf(root, id).pid!;
    expect(fdsOf(pid)).toEqual(["0", "1", "2", "3"]);
    expect(readlinkSync(`/proc/${pid}/fd/3`)).toBe(a.path);
  });

  test("exec --preserve-fds", () => {
    const a = hostFd();
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("pfdx");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const r = runtime(root, ["exec", "--preserve-fds", "1", id, "sh", "-c", "echo through-fd3 >&3"], { extraFds: [a.fd] });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readFileSync(a.path, "utf8")).toBe("through-fd3\n");
  });
});

describe("cwd is resolved inside the container", () => {
  /** Where the process's cwd is, seen from the host: must be inside the bundle's rootfs. */
  function hostCwd(pid: number): string {
    return readlinkSync(`/proc/${pid}/cwd`);
  }

  test("process.cwd /proc/self/fd/N never starts the process outside the rootfs", () => {
    const host = hostDir();
    const dirFd = openSync(host, "r");
    defer(() => closeSync(dirFd));
    for (let n = 3; n <= 8; n++) {
      const b = bundle(["sleep", "1000"]);
      b.config.process!.cwd = `/proc/self/fd/${n}`;
      b.save();
      const id = uniqueId("cwdfd");
      const r = runtime(root, ["run", "-d", "-b", b.dir, id], { extraFds: [dirFd, dirFd, dirFd, dirFd, dirFd, dirFd] });
      if (r.code === 0) {
        const cwd = hostCwd(stateOf(root, id).pid!);
        expect(cwd.startsWith(realpathSync(b.rootfs) + "/") || cwd === realpathSync(b.rootfs)).toBe(true);
        runtime(root, ["delete", "--force", id]);
      } else {
        expect(r.stderr.trim().length).toBeGreaterThan(0);
        expect(runtime(root, ["state", id]).code).not.toBe(0);
      }
    }
  }, 60_000);

  test("exec --cwd /proc/self/fd/N never runs outside the rootfs", () => {
    const host = hostDir();
    const dirFd = openSync(host, "r");
    defer(() => closeSync(dirFd));
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("cwdex");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const rootfs = realpathSync(b.rootfs);
    for (let n = 3; n <= 8; n++) {
      const pidFile = join(hostDir(), "pid");
      const r = runtime(root, ["exec", "-d", "--pid-file", pidFile, "--cwd", `/proc/self/fd/${n}`, id, "sleep", "999"], { extraFds: [dirFd, dirFd, dirFd, dirFd, dirFd, dirFd] });
      if (r.code === 0) {
        const cwd = hostCwd(Number(readFileSync(pidFile, "utf8")));
        expect(cwd === rootfs || cwd.startsWith(rootfs + "/")).toBe(true);
      } else expect(r.stderr.trim().length).toBeGreaterThan(0);
    }
  }, 60_000);

  test("a cwd through a symlink to a host path stays in the rootfs", () => {
    const host = hostDir();
    const b = bundle(["sleep", "1000"]);
    symlinkSync(host, join(b.rootfs, "escape"));
    b.config.process!.cwd = "/escape/sub";
    b.config.root!.readonly = false;
    b.save();
    const id = uniqueId("cwdln");
    const r = runtime(root, ["run", "-d", "-b", b.dir, id]);
    expect(readdirSync(host)).toEqual([]);
    if (r.code === 0) {
      const cwd = hostCwd(stateOf(root, id).pid!);
      expect(cwd.startsWith(realpathSync(b.rootfs) + "/")).toBe(true);
    } else expect(r.stderr.trim().length).toBeGreaterThan(0);
  });
});

describe("the host's runtime binary", () => {
  // The binary a container might try to overwrite: berth-init for berth, the runtime itself otherwise.
  const target = IS_BERTH ? join(REPO, "build/berth-init") : realpathSync(Bun.which(RUNTIME) ?? RUNTIME);

  function sha256(path: string): string {
    return new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");
  }

  test("a container writing to every /proc/*/exe it sees during 20 execs cannot change it", async () => {
    const before = sha256(target);
    const backup = join(hostDir(), "backup");
    copyFileSync(target, backup);
    const b = bundle(["sh", "-c", 'while :; do for e in /proc/[0-9]*/exe; do (echo pwned >> "$e") 2>/dev/null; (echo pwned > "$e") 2>/dev/null; done; done']);
    const id = uniqueId("cve");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    try {
      for (let i = 0; i < 20; i++) {
        const r = runtime(root, ["exec", id, "true"]);
        // Not asserting the exec's success: a hostile container may make it fail; only the binary matters.
        void r;
      }
      expect(sha256(target)).toBe(before);
    } finally {
      runtime(root, ["delete", "--force", id]);
      if (sha256(target) !== before) copyFileSync(backup, target); // never leave a broken binary behind
    }
  }, 120_000);

  test.if(IS_BERTH)("stage 0 of a foreground run is a sealed memfd, not the host file", async () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("memfd");
    const fg = Bun.spawn([RUNTIME, "--root", root, "run", "-b", b.dir, id], { stdio: ["ignore", "ignore", "ignore"] });
    defer(() => fg.kill(9));
    await waitFor(() => runtime(root, ["state", id]).stdout.includes('"running"'), "the container to run");
    const stage0 = ppid(stateOf(root, id).pid!);
    expect(readlinkSync(`/proc/${stage0}/exe`)).toMatch(/^\/memfd:berth-init \(deleted\)$/);
    const probe = Bun.spawnSync(["python3", "-c", `
import fcntl, os
fd = os.open("/proc/${stage0}/exe", os.O_RDONLY)
print(fcntl.fcntl(fd, 1034))  # F_GET_SEALS
try:
    w = os.open("/proc/${stage0}/exe", os.O_WRONLY)
    os.write(w, b"x")
    print("written")
except OSError as e:
    print("refused", e.errno)
`], { stdout: "pipe", stderr: "pipe" });
    const [seals, write] = probe.stdout.toString().trim().split("\n");
    // F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
    expect(Number(seals) & 15).toBe(15);
    expect(write).toMatch(/^refused/);
    expect(processAlive(stage0)).toBe(true);
  });

  test.if(IS_BERTH)("the exec helper that stays with a foreground exec is a sealed memfd too", async () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("memfdx");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const fg = Bun.spawn([RUNTIME, "--root", root, "exec", id, "sleep", "998"], { stdio: ["ignore", "ignore", "ignore"] });
    defer(() => fg.kill(9));
    const init = stateOf(root, id).pid!;
    let execPid = 0;
    await waitFor(() => {
      const pids = JSON.parse(ok(root, ["ps", "--format", "json", id]).stdout) as number[];
      execPid = pids.find((p) => p !== init && readFileSync(`/proc/${p}/cmdline`, "utf8").startsWith("sleep\0" + "998")) ?? 0;
      return execPid > 0;
    }, "the exec'd process");
    expect(readlinkSync(`/proc/${ppid(execPid)}/exe`)).toMatch(/^\/memfd:berth-init \(deleted\)$/);
  });
});
