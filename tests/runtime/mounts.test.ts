// root (readonly, propagation) and mounts: bind/rbind with flags, tmpfs with options, proc,
// sysfs, devpts, mqueue, cgroup, the order of mounts, and destinations that must never land on
// the host through a symlink in the rootfs.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBundles, type Bundle } from "../helpers/bundle.ts";
import { mountsUnder, runBundle, runtime, uniqueId, useStateRoot, useCleanups, runOk } from "../helpers/runtime.ts";

const root = useStateRoot();
const defer = useCleanups();

const newBundle = useBundles(defer);
const bundle = (cmd: string): Bundle => newBundle({ args: ["sh", "-c", cmd] });

function hostDir(): string {
  const d = mkdtempSync(join(tmpdir(), "berth-host-"));
  chmodSync(d, 0o755);
  defer(() => {
    for (const m of mountsUnder(d).reverse()) Bun.spawnSync(["umount", "-l", m]);
    rmSync(d, { recursive: true, force: true });
  });
  return d;
}

/** The mountinfo fields of the mount at `point`, from output of `cat /proc/self/mountinfo`. */
interface MountInfo { root: string; point: string; options: string[]; optional: string[]; type: string; source: string; superOptions: string[] }
function parseMountinfo(text: string): MountInfo[] {
  return text.split("\n").filter((l) => /^\d+ \d+ \d+:\d+ /.test(l)).map((l) => {
    const f = l.split(" ");
    const sep = f.indexOf("-");
    return {
      root: f[3]!, point: f[4]!, options: f[5]!.split(","), optional: f.slice(6, sep), type: f[sep + 1]!, source: f[sep + 2]!,
      superOptions: (f[sep + 3] ?? "").split(","),
    };
  });
}
function mountAt(text: string, point: string): MountInfo | undefined {
  return parseMountinfo(text).filter((m) => m.point === point).at(-1);
}

/** Runs the bundle in the foreground and insists it succeeded. */
const run = (b: Bundle): string => runOk(root, b);

describe("root", () => {
  test("root.readonly: / cannot be written", () => {
    const b = bundle("touch /file 2>&1; echo rc=$?");
    const out = run(b);
    expect(out).toMatch(/Read-only file system/);
    expect(out).toContain("rc=1");
    expect(existsSync(join(b.rootfs, "file"))).toBe(false);
  });

  test("root.readonly false: / is writable, and the write lands in the bundle's rootfs", () => {
    const b = bundle("echo inside > /file && echo ok");
    b.config.root!.readonly = false;
    expect(run(b)).toBe("ok\n");
    expect(Bun.file(join(b.rootfs, "file")).size).toBe(7);
  });

  test("root.path relative to the bundle", () => {
    const b = bundle("cat /marker");
    Bun.spawnSync(["mv", b.rootfs, join(b.dir, "other-root")]);
    writeFileSync(join(b.dir, "other-root/marker"), "moved\n");
    b.config.root!.path = "other-root";
    expect(run(b)).toBe("moved\n");
    Bun.spawnSync(["mv", join(b.dir, "other-root"), b.rootfs]);
  });

  test("rootfsPropagation: private leaves the root in no peer group, unbindable shows", () => {
    const priv = bundle("cat /proc/self/mountinfo");
    priv.config.linux!.rootfsPropagation = "private";
    expect(mountAt(run(priv), "/")!.optional).toEqual([]);

    const unb = bundle("cat /proc/self/mountinfo");
    unb.config.linux!.rootfsPropagation = "unbindable";
    expect(mountAt(run(unb), "/")!.optional).toContain("unbindable");
  });

  for (const prop of ["shared", "rshared", "slave", "rslave"]) {
    test(`rootfsPropagation ${prop} is accepted and the container runs`, () => {
      const b = bundle("echo up");
      b.config.linux!.rootfsPropagation = prop;
      expect(run(b)).toBe("up\n");
    });
  }

  test("rootfsPropagation: an invalid value is refused", () => {
    const b = bundle("true");
    b.config.linux!.rootfsPropagation = "sideways";
    b.save();
    const r = runBundle(root, b.dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("sideways");
  });

  test("--no-pivot still gives the container its own root", () => {
    const b = bundle("ls /; cat /proc/1/cmdline");
    b.save();
    const plain = runBundle(root, b.dir);
    const np = runtime(root, ["run", "--no-pivot", "-b", b.dir, uniqueId()]);
    expect(np.stderr).toBe("");
    expect(np.code).toBe(0);
    expect(np.stdout).toBe(plain.stdout);
  });
});

describe("bind mounts", () => {
  test("ro and rw binds", () => {
    const ro = hostDir(), rw = hostDir();
    writeFileSync(join(ro, "in-ro"), "ro content\n");
    const b = bundle("cat /ro/in-ro; touch /ro/x 2>/dev/null && echo ro-writable; echo from-container > /rw/out; echo done");
    b.config.mounts!.push(
      { destination: "/ro", type: "bind", source: ro, options: ["bind", "ro"] },
      { destination: "/rw", type: "bind", source: rw, options: ["bind", "rw"] },
    );
    expect(run(b)).toBe("ro content\ndone\n");
    expect(existsSync(join(ro, "x"))).toBe(false);
    expect(Bun.file(join(rw, "out")).size).toBe("from-container\n".length);
  });

  test("bind vs rbind: submounts come along only with rbind", () => {
    const src = hostDir();
    mkdirSync(join(src, "sub"));
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "berth-test", join(src, "sub")]).exitCode).toBe(0);
    writeFileSync(join(src, "sub/on-submount"), "x");
    const b = bundle("ls /plain/sub; echo --; ls /rec/sub");
    b.config.mounts!.push(
      { destination: "/plain", type: "bind", source: src, options: ["bind"] },
      { destination: "/rec", type: "bind", source: src, options: ["rbind"] },
    );
    expect(run(b)).toBe("--\non-submount\n");
  });

  test("nosuid, nodev, noexec on a bind show in mountinfo and noexec stops execution", () => {
    const src = hostDir();
    writeFileSync(join(src, "script"), "#!/bin/sh\necho ran\n");
    chmodSync(join(src, "script"), 0o755);
    const b = bundle("/x/script; echo rc=$?; /y/script; cat /proc/self/mountinfo");
    b.config.mounts!.push(
      { destination: "/x", type: "bind", source: src, options: ["rbind", "nosuid", "nodev", "noexec"] },
      { destination: "/y", type: "bind", source: src, options: ["rbind"] },
    );
    const out = run(b);
    expect(out).toMatch(/^.*Permission denied\n|^rc=126\n/);
    expect(out).toContain("rc=126");
    expect(out).toContain("ran\n");
    const x = mountAt(out, "/x")!;
    for (const o of ["nosuid", "nodev", "noexec"]) expect(x.options).toContain(o);
    const y = mountAt(out, "/y")!;
    expect(y.options).not.toContain("noexec");
  });

  test("bind propagation: rshared gives a peer group, rprivate none", () => {
    const src = hostDir();
    const b = bundle("cat /proc/self/mountinfo");
    b.config.mounts!.push(
      { destination: "/s", type: "bind", source: src, options: ["rbind", "rshared"] },
      { destination: "/p", type: "bind", source: src, options: ["rbind", "rprivate"] },
    );
    const out = run(b);
    expect(mountAt(out, "/s")!.optional.some((o) => o.startsWith("shared:"))).toBe(true);
    expect(mountAt(out, "/p")!.optional).toEqual([]);
  });

  test("a bind of a file onto a file", () => {
    const src = hostDir();
    writeFileSync(join(src, "f"), "single file\n");
    const b = bundle("cat /etc/bound");
    b.config.mounts!.push({ destination: "/etc/bound", type: "bind", source: join(src, "f"), options: ["bind", "ro"] });
    expect(run(b)).toBe("single file\n");
  });
});

describe("filesystem mounts", () => {
  test("tmpfs with options", () => {
    const b = bundle("stat -c %a /scratch; cat /proc/self/mountinfo");
    b.config.mounts!.push({ destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "noexec", "mode=700", "size=1m"] });
    const out = run(b);
    expect(out.split("\n")[0]).toBe("700");
    const m = mountAt(out, "/scratch")!;
    expect(m.type).toBe("tmpfs");
    for (const o of ["nosuid", "nodev", "noexec"]) expect(m.options).toContain(o);
    expect(m.superOptions).toContain("size=1024k");
    expect(m.superOptions).toContain("mode=700");
  });

  test("the default config's proc, sysfs (ro), devpts, shm, mqueue and cgroup mounts", () => {
    const out = run(bundle("cat /proc/self/mountinfo"));
    expect(mountAt(out, "/proc")!.type).toBe("proc");
    const sys = mountAt(out, "/sys")!;
    expect(sys.type).toBe("sysfs");
    expect(sys.options).toContain("ro");
    expect(mountAt(out, "/dev")!.type).toBe("tmpfs");
    const pts = mountAt(out, "/dev/pts")!;
    expect(pts.type).toBe("devpts");
    expect(pts.superOptions).toContain("ptmxmode=666");
    expect(mountAt(out, "/dev/shm")!.type).toBe("tmpfs");
    expect(mountAt(out, "/dev/mqueue")!.type).toBe("mqueue");
    // cgroup: v1/hybrid hosts get one mount per controller below /sys/fs/cgroup, v2 a cgroup2.
    const cg = parseMountinfo(out).filter((m) => m.point === "/sys/fs/cgroup" || m.point.startsWith("/sys/fs/cgroup/"));
    expect(cg.length).toBeGreaterThan(0);
    for (const m of cg.filter((m) => m.type.startsWith("cgroup"))) expect(m.options).toContain("ro");
  });

  test("the cgroup mount shows the container's own cgroup", () => {
    const controller = ["pids", "memory", "cpu"].find((c) => existsSync(`/sys/fs/cgroup/${c}/cgroup.procs`));
    const cmd = controller ? `cat /sys/fs/cgroup/${controller}/cgroup.procs` : "cat /sys/fs/cgroup/cgroup.procs";
    const procs = run(bundle(cmd)).trim().split("\n").map(Number);
    // The container's PID 1 (sh) and cat: the container's cgroup, not the host's root.
    expect(procs).toContain(1);
    expect(procs.length).toBeLessThanOrEqual(3);
  });

  test("a proc, sysfs and mqueue mount of one's own at other places", () => {
    const b = bundle("cat /proc/self/mountinfo; ls /p2/self/ >/dev/null && echo proc-ok; ls /s2/kernel >/dev/null && echo sys-ok");
    b.config.mounts!.push(
      { destination: "/p2", type: "proc", source: "proc" },
      { destination: "/s2", type: "sysfs", source: "sysfs", options: ["ro", "nosuid"] },
      { destination: "/m2", type: "mqueue", source: "mqueue" },
    );
    const out = run(b);
    expect(out).toContain("proc-ok\n");
    expect(out).toContain("sys-ok\n");
    expect(mountAt(out, "/p2")!.type).toBe("proc");
    expect(mountAt(out, "/s2")!.type).toBe("sysfs");
    expect(mountAt(out, "/m2")!.type).toBe("mqueue");
  });

  test("mounts are made in order: a tmpfs over a tmpfs hides what was before", () => {
    const b = bundle("ls /a; echo --; ls /a/b 2>&1 | head -1; cat /proc/self/mountinfo");
    b.config.mounts!.push(
      { destination: "/a", type: "tmpfs", source: "tmpfs", options: ["size=1m"] },
      { destination: "/a/b", type: "tmpfs", source: "tmpfs", options: ["size=2m"] },
    );
    const out = run(b);
    expect(out.startsWith("b\n--\n")).toBe(true);
    const points = parseMountinfo(out.slice(out.indexOf("\n", out.indexOf("--\n") + 3) + 1)).map((m) => m.point);
    expect(points.indexOf("/a")).toBeLessThan(points.indexOf("/a/b"));
  });

  test("missing destinations are created, nested", () => {
    const b = bundle("cat /proc/self/mountinfo");
    b.config.mounts!.push({ destination: "/deep/er/still", type: "tmpfs", source: "tmpfs" });
    expect(mountAt(run(b), "/deep/er/still")?.type).toBe("tmpfs");
  });
});

describe("destinations stay inside the rootfs", () => {
  test("an absolute symlink in the rootfs pointing at a host dir does not put the mount on the host", () => {
    const host = hostDir();
    const b = bundle("cat /proc/self/mountinfo");
    symlinkSync(host, join(b.rootfs, "escape"));
    b.config.mounts!.push({ destination: "/escape/sub", type: "tmpfs", source: "tmpfs", options: ["size=1m"] });
    b.save();
    const r = runBundle(root, b.dir);
    // Either the runtime resolves the link inside the rootfs (as runc does) or it refuses;
    // it never creates or mounts anything in the host directory.
    expect(readdirSync(host)).toEqual([]);
    expect(mountsUnder(host)).toEqual([]);
    expect(mountsUnder(b.dir)).toEqual([]);
    if (r.code === 0) {
      const m = parseMountinfo(r.stdout).find((m) => m.point.endsWith("/sub"))!;
      expect(m.type).toBe("tmpfs");
      expect(existsSync(join(b.rootfs, host, "sub"))).toBe(true);
    } else expect(r.stderr.length).toBeGreaterThan(0);
  });

  test("a destination whose last component is a symlink to a host dir", () => {
    const host = hostDir();
    const b = bundle("cat /proc/self/mountinfo");
    symlinkSync(host, join(b.rootfs, "escape"));
    b.config.mounts!.push({ destination: "/escape", type: "tmpfs", source: "tmpfs", options: ["size=1m"] });
    b.save();
    const r = runBundle(root, b.dir);
    expect(readdirSync(host)).toEqual([]);
    expect(mountsUnder(host)).toEqual([]);
    if (r.code !== 0) expect(r.stderr.length).toBeGreaterThan(0);
  });

  test("a symlink inside the rootfs is followed inside it (/lnk -> /data mounts on /data)", () => {
    const b = bundle("cat /proc/self/mountinfo");
    mkdirSync(join(b.rootfs, "data"));
    symlinkSync("/data", join(b.rootfs, "lnk"));
    b.config.mounts!.push({ destination: "/lnk", type: "tmpfs", source: "tmpfs", options: ["size=1m"] });
    expect(mountAt(run(b), "/data")?.type).toBe("tmpfs");
  });

  test("devices and /dev symlinks with /dev a symlink to a host dir (no /dev mount) stay inside", () => {
    const host = hostDir();
    const b = bundle("ls /dev >/dev/null 2>&1; true");
    rmSync(join(b.rootfs, "dev"), { recursive: true });
    symlinkSync(host, join(b.rootfs, "dev"));
    b.config.mounts = b.config.mounts!.filter((m) => !m.destination.startsWith("/dev"));
    b.config.linux!.devices = [{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o666 }];
    b.save();
    const r = runBundle(root, b.dir);
    expect(readdirSync(host)).toEqual([]);
    expect(mountsUnder(host)).toEqual([]);
    if (r.code !== 0) expect(r.stderr.length).toBeGreaterThan(0);
  });

  test("a relative symlink climbing with .. stays inside the rootfs too", () => {
    const host = hostDir();
    const b = bundle("true");
    symlinkSync("../../../../../../../../.." + host, join(b.rootfs, "climb"));
    b.config.mounts!.push({ destination: "/climb/sub", type: "tmpfs", source: "tmpfs" });
    b.save();
    runBundle(root, b.dir);
    expect(readdirSync(host)).toEqual([]);
  });

  test("a bind destination through a symlink to a host file does not overwrite it", () => {
    const host = hostDir();
    writeFileSync(join(host, "victim"), "original\n");
    const src = hostDir();
    writeFileSync(join(src, "payload"), "payload\n");
    const b = bundle("true");
    symlinkSync(join(host, "victim"), join(b.rootfs, "etc/victim"));
    b.config.mounts!.push({ destination: "/etc/victim", type: "bind", source: join(src, "payload"), options: ["bind", "rw"] });
    b.save();
    runBundle(root, b.dir);
    expect(Bun.file(join(host, "victim")).size).toBe("original\n".length);
    expect(mountsUnder(host)).toEqual([]);
  });
});
