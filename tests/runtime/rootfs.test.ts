// What the runtime builds inside the root: default devices and /dev symlinks, linux.devices,
// maskedPaths, readonlyPaths, sysctl, hostname and domainname.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { useBundles, type Bundle } from "../helpers/bundle.ts";
import { runBundle, useStateRoot, useCleanups, runOk } from "../helpers/runtime.ts";

const root = useStateRoot();
const defer = useCleanups();

const newBundle = useBundles(defer);
const bundle = (cmd: string): Bundle => newBundle({ args: ["sh", "-c", cmd] });

const run = (b: Bundle): string => runOk(root, b);

/** `stat -c "%n %F %t:%T %a %u:%g"` lines → by name. */
function stats(out: string): Map<string, { type: string; dev: string; mode: string; owner: string }> {
  const m = new Map<string, { type: string; dev: string; mode: string; owner: string }>();
  for (const line of out.trim().split("\n")) {
    const match = /^(\S+) (.+) (\w+:\w+) (\d+) (\d+:\d+)$/.exec(line);
    if (match) m.set(match[1]!, { type: match[2]!, dev: match[3]!, mode: match[4]!, owner: match[5]! });
  }
  return m;
}

describe("devices", () => {
  test("default devices: char devices with the right numbers and mode 666", () => {
    const out = run(bundle('stat -c "%n %F %t:%T %a %u:%g" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty'));
    const s = stats(out);
    const want: Record<string, string> = { "/dev/null": "1:3", "/dev/zero": "1:5", "/dev/full": "1:7", "/dev/random": "1:8", "/dev/urandom": "1:9", "/dev/tty": "5:0" };
    for (const [path, dev] of Object.entries(want)) {
      const got = s.get(path);
      expect(got?.type).toBe("character special file");
      // stat prints major:minor in hex.
      expect(got!.dev.split(":").map((h) => parseInt(h, 16)).join(":")).toBe(dev);
      expect(got!.mode).toBe("666");
    }
  });

  test("default devices work: null swallows, zero gives zeros, full is full, urandom gives bytes", () => {
    const out = run(bundle("echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | od -An -tx1; echo x > /dev/full 2>/dev/null || echo full-refused; head -c 16 /dev/urandom | wc -c"));
    expect(out).toBe("null-ok\n 00 00 00 00\nfull-refused\n16\n");
  });

  test("/dev symlinks: fd, stdin, stdout, stderr, ptmx", () => {
    const out = run(bundle("for l in fd stdin stdout stderr ptmx; do echo $l $(readlink /dev/$l); done"));
    expect(out).toBe("fd /proc/self/fd\nstdin /proc/self/fd/0\nstdout /proc/self/fd/1\nstderr /proc/self/fd/2\nptmx pts/ptmx\n");
  });

  test("linux.devices: char, block and fifo with mode and owner", () => {
    const b = bundle('stat -c "%n %F %t:%T %a %u:%g" /dev/fuse /dev/loop-test /dev/myfifo');
    b.config.linux!.devices = [
      { path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o600, uid: 1, gid: 2 },
      { path: "/dev/loop-test", type: "b", major: 7, minor: 0, fileMode: 0o640, uid: 0, gid: 6 },
      { path: "/dev/myfifo", type: "p", fileMode: 0o620, uid: 0, gid: 0 },
    ];
    const s = stats(run(b));
    expect(s.get("/dev/fuse")).toEqual({ type: "character special file", dev: "a:e5", mode: "600", owner: "1:2" });
    expect(s.get("/dev/loop-test")).toEqual({ type: "block special file", dev: "7:0", mode: "640", owner: "0:6" });
    expect(s.get("/dev/myfifo")?.type).toBe("fifo");
    expect(s.get("/dev/myfifo")?.mode).toBe("620");
  });
});

describe("masked and read-only paths", () => {
  test("maskedPaths: /proc/kcore (or another masked /proc file this kernel has) reads empty, a masked directory is empty", () => {
    // This kernel may be built without /proc/kcore; every file here is in the default maskedPaths.
    const file = ["/proc/kcore", "/proc/timer_list", "/proc/keys", "/proc/sched_debug"].find((f) => existsSync(f))!;
    expect(readFileSync(file).length > 0 || file === "/proc/kcore").toBe(true);
    const out = run(bundle(`wc -c < ${file}; ls -A /sys/firmware | wc -l; touch /sys/firmware/x 2>/dev/null || echo ro; stat -c %t:%T ${file}`));
    expect(out.trim().split("\n").map((s) => s.trim())).toEqual(["0", "0", "ro", "1:3"]);
  });

  test("maskedPaths: a path of one's own", () => {
    const b = bundle("cat /etc/hidden; echo; ls /proc/self/fd >/dev/null && echo fine");
    Bun.write(`${b.rootfs}/etc/hidden`, "secret");
    b.config.linux!.maskedPaths = ["/etc/hidden"];
    b.config.root!.readonly = false;
    expect(run(b)).toBe("\nfine\n");
  });

  test("readonlyPaths: /proc/sys and /proc/sysrq-trigger cannot be written", () => {
    const b = bundle("echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo wrote || echo ro; grep ' /proc/sys ' /proc/self/mountinfo");
    const out = run(b);
    expect(out.split("\n")[0]).toBe("ro");
    expect(out.split("\n")[1]!.split(" ")[5]!.split(",")).toContain("ro");
  });

  test("readonlyPaths: a directory of one's own", () => {
    const b = bundle("touch /data/x 2>/dev/null && echo wrote || echo ro; touch /other/y && echo other-rw");
    b.config.mounts!.push(
      { destination: "/data", type: "tmpfs", source: "tmpfs" },
      { destination: "/other", type: "tmpfs", source: "tmpfs" },
    );
    b.config.linux!.readonlyPaths = ["/data"];
    expect(run(b)).toBe("ro\nother-rw\n");
  });
});

describe("sysctl, hostname, domainname", () => {
  test("sysctl in the container's own network namespace, host unchanged", () => {
    const host = readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8");
    const b = bundle("cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ip_default_ttl");
    b.config.linux!.sysctl = { "net.ipv4.ip_unprivileged_port_start": "80", "net/ipv4/ip_default_ttl": "42" };
    expect(run(b)).toBe("80\n42\n");
    expect(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8")).toBe(host);
  });

  test("sysctl: an IPC knob in the container's own IPC namespace", () => {
    const host = readFileSync("/proc/sys/kernel/msgmax", "utf8");
    const b = bundle("cat /proc/sys/kernel/msgmax");
    b.config.linux!.sysctl = { "kernel.msgmax": "12345" };
    expect(run(b)).toBe("12345\n");
    expect(readFileSync("/proc/sys/kernel/msgmax", "utf8")).toBe(host);
  });

  test("a sysctl no namespace of the container's own holds (kernel.panic) is refused, the host untouched", () => {
    // Written with the host's current value: a runtime that wrongly writes it through the
    // container's procfs changes nothing, and the test still catches it.
    const host = readFileSync("/proc/sys/kernel/panic", "utf8").trim();
    const b = bundle("cat /proc/sys/kernel/panic");
    b.config.linux!.sysctl = { "kernel.panic": host };
    b.save();
    const r = runBundle(root, b.dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("kernel.panic");
    expect(readFileSync("/proc/sys/kernel/panic", "utf8").trim()).toBe(host);
  });

  test("a network sysctl without a network namespace of one's own is refused", () => {
    const host = readFileSync("/proc/sys/net/ipv4/ip_default_ttl", "utf8").trim();
    const b = bundle("true");
    b.config.linux!.namespaces = b.config.linux!.namespaces!.filter((n) => n.type !== "network");
    b.config.mounts = b.config.mounts!.map((m) => (m.destination === "/sys" ? { destination: "/sys", type: "bind", source: "/sys", options: ["rbind", "ro", "nosuid", "noexec", "nodev"] } : m));
    b.config.linux!.sysctl = { "net.ipv4.ip_default_ttl": host };
    b.save();
    const r = runBundle(root, b.dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("ip_default_ttl");
    expect(readFileSync("/proc/sys/net/ipv4/ip_default_ttl", "utf8").trim()).toBe(host);
  });

  test("hostname and domainname", () => {
    const b = bundle("hostname; cat /proc/sys/kernel/domainname");
    b.config.hostname = "box-one";
    b.config.domainname = "example.test";
    expect(run(b)).toBe("box-one\nexample.test\n");
  });
});
