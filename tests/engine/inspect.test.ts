// inspect's docker shapes: NetworkSettings with the running container's addresses (the ones its
// eth0 has), GraphDriver with the overlay's real directories, HostConfig as created.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { berth, cleanupRoot, engineRoot, mountsUnder } from "./helpers.ts";

let root = "";
beforeAll(async () => {
  root = await engineRoot();
});
afterAll(() => cleanupRoot(root));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function inspect(ref: string): any {
  const r = berth(root, ["inspect", ref]);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout)[0];
}

describe("inspect", () => {
  test("NetworkSettings: the address, gateway and MAC the container's eth0 has, per network and at the top", () => {
    const r = berth(root, ["run", "-d", "--name", "net1", "busybox", "sleep", "60"]);
    expect(r.code).toBe(0);
    const ns = inspect("net1").NetworkSettings;
    const addr = berth(root, ["exec", "net1", "ip", "-o", "-4", "addr", "show", "eth0"]).stdout;
    const mac = berth(root, ["exec", "net1", "cat", "/sys/class/net/eth0/address"]).stdout.trim();
    const route = berth(root, ["exec", "net1", "ip", "route"]).stdout;
    expect(addr).toContain(`inet ${ns.IPAddress}/${ns.IPPrefixLen} `);
    expect(ns.MacAddress).toBe(mac);
    expect(route).toContain(`default via ${ns.Gateway} `);
    const net = ns.Networks.bridge;
    expect(net).toMatchObject({ IPAddress: ns.IPAddress, Gateway: ns.Gateway, MacAddress: mac, EndpointID: ns.EndpointID, Aliases: null });
    expect(net.EndpointID).toMatch(/^[0-9a-f]{64}$/);
    const record = JSON.parse(berth(root, ["network", "inspect", "bridge"]).stdout)[0];
    expect(net.NetworkID).toBe(record.Id);
    // The network's record names the same endpoint and address.
    expect(record.Containers[inspect("net1").Id]).toEqual({ Name: "net1", EndpointID: net.EndpointID, MacAddress: mac, IPv4Address: `${ns.IPAddress}/${ns.IPPrefixLen}`, IPv6Address: "" });
    // Stopped: the network is still listed, without an address (leases are per run).
    berth(root, ["stop", "-t", "0", "net1"]);
    const stopped = inspect("net1").NetworkSettings;
    expect(stopped.IPAddress).toBe("");
    expect(stopped.Networks.bridge.IPAddress).toBe("");
    berth(root, ["rm", "-f", "net1"]);
  });

  test("NetworkSettings of --network none: the network, no address", () => {
    const id = berth(root, ["create", "--network", "none", "busybox", "true"]).stdout.trim();
    const ns = inspect(id).NetworkSettings;
    expect(Object.keys(ns.Networks)).toEqual(["none"]);
    expect(ns.IPAddress).toBe("");
    berth(root, ["rm", id]);
  });

  test("GraphDriver: overlay2, with the overlay's lower, upper, work and merged directories", () => {
    const id = berth(root, ["run", "-d", "--network", "none", "busybox", "sh", "-c", "echo changed > /marker; sleep 60"]).stdout.trim();
    const g = inspect(id).GraphDriver;
    expect(g.Name).toBe("overlay2");
    const { LowerDir, UpperDir, MergedDir, WorkDir } = g.Data;
    for (const d of [...LowerDir.split(":"), UpperDir, WorkDir, MergedDir]) expect(existsSync(d)).toBe(true);
    expect(existsSync(`${LowerDir.split(":")[0]}/bin/busybox`)).toBe(true);
    expect(mountsUnder(root)).toContain(MergedDir);
    let upper = "";
    for (let i = 0; i < 50 && !upper; i++) { try { upper = readFileSync(`${UpperDir}/marker`, "utf8"); } catch { Bun.sleepSync(100); } }
    expect(upper).toBe("changed\n");
    berth(root, ["rm", "-f", id]);
  });

  test("HostConfig as created, in docker's field names", () => {
    const id = berth(root, ["create", "--network", "none", "-m", "64m", "--cpus", "0.5", "-c", "512", "--pids-limit", "40", "--restart", "on-failure:2",
      "-v", "/tmp:/host-tmp:ro", "--memory-reservation", "32m", "--cpuset-cpus", "0", "--ulimit", "nofile=100:200", "--shm-size", "16m",
      "--group-add", "33", "--oom-score-adj", "100", "--cgroup-parent", "/somewhere", "--device", "/dev/loop-control:/dev/lc:r",
      "--device-cgroup-rule", "c 42:* rm", "busybox", "true"]).stdout.trim();
    const hc = inspect(id).HostConfig;
    expect(hc).toMatchObject({
      Memory: 64 * 1024 * 1024, MemorySwap: 128 * 1024 * 1024, NanoCpus: 500_000_000, CpuShares: 512, PidsLimit: 40,
      RestartPolicy: { Name: "on-failure", MaximumRetryCount: 2 }, Binds: ["/tmp:/host-tmp:ro"], NetworkMode: "none",
      MemoryReservation: 32 * 1024 * 1024, CpusetCpus: "0", Ulimits: [{ Name: "nofile", Soft: 100, Hard: 200 }], ShmSize: 16 * 1024 * 1024,
      GroupAdd: ["33"], OomScoreAdj: 100, CgroupParent: "/somewhere", CpuQuota: 0, CpuPeriod: 0, OomKillDisable: false, BlkioWeight: 0,
      Devices: [{ PathOnHost: "/dev/loop-control", PathInContainer: "/dev/lc", CgroupPermissions: "r" }], DeviceCgroupRules: ["c 42:* rm"],
      PortBindings: {}, AutoRemove: false, Privileged: false, ReadonlyRootfs: false,
    });
    berth(root, ["rm", id]);
  });
});
