// Addresses, crash recovery and cleanup: no address twice, none leaked after release or a crash,
// nothing left in the kernel after detach/unpublish/reconcile/reset. Also none mode and named netns.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { driverFor, openNetworks, parseNetworkMode } from "../../src/network/index.ts";
import { freePort, freeSubnet, useLab } from "./lab.ts";

const newLab = useLab();

describe("IPAM", () => {
  test("no address is handed out twice; --ip is honoured and checked; freed addresses come back last", () => {
    const l = newLab();
    const subnet = freeSubnet();
    l.mgr.create({ name: "n", subnet });
    const base = subnet.replace(/\.0\/24$/, "");
    const ips = new Set<string>();
    const cs = Array.from({ length: 6 }, () => l.container());
    for (const c of cs.slice(0, 5)) ips.add(l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath, network: "n" }).ip);
    expect(ips.size).toBe(5);
    expect(ips.has(`${base}.1`)).toBe(false); // gateway
    const fixed = l.mgr.attach({ containerId: cs[5]!.id, netnsPath: cs[5]!.netnsPath, network: "n", ip: `${base}.200` });
    expect(fixed.ip).toBe(`${base}.200`);
    const extra = l.container();
    expect(() => l.mgr.attach({ containerId: extra.id, netnsPath: extra.netnsPath, network: "n", ip: `${base}.200` })).toThrow(/already in use/);
    expect(() => l.mgr.attach({ containerId: extra.id, netnsPath: extra.netnsPath, network: "n", ip: `${base}.1` })).toThrow(/gateway/);
    expect(() => l.mgr.attach({ containerId: extra.id, netnsPath: extra.netnsPath, network: "n", ip: "192.168.77.3" })).toThrow(/not a host address/);
    // A kernel-side failure (not a netns file) is rolled back too.
    expect(() => l.mgr.attach({ containerId: extra.id, netnsPath: "/etc/hostname", network: "n" })).toThrow(/netlink create veth/);
    // Failed attaches left nothing behind.
    expect(l.mgr.endpoints(extra.id)).toEqual([]);
    expect(l.leftoverLinks().filter((x) => x.startsWith(`${l.prefix}v`)).length).toBe(6);
    const first = [...ips][0]!;
    l.mgr.detach(cs[0]!.id);
    const next = l.mgr.attach({ containerId: extra.id, netnsPath: extra.netnsPath, network: "n" }).ip;
    expect(ips.has(next)).toBe(false); // round-robin: the freed address is not reused at once
    expect(next).not.toBe(first);
  });

  test("two managers on one state root never lease the same address", async () => {
    const l = newLab();
    l.mgr.create({ name: "n", subnet: freeSubnet() });
    const other = openNetworks(l.root, { namePrefix: l.prefix, runDir: l.runDir });
    try {
      const ips: string[] = [];
      for (let i = 0; i < 4; i++) {
        const a = l.container();
        const b = l.container();
        ips.push(l.mgr.attach({ containerId: a.id, netnsPath: a.netnsPath, network: "n" }).ip);
        ips.push(other.attach({ containerId: b.id, netnsPath: b.netnsPath, network: "n" }).ip);
      }
      expect(new Set(ips).size).toBe(ips.length);
    } finally {
      other.close();
    }
  });
});

describe("cleanup and crash recovery", () => {
  test("detach + unpublish leave no veth, rule or lease; removing the network leaves no bridge or table", async () => {
    const l = newLab();
    const n = l.mgr.create({ name: "n", subnet: freeSubnet() });
    const c = l.container();
    const a = l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath, network: "n" });
    l.mgr.publish(c.id, [{ hostPort: freePort(), containerPort: 80, proto: "tcp" }]);
    expect(l.leftoverLinks().length).toBe(2); // bridge + host veth
    l.mgr.unpublish(c.id);
    l.mgr.detach(c.id);
    expect(l.leftoverLinks()).toEqual([n.bridge]);
    expect(l.ipIn(c, "link")).not.toContain(a.ifname);
    expect(l.mgr.inspect("n").containers).toEqual([]);
    expect(Bun.spawnSync(["nft", "list", "chain", "ip", l.prefix, "published"]).stdout.toString()).not.toContain("dnat");
    l.mgr.remove("n");
    expect(l.leftoverLinks()).toEqual([]);
    expect(l.tableExists()).toBe(false);
  });

  test("reconcile frees everything of containers that are gone, after a berth process was killed mid-way", async () => {
    const l = newLab();
    l.mgr.create({ name: "n", subnet: freeSubnet() });
    const keep = l.container();
    const gone = l.container();
    const crashed = l.container();
    l.mgr.attach({ containerId: keep.id, netnsPath: keep.netnsPath, network: "n", name: "keep" });
    const keepFiles = l.mgr.containerFiles(keep.id, { hostname: "keep", dns: ["127.0.0.1"] });
    l.mgr.attach({ containerId: gone.id, netnsPath: gone.netnsPath, network: "n", name: "gone" });
    const hostPort = freePort();
    l.mgr.publish(gone.id, [{ hostPort, containerPort: 80, proto: "tcp" }]);
    // Another berth process attaches and publishes, then dies by SIGKILL without cleaning up.
    const script = `
      import { openNetworks } from "${import.meta.dir}/../../src/network/index.ts";
      const m = openNetworks(${JSON.stringify(l.root)}, { namePrefix: ${JSON.stringify(l.prefix)}, runDir: ${JSON.stringify(l.runDir)} });
      m.attach({ containerId: ${JSON.stringify(crashed.id)}, netnsPath: ${JSON.stringify(crashed.netnsPath)}, network: "n", name: "crashed" });
      m.publish(${JSON.stringify(crashed.id)}, [{ containerPort: 80, proto: "tcp" }]);
      process.kill(process.pid, "SIGKILL");`;
    const child = Bun.spawnSync([process.execPath, "-e", script], { stderr: "pipe" });
    expect(child.signalCode).toBe("SIGKILL");
    expect(l.mgr.endpoints(crashed.id).length).toBe(1);
    expect(readFileSync(keepFiles.hosts, "utf8")).toContain("crashed");

    const report = l.mgr.reconcile(new Set([keep.id]));
    expect(report.endpoints).toBe(2);
    expect(report.ports).toBe(0); // ports went with their endpoints
    expect(l.mgr.endpoints(gone.id)).toEqual([]);
    expect(l.mgr.endpoints(crashed.id)).toEqual([]);
    expect(l.mgr.ports(gone.id)).toEqual([]);
    expect(l.mgr.inspect("n").containers.map((x) => x.name)).toEqual(["keep"]);
    const veths = l.leftoverLinks().filter((x) => x.startsWith(`${l.prefix}v`));
    expect(veths.length).toBe(1);
    expect(Bun.spawnSync(["nft", "list", "chain", "ip", l.prefix, "published"]).stdout.toString()).not.toContain("dnat");
    const hosts = readFileSync(keepFiles.hosts, "utf8");
    expect(hosts).not.toContain("crashed");
    expect(hosts).not.toContain("gone");
    // A stray Berth-named veth the store does not know (crash between create and record) goes too.
    Bun.spawnSync(["ip", "link", "add", `${l.prefix}vstray`, "type", "veth", "peer", "name", `${l.prefix}vstray2`]);
    expect(l.mgr.reconcile(new Set([keep.id])).veths).toBeGreaterThanOrEqual(1);
    expect(l.leftoverLinks().filter((x) => x.startsWith(`${l.prefix}v`)).length).toBe(1);
  }, 30_000);

  test("a runtime-made netns (/proc/PID/ns/net): attach works; when the process dies reconcile frees the rest", async () => {
    const l = newLab();
    const proc = Bun.spawn(["unshare", "--net", "sleep", "300"], { stdout: "ignore", stderr: "ignore" });
    try {
      // Wait until unshare has switched namespaces (its net ns differs from ours).
      const ours = readlinkSync("/proc/self/ns/net");
      for (let i = 0; i < 200 && readlinkSync(`/proc/${proc.pid}/ns/net`) === ours; i++) await Bun.sleep(5);
      const id = "proc" + proc.pid;
      const a = l.mgr.attach({ containerId: id, netnsPath: `/proc/${proc.pid}/ns/net` });
      const inside = Bun.spawnSync(["nsenter", `--net=/proc/${proc.pid}/ns/net`, "ip", "-o", "-4", "addr"]).stdout.toString();
      expect(inside).toContain(`${a.ip}/${a.prefixLen}`);
      expect(l.leftoverLinks().filter((x) => x.startsWith(`${l.prefix}v`)).length).toBe(1);
      proc.kill(9);
      await proc.exited;
      // The kernel destroys the pair with the namespace (asynchronously); the lease stays until reconcile.
      for (let i = 0; i < 400 && l.leftoverLinks().some((x) => x.startsWith(`${l.prefix}v`)); i++) await Bun.sleep(5);
      expect(l.leftoverLinks().filter((x) => x.startsWith(`${l.prefix}v`))).toEqual([]);
      expect(l.mgr.endpoints(id).length).toBe(1);
      expect(l.mgr.reconcile(new Set()).endpoints).toBe(1);
      expect(l.mgr.inspect("bridge").containers).toEqual([]);
    } finally {
      proc.kill(9);
      await proc.exited;
    }
  }, 30_000);

  test("after a reboot (kernel state gone, store kept) reconcile settles the store and bridges come back on use", () => {
    const l = newLab();
    const n = l.mgr.create({ name: "n", subnet: freeSubnet() });
    const c = l.container();
    l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath, network: "n" });
    l.mgr.publish(c.id, [{ hostPort: freePort(), containerPort: 80, proto: "tcp" }]);
    // "Reboot": every kernel object disappears, the store stays.
    const hostVeth = l.mgr.endpoints(c.id)[0]!.hostVeth;
    Bun.spawnSync(["ip", "link", "del", hostVeth]);
    Bun.spawnSync(["ip", "link", "del", n.bridge]);
    Bun.spawnSync(["nft", "delete", "table", "ip", l.prefix]);
    const report = l.mgr.reconcile(new Set());
    expect(report.endpoints).toBe(1);
    expect(l.mgr.ports(c.id)).toEqual([]);
    expect(l.tableExists()).toBe(true); // rules follow the store, which still has network n
    const again = l.container();
    const a = l.mgr.attach({ containerId: again.id, netnsPath: again.netnsPath, network: "n" });
    expect(Bun.spawnSync(["ip", "-o", "-4", "addr", "show", "dev", n.bridge]).stdout.toString()).toContain(n.gateway);
    expect(l.ipIn(again, "route")).toContain(`default via ${a.gateway}`);
  });

  test("reset removes every bridge, veth, rule and lease of the state root", () => {
    const l = newLab();
    l.mgr.create({ name: "a", subnet: freeSubnet() });
    const c = l.container();
    l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath, network: "a" });
    l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath });
    l.mgr.publish(c.id, [{ hostPort: freePort(), containerPort: 80, proto: "tcp" }]);
    expect(l.leftoverLinks().length).toBe(4);
    l.mgr.reset();
    expect(l.leftoverLinks()).toEqual([]);
    expect(l.tableExists()).toBe(false);
    expect(l.mgr.list()).toEqual([]);
    expect(l.ipIn(c, "link")).not.toContain("eth0");
  });
});

describe("network modes", () => {
  test("none: only lo, and it is up", () => {
    const l = newLab();
    const c = l.container();
    const d = driverFor(parseNetworkMode("none"), { manager: l.mgr });
    expect(d.netns()).toEqual({ type: "new" });
    const r = d.setup({ containerId: c.id, netnsPath: c.netnsPath, hostname: "lonely" });
    expect(r.attachments).toEqual([]);
    const links = l.ipIn(c, "link").trim().split("\n");
    expect(links.length).toBe(1);
    expect(links[0]).toContain("lo:");
    expect(links[0]).toContain("UP");
    expect(readFileSync(r.files.hostname, "utf8")).toBe("lonely\n");
    d.teardown(c.id);
    expect(existsSync(r.files.hosts)).toBe(false);
  });

  test("bridge driver: several networks, ports and files in one setup; teardown releases all", async () => {
    const l = newLab();
    l.mgr.create({ name: "front", subnet: freeSubnet() });
    const c = l.container();
    const d = driverFor(parseNetworkMode("front,bridge"), { manager: l.mgr });
    const hostPort = freePort();
    const r = d.setup({ containerId: c.id, netnsPath: c.netnsPath, hostname: "web", name: "web", ports: [{ hostPort, containerPort: 80, proto: "tcp" }], extraHosts: [{ ip: "10.9.9.9", names: ["db.example"] }, { ip: "host-gateway", names: ["host.berth.internal"] }] });
    expect(r.attachments.map((a) => a.network)).toEqual(["front", "bridge"]);
    expect(r.ports[0]!.containerIp).toBe(r.attachments[0]!.ip);
    expect(readFileSync(r.files.hosts, "utf8")).toContain("10.9.9.9\tdb.example");
    expect(readFileSync(r.files.hosts, "utf8")).toContain(`${r.attachments[0]!.gateway}\thost.berth.internal`);
    d.teardown(c.id);
    expect(l.mgr.endpoints(c.id)).toEqual([]);
    expect(l.mgr.ports(c.id)).toEqual([]);
    expect(l.leftoverLinks().filter((x) => x.startsWith(`${l.prefix}v`))).toEqual([]);
  });

  test("host and container: modes are decisions about namespaces and files", () => {
    const l = newLab();
    expect(driverFor(parseNetworkMode("host"), { manager: l.mgr }).netns()).toEqual({ type: "host" });
    const files = { hosts: "/x/hosts", hostname: "/x/hostname", resolvConf: "/x/resolv.conf" };
    const d = driverFor(parseNetworkMode("container:web"), { manager: l.mgr, lookupContainer: (n) => (n === "web" ? { netnsPath: "/proc/1/ns/net", files } : null) });
    expect(d.netns()).toEqual({ type: "path", path: "/proc/1/ns/net" });
    expect(d.setup({ containerId: "x", netnsPath: "/proc/1/ns/net", hostname: "x" }).files).toEqual(files);
    expect(() => driverFor(parseNetworkMode("container:nope"), { manager: l.mgr }).netns()).toThrow(/no such running container/);
    expect(parseNetworkMode(undefined)).toEqual({ kind: "bridge", networks: ["bridge"] });
  });

  test("named netns: created under /run/netns like iproute2, usable, removable", () => {
    const l = newLab();
    const c = l.container();
    expect(c.netnsPath).toBe(`/run/netns/${c.ns}`);
    expect(Bun.spawnSync(["ip", "netns", "list"]).stdout.toString()).toContain(c.ns);
    const a = l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath });
    expect(l.ipIn(c, "-4", "addr")).toContain(a.ip);
  });
});
