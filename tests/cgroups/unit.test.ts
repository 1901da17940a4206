// Pure parts: mountinfo parsing, layout rules, path resolution, v2 conversions, planning errors,
// the eBPF device program and the runc stats shape. No kernel state is touched.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseMountinfo, parseProcCgroup } from "../../src/cgroups/mountinfo.ts";
import { discoverHierarchies } from "../../src/cgroups/layout.ts";
import { cgroupDir, expandSlice, parseCgroupsPath, parseSystemdCgroupsPath } from "../../src/cgroups/path.ts";
import { planResources, type Homes } from "../../src/cgroups/resources.ts";
import {
  blkioWeightToIoWeight, CgroupError, deviceProgram, detectLayout, encodeProgram, parseBytes, runcStatsEvent,
  sharesToWeight, swapAccounting, swapToV2, weightToShares, type CgroupStats,
} from "../../src/cgroups/index.ts";

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`;
const V1 = `32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
`;
const V2 = `30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

describe("mountinfo and layout", () => {
  test("parses v1 controllers, named hierarchies and cgroup2 mounts", () => {
    const m = parseMountinfo(HYBRID);
    expect(m.map((x) => x.version)).toEqual([1, 1, 1, 1, 2]);
    expect(m[3]!.name).toBe("name=systemd");
    expect(m[3]!.controllers).toEqual([]);
    expect(parseMountinfo(V1)[0]!.controllers).toEqual(["cpu", "cpuacct"]);
    expect(parseMountinfo(V1)[1]!.root).toBe("/docker/abc");
  });

  test("classifies hybrid, v1 and v2 roots", () => {
    expect(discoverHierarchies("/sys/fs/cgroup", parseMountinfo(HYBRID)).layout).toBe("hybrid");
    expect(discoverHierarchies("/sys/fs/cgroup", parseMountinfo(V1)).layout).toBe("v1");
    expect(discoverHierarchies("/sys/fs/cgroup", parseMountinfo(V2)).layout).toBe("v2");
    expect(discoverHierarchies("/sys/fs/cgroup/unified", parseMountinfo(HYBRID)).layout).toBe("v2");
    expect(() => discoverHierarchies("/nowhere", parseMountinfo(HYBRID))).toThrow(/no cgroup hierarchy is mounted/);
  });

  test("the host's layout matches what its mountinfo says", () => {
    const mi = parseMountinfo(require("node:fs").readFileSync("/proc/self/mountinfo", "utf8"));
    const rootIsV2 = mi.some((m) => m.version === 2 && m.mountPoint === "/sys/fs/cgroup");
    const hasV1 = mi.some((m) => m.version === 1 && m.mountPoint.startsWith("/sys/fs/cgroup/"));
    const hasV2 = mi.some((m) => m.version === 2 && m.mountPoint.startsWith("/sys/fs/cgroup"));
    expect(detectLayout()).toBe(rootIsV2 ? "v2" : hasV1 && hasV2 ? "hybrid" : "v1");
  });

  test("/proc/PID/cgroup lines", () => {
    expect(parseProcCgroup("4:memory:/a/b\n0::/x\n")).toEqual([
      { id: 4, controllers: ["memory"], path: "/a/b" },
      { id: 0, controllers: [], path: "/x" },
    ]);
  });
});

describe("cgroupsPath", () => {
  test("default, absolute and relative paths", () => {
    expect(parseCgroupsPath(undefined, "c1")).toEqual({ absolute: true, path: "/berth/c1" });
    expect(parseCgroupsPath("/a//./b/", "c1")).toEqual({ absolute: true, path: "/a/b" });
    expect(parseCgroupsPath("x/y", "c1")).toEqual({ absolute: false, path: "x/y" });
    const [mem] = parseMountinfo(V1).slice(1);
    const self = parseProcCgroup("4:memory:/docker/abc/inner\n");
    // relative: below the caller's own cgroup, with the bind-mounted root stripped
    expect(cgroupDir(mem!, parseCgroupsPath("x", "c"), self)).toBe("/sys/fs/cgroup/memory/inner/x");
    expect(cgroupDir(mem!, parseCgroupsPath("/x", "c"), self)).toBe("/sys/fs/cgroup/memory/x");
  });

  test("rejects escapes, roots, systemd form and bad ids", () => {
    expect(() => parseCgroupsPath("/a/../../etc", "c")).toThrow(/"\.\."/);
    expect(() => parseCgroupsPath("../x", "c")).toThrow(/escape/);
    expect(() => parseCgroupsPath("/", "c")).toThrow(/root itself/);
    expect(() => parseCgroupsPath("system.slice:berth:c1", "c")).toThrow(/systemd/);
    expect(() => parseCgroupsPath(undefined, "../x")).toThrow(CgroupError);
  });

  test("systemd's slice:prefix:name form (--systemd-cgroup), as runc resolves it", () => {
    expect(parseSystemdCgroupsPath("system.slice:containerd:c1", "c1")).toEqual({ slice: "system.slice", unit: "containerd-c1.scope", path: "/system.slice/containerd-c1.scope" });
    expect(parseSystemdCgroupsPath("kubepods-besteffort.slice:cri:abc", "x").path).toBe("/kubepods.slice/kubepods-besteffort.slice/cri-abc.scope");
    expect(parseSystemdCgroupsPath(":berth:c1", "c1").slice).toBe("system.slice");
    expect(parseSystemdCgroupsPath("-.slice:p:pod.slice", "c").path).toBe("/pod.slice");
    expect(parseSystemdCgroupsPath(undefined, "c9").unit).toBe("runc-c9.scope");
    expect(() => parseSystemdCgroupsPath("/berth/c1", "c1")).toThrow('expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/berth/c1" instead');
    expect(() => parseSystemdCgroupsPath("a:b", "c1")).toThrow(/slice:prefix:name/);
    expect(() => expandSlice("a--b.slice")).toThrow("invalid slice name: a--b.slice");
    expect(() => expandSlice("user")).toThrow("invalid slice name: user");
    expect(() => parseSystemdCgroupsPath("x/y.slice:p:n", "c")).toThrow(/invalid slice name/);
  });
});

describe("v1 -> v2 conversions", () => {
  test("cpu.shares -> cpu.weight covers the range and the default", () => {
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(sharesToWeight(1024)).toBe(39);
    expect(sharesToWeight(weightToShares(100))).toBe(100);
  });
  test("blkio weight -> io.weight", () => {
    expect(blkioWeightToIoWeight(10)).toBe(1);
    expect(blkioWeightToIoWeight(1000)).toBe(10000);
    expect(blkioWeightToIoWeight(500)).toBe(4950);
  });
  test("memory+swap -> memory.swap.max", () => {
    expect(swapToV2(-1, 100)).toBe("max");
    expect(swapToV2(300, 100)).toBe("200");
    expect(() => swapToV2(50, 100)).toThrow(/below memory.limit/);
    expect(() => swapToV2(50, undefined)).toThrow(/needs a memory limit/);
  });
  test("sizes", () => {
    expect(parseBytes("8M", "x")).toBe(8 << 20);
    expect(parseBytes("-1", "x")).toBe(-1);
    expect(() => parseBytes("-5", "x")).toThrow(/not a size/);
    expect(() => parseBytes("lots", "x")).toThrow(/not a size/);
  });
});

describe("planning linux.resources", () => {
  const v2Homes = (controllers: string[]): Homes => ({
    find: (c) => (controllers.includes(c) ? { version: 2, dir: "/nonexistent/v2" } : undefined),
    unifiedDir: "/nonexistent/v2",
    describe: () => "test layout",
  });
  const v1Homes: Homes = { find: (c) => ({ version: 1, dir: `/nonexistent/${c}` }), describe: () => "v1 test layout" };

  test("v2 converts shares, quota and blkio weight", () => {
    const steps = planResources({ cpu: { shares: 1024, quota: 20000, period: 100000 }, blockIO: { weight: 500 }, pids: { limit: -1 } }, v2Homes(["cpu", "io", "pids"]));
    const writes = steps.flatMap((s) => (s.kind === "write" ? [`${s.file.split("/").pop()}=${s.value}`] : []));
    expect(writes).toEqual(["cpu.weight=39", "cpu.max=20000 100000", "pids.max=max", "io.weight=default 4950"]);
  });

  test("values with no home on v2 are errors, not silence", () => {
    const h = v2Homes(["memory", "cpu"]);
    expect(() => planResources({ memory: { swappiness: 10 } }, h)).toThrow(/swappiness has no equivalent/);
    expect(() => planResources({ memory: { kernel: 1 << 20 } }, h)).toThrow(/kernel has no equivalent/);
    expect(() => planResources({ memory: { disableOOMKiller: true } }, h)).toThrow(/cannot disable the OOM killer/);
    expect(() => planResources({ cpu: { realtimeRuntime: 1000 } }, h)).toThrow(/RT bandwidth/);
    expect(() => planResources({ network: { classID: 1 } }, h)).toThrow(/net_cls/);
    expect(() => planResources({ pids: { limit: 5 } }, h)).toThrow(/needs the pids controller/);
  });

  test("invalid values are refused before anything is written", () => {
    expect(() => planResources({ memory: { limit: -5 } }, v1Homes)).toThrow(/below the minimum 0 \(use -1 for unlimited\)/);
    expect(() => planResources({ cpu: { shares: 1.5 } }, v1Homes)).toThrow(/not an integer/);
    expect(() => planResources({ cpu: { cpus: "0-1; rm" } }, v1Homes)).toThrow(/not a list/);
    expect(() => planResources({ memory: { limit: 100, swap: 50 } }, v1Homes)).toThrow(/swap/);
    expect(() => planResources({ devices: [{ allow: true, type: "x" }] }, v1Homes)).toThrow(/must be a, c or b/);
    expect(() => planResources({ unified: { "memory.high": "1" } }, v1Homes)).toThrow(/no cgroup v2 hierarchy/);
  });

  test("values are checked before asking where they live: the same error on every host", () => {
    // A host with no controller at all, and one without BFQ (no blkio weight file): a bad value
    // is still reported as a bad value, as runc does, not as "no equivalent here".
    const none: Homes = { find: () => undefined, describe: () => "nothing mounted" };
    const noBfq: Homes = { find: (c) => (c === "blkio" ? { version: 1, dir: "/nonexistent/blkio" } : undefined), describe: () => "blkio only" };
    for (const homes of [none, noBfq, v1Homes, v2Homes(["memory", "cpu", "io", "pids"])]) {
      expect(() => planResources({ blockIO: { weight: 5 } }, homes)).toThrow(/blockIO.weight: 5 is below the minimum 10/);
      expect(() => planResources({ blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 2000 }] } }, homes)).toThrow(/weightDevice\[0\].weight: 2000 is above the maximum 1000/);
      expect(() => planResources({ blockIO: { throttleReadBpsDevice: [{ major: -1, minor: 0, rate: 1 }] } }, homes)).toThrow(/major: -1 is below the minimum 0/);
      expect(() => planResources({ memory: { swappiness: 101 } }, homes)).toThrow(/swappiness: 101 is above the maximum 100/);
      expect(() => planResources({ memory: { limit: 100 << 20, swap: 50 << 20 } }, homes)).toThrow(/swap=52428800 is below linux.resources.memory.limit/);
      expect(() => planResources({ memory: { kernel: -7 } }, homes)).toThrow(/kernel: -7 is below the minimum 0/);
      expect(() => planResources({ cpu: { shares: 300000 } }, homes)).toThrow(/shares: 300000 is above the maximum 262144/);
      expect(() => planResources({ cpu: { period: 10 } }, homes)).toThrow(/period: 10 is below the minimum 1000/);
      expect(() => planResources({ cpu: { realtimeRuntime: -5 } }, homes)).toThrow(/realtimeRuntime: -5 is below the minimum 0/);
      expect(() => planResources({ cpu: { idle: 2 } }, homes)).toThrow(/idle: 2 is above the maximum 1/);
      expect(() => planResources({ cpu: { mems: "0;1" } }, homes)).toThrow(/not a list/);
      expect(() => planResources({ pids: { limit: 1e20 } }, homes)).toThrow(/pids.limit: .* is above the maximum 4194304/);
      expect(() => planResources({ hugepageLimits: [{ pageSize: "2XB", limit: 1 }] }, homes)).toThrow(/not a size like "2MB"/);
      expect(() => planResources({ network: { classID: 2 ** 32 } }, homes)).toThrow(/classID: 4294967296 is above the maximum 4294967295/);
      expect(() => planResources({ network: { priorities: [{ name: "eth 0", priority: 1 }] } }, homes)).toThrow(/not an interface name/);
      expect(() => planResources({ rdma: { mlx0: { hcaHandles: -2 } } }, homes)).toThrow(/hcaHandles: -2 is below the minimum 0/);
      expect(() => planResources({ unified: { "memory.high": "1\n2" } }, homes)).toThrow(/must be a one-line string/);
      expect(() => planResources({ devices: [{ allow: true, type: "c", access: "rwx" }] }, homes)).toThrow(/must be letters from "rwm"/);
    }
    // Values that are valid still meet the host: without a home they are a clear "not here".
    expect(() => planResources({ blockIO: { weight: 500 } }, noBfq)).toThrow(/BFQ/);
    expect(() => planResources({ pids: { limit: 5 } }, none)).toThrow(/needs the pids controller/);
  });

  test("v1 devices become devices.allow/deny lines in order", () => {
    const steps = planResources({ devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rw" }] }, v1Homes);
    expect(steps.map((s) => (s.kind === "write" ? `${s.file.split("/").pop()} ${s.value}` : s.kind))).toEqual(["devices.deny a *:* rwm", "devices.allow c 1:3 rw"]);
  });
});

describe("eBPF device program", () => {
  test("a deny-all rule ends the program; specific rules come first", () => {
    const prog = deviceProgram([{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }]);
    expect(prog.at(-1)!.code).toBe(0x95); // exit
    expect(prog.at(-2)).toMatchObject({ code: 0xb7, imm: 0 }); // r0 = 0 (deny) from the deny-all rule
    expect(encodeProgram(prog).length).toBe(prog.length * 8);
    expect(() => deviceProgram([{ allow: true, access: "rwx" }])).toThrow(/rwm/);
  });
});

describe("runc stats event", () => {
  test("has runc's field names and omits empty counters", () => {
    const s: CgroupStats = {
      cpu: { total: 5, percpu: [3, 2], kernel: 1, user: 4, periods: 10, throttledPeriods: 3, throttledTime: 900 },
      memory: { usage: 100, maxUsage: 200, limit: -1, failcnt: 2, cache: 0, swap: { usage: 0, maxUsage: 0, limit: 300, failcnt: 0 }, raw: { rss: 7 }, oomKills: 1 },
      pids: { current: 3, limit: 16 },
      blkio: { ioServiceBytesRecursive: [{ major: 8, minor: 0, op: "Read", value: 4096 }], ioServicedRecursive: [] },
      hugetlb: { "2MB": { usage: 0, maxUsage: 0, failcnt: 0, limit: 0 } },
    };
    const e = runcStatsEvent("c1", s) as any;
    expect(e.type).toBe("stats");
    expect(e.id).toBe("c1");
    expect(e.data.cpu).toEqual({ usage: { total: 5, percpu: [3, 2], kernel: 1, user: 4 }, throttling: { periods: 10, throttledPeriods: 3, throttledTime: 900 } });
    expect(e.data.memory.usage).toEqual({ limit: 9223372036854771712, usage: 100, max: 200, failcnt: 2 });
    expect(e.data.memory.swap).toEqual({ limit: 300, failcnt: 0 });
    expect(e.data.memory.raw).toEqual({ rss: 7 });
    expect(e.data.memory.cache).toBeUndefined();
    expect(e.data.pids).toEqual({ current: 3, limit: 16 });
    // minor 0 is dropped, as Go's omitempty does in runc
    expect(e.data.blkio).toEqual({ ioServiceBytesRecursive: [{ major: 8, op: "Read", value: 4096 }] });
    expect(e.data.hugetlb).toEqual({ "2MB": { failcnt: 0 } });
  });
});

describe("host features", () => {
  test("swapAccounting: v1 memsw files, v2 memory.swap.max at the root or under unified/", () => {
    const root = mkdtempSync(join(tmpdir(), "berth-cg-features-"));
    try {
      expect(swapAccounting(root)).toBe(false);
      mkdirSync(join(root, "memory"));
      writeFileSync(join(root, "memory/memory.limit_in_bytes"), "");
      expect(swapAccounting(root)).toBe(false);
      writeFileSync(join(root, "memory/memory.memsw.limit_in_bytes"), "");
      expect(swapAccounting(root)).toBe(true);
      rmSync(join(root, "memory"), { recursive: true });
      mkdirSync(join(root, "unified"));
      writeFileSync(join(root, "unified/memory.swap.max"), "");
      expect(swapAccounting(root)).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
