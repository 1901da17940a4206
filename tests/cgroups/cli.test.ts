// `berth cgroup …` as users run it: the seed workflow (create, set, exec under limits, stat,
// delete), v1 names on v2, and bad input — one clear line, non-zero exit, nothing half-created.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { discoverHierarchies, joinedArgv } from "../../src/cgroups/index.ts";
import { cli, leftovers, uniqueName, unmountedController, waitFor } from "./helpers.ts";
import { HOST, lacks } from "../helpers/host.ts";

const h = discoverHierarchies();
const names: string[] = [];
function newName(): string {
  const n = uniqueName();
  names.push(n);
  return n;
}

afterEach(() => {
  for (const n of names.splice(0)) {
    if (leftovers("/" + n).length) cli("delete", "-f", n);
    if (h.unified && existsSync(join(h.unified.mountPoint, n))) cli("--root", h.unified.mountPoint, "delete", "-f", n);
    expect(leftovers("/" + n)).toEqual([]);
  }
});

function oneLine(s: string): void {
  expect(s.trim().split("\n").length).toBe(1);
}

describe.skipIf(lacks(h.v1.has("memory") && h.v1.has("pids"), "cgroup v1 memory and pids controllers"))("v1 workflow", () => {
  test("a cpu group's CPU time is counted where the kernel keeps it (cpuacct, even when it is a hierarchy of its own)", () => {
    if (lacks(h.v1.has("cpu"), "a cgroup v1 cpu controller")) return;
    const n = newName();
    expect(cli("create", "-g", "cpu,memory:" + n).code).toBe(0);
    const acct = h.v1.get("cpuacct");
    if (acct) expect(existsSync(join(acct.mountPoint, n))).toBe(true);
    expect(cli("exec", "-g", "cpu,memory:" + n, "--", "sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done").code).toBe(0);
    const stat = cli("stat", n);
    expect(stat.code).toBe(0);
    const seconds = Number(/\ncpu\s+(\d+\.\d+)s/.exec(stat.stdout)?.[1]);
    expect(seconds).toBeGreaterThan(0);
    expect(JSON.parse(cli("stat", "--json", n).stdout).data.cpu.usage.total).toBeGreaterThan(0);
  });

  test("create, set, get, exec under an enforced memory limit, stat, list, delete", () => {
    const n = newName();
    expect(cli("create", "-g", "cpu,memory,pids:" + n).code).toBe(0);
    expect(existsSync(join(h.v1.get("memory")!.mountPoint, n))).toBe(true);
    expect(cli("create", "-g", "cpu,memory,pids:" + n).code).toBe(0); // idempotent
    const set = cli("set", "-r", "memory.limit_in_bytes=8M", "-r", "pids.max=16", "-r", "cpu.cfs_quota_us=20000", n);
    expect(set.code).toBe(0);
    expect(set.stderr).toBe("");
    // No way around the limit through swap, where the host has swap (and accounts it).
    if (HOST.v1SwapAccounting) expect(cli("set", "-r", "memory.memsw.limit_in_bytes=8M", n).code).toBe(0);
    const got = cli("get", "-r", "memory.limit_in_bytes", "-r", "pids.max", n);
    expect(got.stdout).toBe(`memory.limit_in_bytes: ${8 << 20}\npids.max: 16\n`);

    const inside = cli("exec", "-g", "memory,pids:" + n, "--", "cat", "/proc/self/cgroup");
    expect(inside.code).toBe(0);
    expect(inside.stdout).toContain(`:memory:/${n}`);
    expect(inside.stdout).toContain(`:pids:/${n}`);

    const canOom = !lacks(!HOST.swapEscapesV1Limit, "swap accounting while swap is on (memory limits cannot force an OOM kill)");
    if (canOom) {
      const oom = cli("exec", "-g", "memory:" + n, "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1");
      expect(oom.code).toBe(137);
      expect(oom.stderr).toContain("SIGKILL");
      expect(oom.stderr).toContain("out of memory");
    }

    const stat = cli("stat", n);
    expect(stat.code).toBe(0);
    expect(stat.stdout).toMatch(/memory\s+\S+\s+8\.0MiB/);
    if (canOom) expect(stat.stdout).toMatch(/oom_kill 1/);
    expect(stat.stdout).toMatch(/pids\s+0\s+16/);
    expect(stat.stdout).toContain("20% of a CPU");
    const json = JSON.parse(cli("stat", "--json", n).stdout);
    expect(json).toMatchObject({ type: "stats", data: { memory: { usage: { limit: 8 << 20 } }, pids: { limit: 16 } } });
    expect(cli("top", n, "-n", "2", "-d", "0.05").stdout.match(/RESOURCE/g)?.length).toBe(2);
    expect(cli("list").stdout).toContain(`:/${n}`);

    expect(cli("delete", n).code).toBe(0);
    expect(leftovers("/" + n)).toEqual([]);
  });

  test("exec under pids.max: the kernel refuses forks beyond the limit", () => {
    const n = newName();
    expect(cli("create", "-g", "pids:" + n).code).toBe(0);
    expect(cli("set", "-r", "pids.max=4", n).code).toBe(0);
    const r = cli("exec", "-g", "pids:" + n, "--", "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 0.2 & done; wait; echo done");
    expect(r.stderr.toLowerCase()).toMatch(/fork|resource temporarily unavailable/);
    const events = readFileSync(join(h.v1.get("pids")!.mountPoint, n, "pids.events"), "utf8");
    expect(Number(/max (\d+)/.exec(events)![1])).toBeGreaterThan(0);
  });

  test("attach moves a running process; delete refuses while it runs, -f kills it", async () => {
    const n = newName();
    expect(cli("create", "-g", "memory:" + n).code).toBe(0);
    const p = Bun.spawn(["sleep", "1000"]);
    expect(cli("attach", String(p.pid), n).code).toBe(0);
    expect(readFileSync(`/proc/${p.pid}/cgroup`, "utf8")).toContain(`:memory:/${n}`);
    const refused = cli("delete", n);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("still has processes");
    expect(cli("delete", "-f", n).code).toBe(0);
    await p.exited;
    expect(p.signalCode).toBe("SIGKILL");
  });
});

describe("bad input", () => {
  test("unknown controller, unmounted controller, '..': one line, non-zero, nothing created", () => {
    const n = newName();
    const unmounted = unmountedController(); // net_prio here; some hosts mount every controller
    const cases = [["create", "-g", `cpu,bogus:${n}`], ["create", "-g", `cpu:../${n}`], ["create", "-g", `cpu:a/../../${n}`]];
    if (!lacks(unmounted !== undefined, "controller left unmounted (every known one is mounted): 'not mounted' not checked")) {
      cases.push(["create", "-g", `cpu:${n}`, "-g", `${unmounted}:${n}-b`]);
    }
    for (const args of cases) {
      const r = cli(...args);
      expect(r.code).not.toBe(0);
      oneLine(r.stderr);
      expect(r.stderr).toMatch(new RegExp(`unknown controller "bogus"|${unmounted} is not mounted|"\\.\\."`));
    }
    expect(leftovers("/" + n)).toEqual([]);
    expect(leftovers(`/${n}-b`)).toEqual([]);
  });

  test.skipIf(lacks(h.v1.has("memory") && h.v1.has("pids"), "cgroup v1 memory and pids controllers"))("invalid values: negative, junk, below usage; nothing is written", async () => {
    const n = newName();
    expect(cli("create", "-g", "memory,pids:" + n).code).toBe(0);
    // a shell that holds ~3 MB inside the group, so its memory usage is well above 4 KiB
    const procs = join(h.v1.get("memory")!.mountPoint, n, "cgroup.procs");
    const p = Bun.spawn(joinedArgv([procs], ["sh", "-c", 'x=$(head -c 3000000 /dev/zero | tr "\\0" a); echo ready; sleep 1000']), { stdout: "pipe" });
    try {
      await p.stdout.getReader().read();
      for (const [kv, why] of [["memory.limit_in_bytes=-5", /not a size/], ["memory.limit_in_bytes=lots", /not a size/],
        ["memory.limit_in_bytes=4096", /below the group's current memory usage/], ["pids.max=-3", /negative/],
        ["memory.nosuch=1", /does not exist/], ["bogus.x=1", /unknown controller/], ["../x=1", /not a control file/]] as const) {
        const r = cli("set", "-r", "pids.max=7", "-r", kv, n);
        expect(r.code).not.toBe(0);
        oneLine(r.stderr);
        expect(r.stderr).toMatch(why);
      }
      // the valid pids.max=7 given alongside each bad value was never written
      expect(cli("get", "-r", "pids.max", n).stdout).toBe("pids.max: max\n");
    } finally {
      p.kill(9);
      await p.exited;
    }
  });

  test("missing groups, commands and arguments", () => {
    const n = newName();
    const cases: [string[], RegExp][] = [
      [["exec", "-g", `memory:${n}`, "--", "true"], /does not exist|no cgroup named/],
      [["exec", "-g", `memory:${n}`], /missing command/],
      [["stat", n], /no cgroup named/],
      [["frobnicate"], /unknown command/],
      [["set", n], /missing -r/],
      [["attach", "abc", n], /not a number/],
      [["attach", "999999999", n], /no cgroup named/],
      [["create", "-g", "memory"], /CTRL\[,CTRL…\]:NAME/],
    ];
    for (const [args, why] of cases) {
      const r = cli(...args);
      expect(r.code).not.toBe(0);
      oneLine(r.stderr);
      expect(r.stderr).toMatch(why);
    }
    expect(leftovers("/" + n)).toEqual([]);
  });

  test("--help for every command", () => {
    for (const c of ["create", "set", "get", "exec", "attach", "delete", "list", "stat", "top"]) {
      const r = cli(c, "--help");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`berth cgroup ${c}`);
    }
    expect(cli("--help").stdout).toContain("Commands:");
  });
});

describe.skipIf(lacks(h.unified !== undefined, "cgroup v2 hierarchy"))("cgroup v2 through --root", () => {
  const root = h.unified?.mountPoint ?? "";

  test("v1 names are mapped on v2 and the tool says so; exec runs inside the v2 group", () => {
    const n = newName();
    expect(cli("--root", root, "create", "-g", `unified:${n}`).code).toBe(0);
    const inside = cli("--root", root, "exec", "-g", `unified:${n}`, "--", "cat", "/proc/self/cgroup");
    expect(inside.stdout).toContain(`0::/${n}`);
    if (h.v2Controllers.has("hugetlb") && HOST.hugepages2MB) {
      const set = cli("--root", root, "set", "-r", "hugetlb.2MB.limit_in_bytes=2M", n);
      expect(set.code).toBe(0);
      expect(set.stderr).toContain("cgroup v2 has no hugetlb.2MB.limit_in_bytes; using hugetlb.2MB.max");
      expect(readFileSync(join(root, n, "hugetlb.2MB.max"), "utf8").trim()).toBe(String(2 << 20));
      expect(cli("--root", root, "get", "-r", "hugetlb.2MB.limit_in_bytes", n).stdout).toBe(`hugetlb.2MB.limit_in_bytes: ${2 << 20}\n`);
    }
    const mem = cli("--root", root, "set", "-r", "memory.limit_in_bytes=8M", n);
    if (!h.v2Controllers.has("memory")) {
      expect(mem.code).not.toBe(0);
      expect(mem.stderr).toMatch(/not in the memory controller/);
    }
    expect(cli("--root", root, "delete", n).code).toBe(0);
    expect(existsSync(join(root, n))).toBe(false);
  });

  test("freezer.state maps to cgroup.freeze: the kernel stops the attached process", async () => {
    const n = newName();
    expect(cli("--root", root, "create", "-g", `unified:${n}`).code).toBe(0);
    const p = Bun.spawn(["sh", "-c", "while :; do :; done"]);
    try {
      expect(cli("--root", root, "attach", String(p.pid), n).code).toBe(0);
      const frz = cli("--root", root, "set", "-r", "freezer.state=FROZEN", n);
      expect(frz.code).toBe(0);
      expect(frz.stderr).toContain("using cgroup.freeze");
      await waitFor(() => readFileSync(join(root, n, "cgroup.events"), "utf8").includes("frozen 1"), "the group to freeze");
      expect(cli("--root", root, "get", "-r", "freezer.state", n).stdout).toBe("freezer.state: FROZEN\n");
      const utime = () => Number(readFileSync(`/proc/${p.pid}/stat`, "utf8").split(") ")[1]!.split(" ")[11]);
      const before = utime();
      await Bun.sleep(200);
      expect(utime()).toBe(before);
      expect(cli("--root", root, "set", "-r", "freezer.state=THAWED", n).code).toBe(0);
      expect(cli("--root", root, "delete", "-f", n).code).toBe(0);
      await p.exited;
      expect(p.signalCode).toBe("SIGKILL");
    } finally {
      p.kill(9);
    }
  });
});
