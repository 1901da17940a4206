// Bridge networks for real: namespaces, veths, busybox httpd, nftables. Every test builds its own
// lab (state root, name prefix, subnets) and checks that cleanup leaves nothing behind.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { freePort, freeSubnet, useLab } from "./lab.ts";

const newLab = useLab();

describe("bridge networks", () => {
  test("create, ls, inspect, rm: bridge with gateway address, nft table follows", () => {
    const l = newLab();
    const subnet = freeSubnet();
    const n = l.mgr.create({ name: "appnet", subnet });
    expect(n.subnet).toBe(subnet);
    expect(n.gateway).toBe(subnet.replace(/0\/24$/, "1"));
    expect(n.bridge.startsWith(`${l.prefix}-`)).toBe(true);
    expect(n.bridge.length).toBeLessThanOrEqual(15);
    const addr = Bun.spawnSync(["ip", "-o", "-4", "addr", "show", "dev", n.bridge]).stdout.toString();
    expect(addr).toContain(`${n.gateway}/24`);
    expect(readFileSync(`/proc/sys/net/ipv4/conf/${n.bridge}/route_localnet`, "utf8").trim()).toBe("1");
    expect(l.tableExists()).toBe(true);
    expect(l.mgr.list().map((x) => x.name)).toEqual(["appnet"]);
    expect(l.mgr.inspect("appnet").containers).toEqual([]);
    expect(() => l.mgr.create({ name: "appnet", subnet: freeSubnet([subnet]) })).toThrow(/already exists/);
    expect(() => l.mgr.create({ name: "other", subnet })).toThrow(/overlaps/);
    expect(() => l.mgr.create({ name: "host" })).toThrow(/reserved/);
    expect(l.mgr.inspect(n.id.slice(0, 12)).name).toBe("appnet");
    l.mgr.remove("appnet");
    expect(l.leftoverLinks()).toEqual([]);
    expect(l.tableExists()).toBe(false);
  });

  test("networks without --subnet get distinct subnets from the pool; prune removes unused ones", () => {
    const l = newLab();
    const a = l.mgr.create({ name: "a" });
    const b = l.mgr.create({ name: "b" });
    expect(a.subnet).not.toBe(b.subnet);
    expect(a.subnet.startsWith("10.250.")).toBe(true);
    const c = l.container();
    l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath, network: "b" });
    expect(l.mgr.prune()).toEqual(["a"]);
    expect(() => l.mgr.remove("b")).toThrow(/in use/);
    l.mgr.detach(c.id);
    expect(l.mgr.prune()).toEqual(["b"]);
    expect(l.mgr.list()).toEqual([]);
  });

  test("two containers on a user network fetch from each other by name", async () => {
    const l = newLab();
    l.mgr.create({ name: "web", subnet: freeSubnet() });
    const a = l.container();
    const b = l.container();
    const aa = l.mgr.attach({ containerId: a.id, netnsPath: a.netnsPath, network: "web", name: "alpha", aliases: ["api"] });
    const fa = l.mgr.containerFiles(a.id, { hostname: "alpha-host", dns: ["127.0.0.1"] });
    const bb = l.mgr.attach({ containerId: b.id, netnsPath: b.netnsPath, network: "web", name: "beta" });
    const fb = l.mgr.containerFiles(b.id, { hostname: "beta-host", dns: ["127.0.0.1"] });
    expect(aa.ip).not.toBe(bb.ip);
    // a's hosts file was written before b joined: it must have been refreshed in place.
    expect(readFileSync(fa.hosts, "utf8")).toMatch(new RegExp(`${bb.ip.replace(/\./g, "\\.")}\\s+beta`));
    expect(readFileSync(fb.hosts, "utf8")).toMatch(new RegExp(`${aa.ip.replace(/\./g, "\\.")}\\s+alpha api`));
    expect(readFileSync(fa.hostname, "utf8")).toBe("alpha-host\n");
    await l.httpd(a, 80, "I am alpha\n");
    await l.httpd(b, 80, "I am beta\n");
    expect(l.fetchFrom(a, "http://beta/", fa).body).toBe("I am beta\n");
    expect(l.fetchFrom(b, "http://alpha/", fb).body).toBe("I am alpha\n");
    expect(l.fetchFrom(b, "http://api/", fb).body).toBe("I am alpha\n");
    // After b leaves, a's file no longer lists it.
    l.mgr.detach(b.id);
    expect(readFileSync(fa.hosts, "utf8")).not.toContain("beta");
    expect(l.fetchFrom(a, "http://beta/", fa).ok).toBe(false);
  }, 30_000);

  test("container interface: address, MAC, default route via the gateway, lo up", () => {
    const l = newLab();
    const c = l.container();
    const att = l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath });
    expect(att.network).toBe("bridge");
    expect(att.ifname).toBe("eth0");
    expect(l.ipIn(c, "-4", "addr", "show", "dev", "eth0")).toContain(`${att.ip}/${att.prefixLen}`);
    expect(l.ipIn(c, "link", "show", "eth0")).toContain(att.mac);
    expect(l.ipIn(c, "route")).toContain(`default via ${att.gateway} dev eth0`);
    expect(l.ipIn(c, "link", "show", "lo")).toContain("LOOPBACK,UP");
    expect(l.mgr.list()[0]!.bridge).toBe(`${l.prefix}0`);
  });

  test("internal network: no default route; a second network adds eth1", () => {
    const l = newLab();
    l.mgr.create({ name: "int", subnet: freeSubnet(), internal: true });
    l.mgr.create({ name: "ext", subnet: freeSubnet() });
    const c = l.container();
    const i = l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath, network: "int" });
    expect(i.gateway).toBe("");
    expect(l.ipIn(c, "route")).not.toContain("default");
    const e = l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath, network: "ext" });
    expect(e.ifname).toBe("eth1");
    expect(l.ipIn(c, "route")).toContain(`default via ${e.gateway} dev eth1`);
    expect(() => l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath, network: "ext" })).toThrow(/already connected/);
    expect(l.mgr.endpoints(c.id).map((x) => x.network)).toEqual(["int", "ext"]);
  });

  test("two containers both listen on port 80 without conflict", async () => {
    const l = newLab();
    const a = l.container();
    const b = l.container();
    const ia = l.mgr.attach({ containerId: a.id, netnsPath: a.netnsPath }).ip;
    const ib = l.mgr.attach({ containerId: b.id, netnsPath: b.netnsPath }).ip;
    await l.httpd(a, 80, "A\n");
    await l.httpd(b, 80, "B\n");
    const get = (ip: string) => Bun.spawnSync(["curl", "-s", "--noproxy", "*", "--max-time", "3", `http://${ip}:80/`]).stdout.toString();
    expect(get(ia)).toBe("A\n");
    expect(get(ib)).toBe("B\n");
  });
});
