// process: args, env, cwd, user (uid, gid, additionalGids, umask), rlimits, noNewPrivileges,
// oomScoreAdj, capabilities (all five sets). Each read back from /proc inside the container.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { useBundles, type Bundle } from "../helpers/bundle.ts";
import { IS_BERTH, ok, runtime, uniqueId, useStateRoot, useCleanups, runOk } from "../helpers/runtime.ts";

const root = useStateRoot();
const defer = useCleanups();

const newBundle = useBundles(defer);
const bundle = (args: string[]): Bundle => newBundle({ args });

const run = (b: Bundle): string => runOk(root, b);

/** Field of /proc/self/status as printed by the container. */
function field(status: string, name: string): string {
  const m = new RegExp(`^${name}:\\s+(.*)$`, "m").exec(status);
  if (!m) throw new Error(`no ${name} in:\n${status}`);
  return m[1]!.trim();
}

const CAP = { CHOWN: 0, KILL: 5, SETUID: 7, NET_BIND_SERVICE: 10, NET_RAW: 13, SYS_ADMIN: 21 } as const;
function mask(...bits: number[]): string {
  return bits.reduce((m, b) => m | (1n << BigInt(b)), 0n).toString(16).padStart(16, "0");
}

describe("args, env, cwd", () => {
  test("args reach the process verbatim (spaces, empty strings, quotes)", () => {
    const out = run(bundle(["sh", "-c", 'for a in "$@"; do echo "[$a]"; done', "sh", "a b", "", "it's", "$HOME"]));
    expect(out).toBe("[a b]\n[]\n[it's]\n[$HOME]\n");
  });

  test("env is exactly the configured environment", () => {
    const b = bundle(["env"]);
    b.config.process!.env = ["PATH=/bin", "FOO=bar baz", "EMPTY="];
    const env = run(b).trim().split("\n").sort();
    // runc adds HOME when the config has none; berth passes exactly what was configured.
    expect(IS_BERTH ? env : env.filter((e) => !e.startsWith("HOME="))).toEqual(["EMPTY=", "FOO=bar baz", "PATH=/bin"]);
  });

  test("argv[0] is looked up in the container's PATH", () => {
    const b = bundle(["busybox", "echo", "found"]);
    b.config.process!.env = ["PATH=/nowhere:/bin"];
    expect(run(b)).toBe("found\n");
  });

  test("cwd is used, and created when missing", () => {
    const b = bundle(["pwd"]);
    b.config.process!.cwd = "/work/here";
    expect(run(b)).toBe("/work/here\n");
    expect(existsSync(join(b.rootfs, "work/here"))).toBe(true);
  });
});

describe("user", () => {
  test("uid, gid and additionalGids", () => {
    const b = bundle(["cat", "/proc/self/status"]);
    b.config.process!.user = { uid: 1000, gid: 1001, additionalGids: [10, 20, 30] };
    const s = run(b);
    expect(field(s, "Uid").split(/\s+/)).toEqual(["1000", "1000", "1000", "1000"]);
    expect(field(s, "Gid").split(/\s+/)).toEqual(["1001", "1001", "1001", "1001"]);
    expect(field(s, "Groups").split(/\s+/).sort()).toEqual(["10", "20", "30"]);
  });

  test("no additionalGids: no supplementary groups", () => {
    const b = bundle(["cat", "/proc/self/status"]);
    b.config.process!.user = { uid: 65534, gid: 65534 };
    const s = run(b);
    expect(field(s, "Uid").split(/\s+/)[0]).toBe("65534");
    expect(/^Groups:\s*$/m.test(s)).toBe(true);
  });

  test("umask", () => {
    const b = bundle(["sh", "-c", "umask; touch /tmp/f; stat -c %a /tmp/f"]);
    b.config.process!.user = { uid: 0, gid: 0, umask: 0o027 };
    b.config.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" });
    expect(run(b)).toBe("0027\n640\n");
  });

  test("exec takes the container's user unless --user says otherwise", () => {
    const b = bundle(["sleep", "1000"]);
    b.config.process!.user = { uid: 1234, gid: 1234 };
    b.save();
    const id = uniqueId("user");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    expect(ok(root, ["exec", id, "id", "-u"]).stdout).toBe("1234\n");
    expect(ok(root, ["exec", "-u", "0", id, "id", "-u"]).stdout).toBe("0\n");
  });
});

describe("limits and privileges", () => {
  test("rlimits", () => {
    const b = bundle(["cat", "/proc/self/limits"]);
    b.config.process!.rlimits = [
      { type: "RLIMIT_NOFILE", soft: 100, hard: 200 },
      { type: "RLIMIT_CORE", soft: 0, hard: 0 },
      { type: "RLIMIT_NPROC", soft: 50, hard: 60 },
    ];
    const out = run(b);
    expect(out).toMatch(/^Max open files\s+100\s+200\s+files/m);
    expect(out).toMatch(/^Max core file size\s+0\s+0\s+bytes/m);
    expect(out).toMatch(/^Max processes\s+50\s+60\s+processes/m);
  });

  test("noNewPrivileges true and false", () => {
    const on = bundle(["cat", "/proc/self/status"]);
    on.config.process!.noNewPrivileges = true;
    expect(field(run(on), "NoNewPrivs")).toBe("1");
    const off = bundle(["cat", "/proc/self/status"]);
    off.config.process!.noNewPrivileges = false;
    expect(field(run(off), "NoNewPrivs")).toBe("0");
  });

  test("oomScoreAdj (raised: lowering needs CAP_SYS_RESOURCE, which this host lacks)", () => {
    const b = bundle(["cat", "/proc/self/oom_score_adj"]);
    b.config.process!.oomScoreAdj = 500;
    expect(run(b)).toBe("500\n");
  });

  test("oomScoreAdj holds for exec'd processes too", () => {
    const b = bundle(["sleep", "1000"]);
    b.config.process!.oomScoreAdj = 321;
    b.save();
    const id = uniqueId("oom");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    expect(ok(root, ["exec", id, "cat", "/proc/self/oom_score_adj"]).stdout).toBe("321\n");
  });
});

describe("capabilities", () => {
  const sets = {
    bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
    permitted: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
    effective: ["CAP_CHOWN", "CAP_KILL"],
    inheritable: ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
    ambient: ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
  };

  test("all five sets for a non-root user (ambient carries over execve)", () => {
    const b = bundle(["cat", "/proc/self/status"]);
    b.config.process!.user = { uid: 1000, gid: 1000 };
    b.config.process!.capabilities = sets;
    const s = run(b);
    expect(field(s, "CapBnd")).toBe(mask(CAP.CHOWN, CAP.KILL, CAP.NET_BIND_SERVICE, CAP.NET_RAW));
    expect(field(s, "CapInh")).toBe(mask(CAP.KILL, CAP.NET_BIND_SERVICE));
    expect(field(s, "CapAmb")).toBe(mask(CAP.KILL, CAP.NET_BIND_SERVICE));
    // A non-root process without file capabilities keeps exactly its ambient set after execve.
    expect(field(s, "CapPrm")).toBe(mask(CAP.KILL, CAP.NET_BIND_SERVICE));
    expect(field(s, "CapEff")).toBe(mask(CAP.KILL, CAP.NET_BIND_SERVICE));
  });

  test("all five sets for root with noNewPrivileges (execve cannot grow the permitted set)", () => {
    const b = bundle(["cat", "/proc/self/status"]);
    b.config.process!.capabilities = sets;
    b.config.process!.noNewPrivileges = true;
    const s = run(b);
    expect(field(s, "CapBnd")).toBe(mask(CAP.CHOWN, CAP.KILL, CAP.NET_BIND_SERVICE, CAP.NET_RAW));
    expect(field(s, "CapInh")).toBe(mask(CAP.KILL, CAP.NET_BIND_SERVICE));
    expect(field(s, "CapAmb")).toBe(mask(CAP.KILL, CAP.NET_BIND_SERVICE));
    // Root's execve would give Pinh | Pbnd; no_new_privs caps that at the permitted set given.
    expect(field(s, "CapPrm")).toBe(mask(CAP.CHOWN, CAP.KILL, CAP.NET_BIND_SERVICE));
    expect(field(s, "CapEff")).toBe(mask(CAP.CHOWN, CAP.KILL, CAP.NET_BIND_SERVICE));
  });

  test("root without noNewPrivileges: execve grants the bounding set", () => {
    const b = bundle(["cat", "/proc/self/status"]);
    b.config.process!.capabilities = sets;
    b.config.process!.noNewPrivileges = false;
    const s = run(b);
    // P'prm = (Pinh & Finh) | (Fprm & Pbnd) | Pamb, and root's file sets count as full.
    expect(field(s, "CapPrm")).toBe(mask(CAP.CHOWN, CAP.KILL, CAP.NET_BIND_SERVICE, CAP.NET_RAW));
    expect(field(s, "CapEff")).toBe(mask(CAP.CHOWN, CAP.KILL, CAP.NET_BIND_SERVICE, CAP.NET_RAW));
  });

  test("no capabilities: empty sets, and a privileged operation fails", () => {
    const b = bundle(["sh", "-c", "cat /proc/self/status; chown 1 /tmp/f 2>/dev/null && echo chowned || echo denied"]);
    b.config.process!.capabilities = { bounding: [], permitted: [], effective: [], inheritable: [], ambient: [] };
    b.config.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" });
    b.config.process!.args = ["sh", "-c", "touch /tmp/f; cat /proc/self/status; chown 1 /tmp/f 2>/dev/null && echo chowned || echo denied"];
    const s = run(b);
    for (const set of ["CapBnd", "CapInh", "CapAmb", "CapPrm", "CapEff"]) expect(field(s, set)).toBe(mask());
    expect(s.trim().split("\n").at(-1)).toBe("denied");
  });

  test("the default spec's capabilities", () => {
    const s = run(bundle(["cat", "/proc/self/status"]));
    const def = mask(29 /* AUDIT_WRITE */, CAP.KILL, CAP.NET_BIND_SERVICE);
    expect(field(s, "CapBnd")).toBe(def);
    expect(field(s, "CapEff")).toBe(def);
    expect(field(s, "CapPrm")).toBe(def);
    expect(field(s, "CapInh")).toBe(mask());
    expect(field(s, "CapAmb")).toBe(mask());
  });

  test("an unknown capability is refused with a message naming it", () => {
    const b = bundle(["true"]);
    b.config.process!.capabilities = { bounding: ["CAP_BOGUS"], permitted: [], effective: [] };
    b.save();
    const r = runtime(root, ["run", "-b", b.dir, uniqueId()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("CAP_BOGUS");
  });
});
