// Real workloads under the host's kernel-enforced limits (v1 controllers on this host, or wherever
// the manager finds them): OOM kill, a fork bomb against pids.max, CPU throttling, freeze/thaw,
// live update, destroy with leftovers. Every test removes the cgroups it made.
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type CgroupManager, joinedArgv, openCgroup, runcOomEvent, runcStatsEvent } from "../../src/cgroups/index.ts";
import { leftovers, procState, uniqueName, unmountedController, waitFor } from "./helpers.ts";
import { HOST, lacks } from "../helpers/host.ts";

// With swap on and not accounted (v1, swapaccount=0), a memory hog swaps instead of being OOM-killed.
const NO_OOM = lacks(!HOST.swapEscapesV1Limit, "swap accounting while swap is on (memory limits cannot force an OOM kill)");

const made: { m: CgroupManager; path: string }[] = [];

function group(resources?: Parameters<CgroupManager["apply"]>[0]): { m: CgroupManager; path: string } {
  const path = "/" + uniqueName();
  const m = openCgroup({ cgroupsPath: path, containerId: "t" });
  made.push({ m, path });
  if (resources) m.apply(resources);
  else m.create();
  return { m, path };
}

function spawnIn(m: CgroupManager, argv: string[]) {
  return Bun.spawn(joinedArgv(m.procsFiles(), argv), { stdout: "pipe", stderr: "pipe" });
}

afterEach(() => {
  for (const { m, path } of made.splice(0)) {
    m.destroy();
    expect(leftovers(path)).toEqual([]);
  }
});

describe("memory", () => {
  test.skipIf(NO_OOM)("seed-002: a process allocating past a few-MiB limit is OOM-killed and counted", async () => {
    const limit = 8 << 20;
    const { m } = group({ memory: { limit, swap: limit } });
    expect(m.oomKillCount()).toBe(0);
    // dd's 64 MiB buffer is filled from /dev/zero: far more than the limit, with no swap to escape to.
    const p = spawnIn(m, ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]);
    await p.exited;
    expect(p.signalCode).toBe("SIGKILL");
    expect(m.oomKillCount()).toBeGreaterThanOrEqual(1);
    // the file the engine's monitor watches for the same count
    expect(readFileSync(m.oomEventsFile()!, "utf8")).toMatch(/^oom_kill [1-9]/m);
    const s = m.stats();
    expect(s.memory.limit).toBe(limit);
    // usage ran into the ceiling (failcnt is not reliable here: v1 leaves it at 0 when memsw is set)
    expect(s.memory.maxUsage).toBeGreaterThan(limit * 0.9);
    expect(s.memory.maxUsage).toBeLessThanOrEqual(limit);
    const event = runcStatsEvent("c1", s) as { data: { memory: { usage: { limit: number; failcnt: number } } } };
    expect(event.data.memory.usage.limit).toBe(limit);
    expect(event.data.memory.usage.failcnt).toBe(s.memory.failcnt);
    expect(event.data.memory.usage.limit).toBe(limit);
    expect(runcOomEvent("c1")).toEqual({ type: "oom", id: "c1" });
    // the host is fine: we can still run things outside the group
    expect(Bun.spawnSync(["true"]).exitCode).toBe(0);
  });

  test("a process within the limit runs to completion", async () => {
    const { m } = group({ memory: { limit: 64 << 20 } });
    const p = spawnIn(m, ["dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=4"]);
    expect(await p.exited).toBe(0);
    expect(m.oomKillCount()).toBe(0);
  });

  test("update with checkBeforeUpdate refuses a limit below usage; raising limit and swap works live", async () => {
    const { m } = group({ memory: { limit: 64 << 20, swap: 64 << 20 } });
    // a shell holding a few MiB in a variable keeps usage well above 4 KiB
    const p = spawnIn(m, ["sh", "-c", 'x=$(head -c 3000000 /dev/zero | tr "\\0" a); echo ready; sleep 1000']);
    const reader = p.stdout.getReader();
    await reader.read();
    expect(() => m.update({ memory: { limit: 4096, checkBeforeUpdate: true } })).toThrow(/below the current usage/);
    expect(readFileSync(join(m.paths().memory!, "memory.limit_in_bytes"), "utf8").trim()).toBe(String(64 << 20));
    m.update({ memory: { limit: 128 << 20, swap: 128 << 20 } }); // needs memsw raised before the limit
    expect(readFileSync(join(m.paths().memory!, "memory.limit_in_bytes"), "utf8").trim()).toBe(String(128 << 20));
    m.update({ memory: { limit: 32 << 20, swap: 32 << 20 } }); // and lowered after it
    expect(readFileSync(join(m.paths().memory!, "memory.limit_in_bytes"), "utf8").trim()).toBe(String(32 << 20));
    // Without swap accounting (swapaccount=0) there is no memsw file: swap equal to the limit is all there is.
    if (HOST.v1SwapAccounting) expect(readFileSync(join(m.paths().memory!, "memory.memsw.limit_in_bytes"), "utf8").trim()).toBe(String(32 << 20));
    p.kill(9);
    await p.exited;
  });
});

describe("pids", () => {
  test("a pids limit of 16 stops a fork bomb; the host is fine", async () => {
    const { m } = group({ pids: { limit: 16 } });
    const pidsDir = m.paths().pids!;
    expect(readFileSync(join(pidsDir, "pids.max"), "utf8").trim()).toBe("16"); // never start a bomb unlimited
    const bomb = spawnIn(m, ["sh", "-c", "b() { b | b & }; b; wait"]);
    await waitFor(() => (m.stats().pids.current >= 10), "the bomb to fill the group");
    const events = () => Number(/max (\d+)/.exec(readFileSync(join(pidsDir, "pids.events"), "utf8"))?.[1] ?? 0);
    await waitFor(() => events() > 0, "pids.events to count refused forks");
    for (let i = 0; i < 20; i++) {
      expect(m.stats().pids.current).toBeLessThanOrEqual(16);
      await Bun.sleep(10);
    }
    expect(Bun.spawnSync(["true"]).exitCode).toBe(0);
    m.killAll();
    expect(m.pids()).toEqual([]);
    await bomb.exited;
  });
});

describe("cpu", () => {
  test("a 20% quota on a busy loop shows throttling in the group's own counters", async () => {
    const { m } = group({ cpu: { quota: 20000, period: 100000 } });
    expect(readFileSync(join(m.paths().cpu!, "cpu.cfs_quota_us"), "utf8").trim()).toBe("20000");
    const p = spawnIn(m, ["sh", "-c", "while :; do :; done"]);
    try {
      await waitFor(() => m.stats().cpu.throttledPeriods >= 3, "nr_throttled to grow");
      const first = m.stats().cpu;
      expect(first.throttledTime).toBeGreaterThan(0);
      expect(first.periods).toBeGreaterThanOrEqual(first.throttledPeriods);
      await waitFor(() => m.stats().cpu.throttledTime > first.throttledTime, "throttled_time to keep growing");
      expect(m.stats().cpu.total).toBeGreaterThan(0);
    } finally {
      p.kill(9);
      await p.exited;
    }
  });

  test("shares, cpus and mems are written where the kernel keeps them", () => {
    const { m } = group({ cpu: { shares: 512, cpus: "0", mems: "0" } });
    expect(readFileSync(join(m.paths().cpu!, "cpu.shares"), "utf8").trim()).toBe("512");
    expect(readFileSync(join(m.paths().cpuset!, "cpuset.cpus"), "utf8").trim()).toBe("0");
  });
});

describe("freezer", () => {
  test("freeze stops every process of the group and thaw releases them", async () => {
    const { m } = group();
    const p = spawnIn(m, ["sh", "-c", "sleep 1000 & sleep 1000 & echo ready; while :; do :; done"]);
    await p.stdout.getReader().read();
    await waitFor(() => m.pids().length === 3, "three processes in the group");
    const pids = m.pids();
    m.freeze();
    expect(m.frozen()).toBe(true);
    if (m.paths().freezer) expect(readFileSync(join(m.paths().freezer!, "freezer.state"), "utf8").trim()).toBe("FROZEN");
    // v1 freezer parks tasks in TASK_FROZEN, which /proc reports as D
    if (m.paths().freezer) for (const pid of pids) expect(procState(pid)).toBe("D");
    const usage = m.stats().cpu.total;
    await Bun.sleep(200);
    expect(m.stats().cpu.total).toBe(usage); // the busy loop gets no CPU while frozen
    m.thaw();
    expect(m.frozen()).toBe(false);
    for (const pid of pids) expect(procState(pid)).not.toBe("D");
    await waitFor(() => m.stats().cpu.total > usage, "the busy loop to run again");
    p.kill(9);
    await p.exited;
  });
});

describe("lifecycle", () => {
  test("destroy kills leftover processes and removes sub-groups", async () => {
    const { m, path } = group();
    const p = spawnIn(m, ["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    await waitFor(() => m.pids().length === 3, "processes in the group");
    const nested = openCgroup({ cgroupsPath: path + "/child", containerId: "t", controllers: ["memory"] });
    nested.create();
    m.destroy();
    await p.exited;
    expect(leftovers(path)).toEqual([]);
  });

  test("relative paths go below the caller's own cgroup; apply rolls back what it created on error", () => {
    const rel = uniqueName();
    const m = openCgroup({ cgroupsPath: rel, containerId: "t" });
    const self = readFileSync("/proc/self/cgroup", "utf8");
    const memPath = /:memory:(.*)$/m.exec(self)?.[1] ?? "/";
    expect(m.paths().memory).toBe(join("/sys/fs/cgroup/memory", memPath, rel));
    // A failure after the groups exist: net_cls where it is not mounted, else a cpuset the kernel
    // refuses (no such CPU) — either way the groups made for this apply go again.
    const failing = m.paths().net_cls === undefined ? { network: { classID: 0x100001 } } : { cpu: { cpus: "100000" } };
    expect(() => m.apply({ memory: { limit: 64 << 20 }, ...failing })).toThrow(/net_cls|cpus/);
    expect(m.exists()).toBe(false);
    for (const d of Object.values(m.paths())) expect(require("node:fs").existsSync(d)).toBe(false);
  });

  test("clear errors for bad paths and unknown or unmounted controllers", () => {
    expect(() => openCgroup({ cgroupsPath: "/a/../../x", containerId: "t" })).toThrow(/escape/);
    expect(() => openCgroup({ cgroupsPath: "/x", containerId: "t", controllers: ["cpux"] })).toThrow(/unknown controller "cpux"/);
    const unmounted = unmountedController();
    if (!lacks(unmounted !== undefined, "controller left unmounted (every known one is mounted): 'not mounted' not checked")) {
      expect(() => openCgroup({ cgroupsPath: "/x", containerId: "t", controllers: [unmounted!] })).toThrow(/not mounted/);
    }
    expect(() => openCgroup({ containerId: "t", root: "/tmp" })).toThrow(/no cgroup hierarchy/);
  });
});

describe("block I/O", () => {
  // the block device under /var/tmp, if it is one (not tmpfs/overlay)
  const dev = require("node:fs").statSync("/var/tmp").dev as number;
  const major = (dev >> 8) & 0xfff, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  const isBlock = require("node:fs").existsSync(`/sys/dev/block/${major}:${minor}`);

  test.skipIf(lacks(isBlock, "block device under /var/tmp (tmpfs or overlay there)"))("throttles are written per device and direct I/O is accounted to the group", async () => {
    const { m } = group();
    const limits = { throttleWriteBpsDevice: [{ major, minor, rate: 512 << 20 }], throttleReadIOPSDevice: [{ major, minor, rate: 10000 }] };
    m.apply({ blockIO: limits });
    const dir = m.paths().blkio ?? m.paths().unified!;
    if (m.paths().blkio) {
      expect(readFileSync(join(dir, "blkio.throttle.write_bps_device"), "utf8").trim()).toBe(`${major}:${minor} ${512 << 20}`);
      expect(readFileSync(join(dir, "blkio.throttle.read_iops_device"), "utf8").trim()).toBe(`${major}:${minor} 10000`);
    }
    const p = spawnIn(m, ["sh", "-c", "dd if=/dev/zero of=/var/tmp/berth-blk-$$ bs=1M count=3 oflag=direct 2>/dev/null; rc=$?; rm -f /var/tmp/berth-blk-$$; exit $rc"]);
    expect(await p.exited).toBe(0);
    const written = m.stats().blkio.ioServiceBytesRecursive.find((e) => e.major === major && e.minor === minor && e.op === "Write");
    expect(written?.value).toBeGreaterThanOrEqual(3 << 20);
  });

  test("proportional weight: written where the scheduler keeps it, or a clear error", () => {
    const { m } = group();
    const d = m.paths().blkio;
    const hasWeight = d && ["blkio.weight", "blkio.bfq.weight"].some((f) => require("node:fs").existsSync(join(d, f)));
    if (hasWeight) {
      m.apply({ blockIO: { weight: 300 } });
      const f = require("node:fs").existsSync(join(d!, "blkio.weight")) ? "blkio.weight" : "blkio.bfq.weight";
      expect(readFileSync(join(d!, f), "utf8")).toContain("300");
    } else {
      expect(() => m.apply({ blockIO: { weight: 300 } })).toThrow(/weight/);
    }
    expect(() => m.apply({ blockIO: { weight: 5 } })).toThrow(/below the minimum 10/);
    expect(() => m.apply({ blockIO: { leafWeight: 300 } })).toThrow(/leaf/);
  });
});

describe("devices and other memory knobs", () => {
  test("device rules are enforced by the kernel", () => {
    const { m } = group({ devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rw" }] });
    const r = Bun.spawnSync(joinedArgv(m.procsFiles(), ["sh", "-c",
      "echo x > /dev/null && echo null-ok; head -c1 /dev/zero > /dev/null && echo zero-ok || echo zero-denied"]));
    expect(r.stdout.toString()).toBe("null-ok\nzero-denied\n");
    if (m.paths().devices) expect(readFileSync(join(m.paths().devices!, "devices.list"), "utf8").trim()).toBe("c 1:3 rw");
  });

  test("v1 swappiness, soft limit and OOM-killer switch land in their files", () => {
    const { m } = group();
    const d = m.paths().memory;
    if (!d) return expect(() => m.apply({ memory: { swappiness: 10 } })).toThrow(/memory/);
    m.apply({ memory: { swappiness: 10, reservation: 16 << 20, disableOOMKiller: true } });
    expect(readFileSync(join(d, "memory.swappiness"), "utf8").trim()).toBe("10");
    expect(readFileSync(join(d, "memory.soft_limit_in_bytes"), "utf8").trim()).toBe(String(16 << 20));
    expect(readFileSync(join(d, "memory.oom_control"), "utf8")).toContain("oom_kill_disable 1");
    expect(() => m.apply({ memory: { swappiness: 101 } })).toThrow(/above the maximum 100/);
  });
});
