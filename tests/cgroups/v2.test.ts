// The v2 backend, exercised on this host's unified hierarchy (root override), and hybrid routing:
// freeze/thaw through cgroup.freeze, kill through cgroup.kill, device rules as an eBPF program
// that the kernel enforces, hugetlb limits, and clear errors for what v2 lacks here.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type CgroupManager, discoverHierarchies, joinedArgv, openCgroup, queryDevicePrograms } from "../../src/cgroups/index.ts";
import { leftovers, uniqueName, waitFor } from "./helpers.ts";
import { HOST, lacks } from "../helpers/host.ts";

const h = discoverHierarchies();
// The hugetlb tests use 2 MiB pages; a kernel with other huge page sizes only has those.
const hugetlb2MB = h.v2Controllers.has("hugetlb") && !lacks(HOST.hugepages2MB, "2 MiB huge pages (hugetlb tests use hugetlb.2MB.*)");
const unifiedRoot = h.unified?.mountPoint;
const made: { m: CgroupManager; path: string }[] = [];

function v2group(): { m: CgroupManager; path: string } {
  const path = "/" + uniqueName();
  const m = openCgroup({ cgroupsPath: path, containerId: "t", root: unifiedRoot! });
  made.push({ m, path });
  m.create();
  return { m, path };
}

afterEach(() => {
  for (const { m, path } of made.splice(0)) {
    m.destroy();
    expect(leftovers(path)).toEqual([]);
  }
});

describe.skipIf(lacks(unifiedRoot !== undefined, "cgroup v2 hierarchy"))("cgroup v2 (unified hierarchy)", () => {
  test("a cgroup2 mount point as root is a pure v2 layout", () => {
    const { m } = v2group();
    expect(m.layout).toBe("v2");
    expect(Object.keys(m.paths())).toEqual(["unified"]);
  });

  test("freeze/thaw via cgroup.freeze stops and resumes every process", async () => {
    const { m } = v2group();
    const p = Bun.spawn(joinedArgv(m.procsFiles(), ["sh", "-c", "sleep 1000 & echo ready; while :; do :; done"]), { stdout: "pipe" });
    await p.stdout.getReader().read();
    await waitFor(() => m.pids().length === 2, "two processes in the group");
    m.freeze();
    expect(m.frozen()).toBe(true);
    expect(readFileSync(join(m.paths().unified!, "cgroup.events"), "utf8")).toContain("frozen 1");
    const usage = m.stats().cpu.total;
    await Bun.sleep(200);
    expect(m.stats().cpu.total).toBe(usage);
    m.thaw();
    expect(m.frozen()).toBe(false);
    await waitFor(() => m.stats().cpu.total > usage, "the busy loop to run again");
    m.killAll(); // through cgroup.kill
    expect(m.pids()).toEqual([]);
    await p.exited;
    expect(p.signalCode).toBe("SIGKILL");
  });

  test("device rules become an eBPF program the kernel enforces, replaced atomically on update", async () => {
    const { m } = v2group();
    const dir = m.paths().unified!;
    m.apply({ devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rw" }] });
    expect(queryDevicePrograms(dir).length).toBe(1);
    const probe = () => Bun.spawnSync(joinedArgv(m.procsFiles(), ["sh", "-c",
      "echo x > /dev/null && echo null-ok; head -c1 /dev/zero > /dev/null && echo zero-ok || echo zero-denied"]));
    let out = probe().stdout.toString();
    expect(out).toContain("null-ok");
    expect(out).toContain("zero-denied");
    m.update({ devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3 }, { allow: true, type: "c", major: 1, minor: 5, access: "r" }] });
    expect(queryDevicePrograms(dir).length).toBe(1); // the old program was detached
    out = probe().stdout.toString();
    expect(out).toContain("zero-ok");
    // write access to /dev/zero is still denied: the rule allowed "r" only
    expect(Bun.spawnSync(joinedArgv(m.procsFiles(), ["sh", "-c", "echo x > /dev/zero"])).exitCode).not.toBe(0);
  });

  test.skipIf(!hugetlb2MB)("hugetlb limits and unified keys are written to v2 files", () => {
    const { m } = v2group();
    const dir = m.paths().unified!;
    m.apply({ hugepageLimits: [{ pageSize: "2MB", limit: 4 << 20 }] });
    expect(readFileSync(join(dir, "hugetlb.2MB.max"), "utf8").trim()).toBe(String(4 << 20));
    m.update({ unified: { "hugetlb.2MB.max": "max" } });
    expect(readFileSync(join(dir, "hugetlb.2MB.max"), "utf8").trim()).toBe("max");
    expect(m.stats().hugetlb["2MB"]!.limit).toBe(-1);
    expect(() => m.apply({ hugepageLimits: [{ pageSize: "3MB", limit: 1 }] })).toThrow(/no 3MB huge pages/);
  });

  test("controllers the unified hierarchy lacks here give clear errors", () => {
    const { m } = v2group();
    for (const c of ["memory", "pids", "cpu"].filter((x) => !h.v2Controllers.has(x))) {
      const r = c === "memory" ? { memory: { limit: 1 << 20 } } : c === "pids" ? { pids: { limit: 5 } } : { cpu: { shares: 100 } };
      expect(() => m.apply(r)).toThrow(new RegExp(`needs the ${c} controller.*layout v2`));
    }
    expect(() => m.apply({ unified: { "nosuch.file": "1" } })).toThrow(/does not exist/);
  });
});

describe.skipIf(lacks(h.layout === "hybrid", "hybrid cgroup layout (v1 controllers beside a v2 hierarchy)"))("hybrid routing", () => {
  test("each controller is used where it is bound; the v2 group joins too", async () => {
    const path = "/" + uniqueName();
    const m = openCgroup({ cgroupsPath: path, containerId: "t" });
    try {
      const limits = hugetlb2MB ? { hugepageLimits: [{ pageSize: "2MB", limit: 2 << 20 }] } : {};
      m.apply({ ...limits, devices: [{ allow: true, access: "rwm" }], pids: h.v1.has("pids") ? { limit: 100 } : undefined });
      const paths = m.paths();
      expect(paths.unified).toBe(join(unifiedRoot!, path));
      if (hugetlb2MB && !h.v1.has("hugetlb")) {
        expect(readFileSync(join(paths.unified!, "hugetlb.2MB.max"), "utf8").trim()).toBe(String(2 << 20));
      }
      if (h.v1.has("devices")) expect(readFileSync(join(paths.devices!, "devices.list"), "utf8")).toContain("a *:* rwm");
      const p = Bun.spawn(joinedArgv(m.procsFiles(), ["sleep", "1000"]));
      // the wrapper joins hierarchy by hierarchy, then execs: wait for the exec
      await waitFor(() => readFileSync(`/proc/${p.pid}/cmdline`, "utf8").startsWith("sleep"), "the process to join and exec");
      const self = readFileSync(`/proc/${p.pid}/cgroup`, "utf8");
      expect(self).toContain(`0::${path}`);
      if (h.v1.has("memory")) expect(self).toContain(`:memory:${path}`);
      if (h.v1.has("memory") && !h.v2Controllers.has("memory")) {
        expect(() => m.apply({ unified: { "memory.high": "1M" } })).toThrow(/bound to cgroup v1/);
      }
    } finally {
      m.destroy();
    }
    expect(leftovers(path)).toEqual([]);
    expect(existsSync(join(unifiedRoot!, path))).toBe(false);
  });
});

describe.skipIf(!unifiedRoot || !hugetlb2MB || h.v1.has("hugetlb"))("v2 controllers are enabled on demand", () => {
  test("a container's parents get +hugetlb only when a hugetlb limit is set", () => {
    const parent = "/" + uniqueName();
    const child = openCgroup({ cgroupsPath: parent + "/c1", containerId: "t" });
    const parentGroup = openCgroup({ cgroupsPath: parent, containerId: "t" });
    try {
      child.create();
      const control = () => readFileSync(join(unifiedRoot!, parent, "cgroup.subtree_control"), "utf8").trim();
      expect(control()).toBe("");
      child.apply({ hugepageLimits: [{ pageSize: "2MB", limit: 2 << 20 }] });
      expect(control()).toBe("hugetlb");
      expect(readFileSync(join(child.paths().unified!, "hugetlb.2MB.max"), "utf8").trim()).toBe(String(2 << 20));
    } finally {
      child.destroy();
      parentGroup.destroy();
    }
    expect(leftovers(parent)).toEqual([]);
  });
});
