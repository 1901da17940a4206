// Port publishing through nftables DNAT: loopback, a host address, hairpin, ranges, cleanup.
import { describe, expect, test } from "bun:test";
import { freePort, freeSubnet, useLab } from "./lab.ts";

const newLab = useLab();

function curl(url: string): { ok: boolean; body: string } {
  const r = Bun.spawnSync(["curl", "-s", "--noproxy", "*", "--max-time", "3", url]);
  return { ok: r.exitCode === 0, body: r.stdout.toString() };
}

describe("port publishing", () => {
  test("HOSTPORT:80 answers on 127.0.0.1, the gateway, another host address, and via hairpin", async () => {
    const l = newLab();
    const web = l.container();
    const client = l.container();
    const w = l.mgr.attach({ containerId: web.id, netnsPath: web.netnsPath });
    l.mgr.attach({ containerId: client.id, netnsPath: client.netnsPath });
    await l.httpd(web, 80, "published\n");
    const hostPort = freePort();
    const [b] = l.mgr.publish(web.id, [{ hostPort, containerPort: 80, proto: "tcp" }]);
    expect(b).toEqual({ hostIp: "", hostPort, containerIp: w.ip, containerPort: 80, proto: "tcp" });
    const hostAddr = l.hostAddress();
    expect(curl(`http://127.0.0.1:${hostPort}/`).body).toBe("published\n");
    expect(curl(`http://${w.gateway}:${hostPort}/`).body).toBe("published\n");
    expect(curl(`http://${hostAddr}:${hostPort}/`).body).toBe("published\n");
    // Hairpin: another container, and the published container itself, through host addresses.
    expect(l.fetchFrom(client, `http://${w.gateway}:${hostPort}/`).body).toBe("published\n");
    expect(l.fetchFrom(client, `http://${hostAddr}:${hostPort}/`).body).toBe("published\n");
    expect(l.fetchFrom(web, `http://${w.gateway}:${hostPort}/`).body).toBe("published\n");
    // route_localnet is on for the bridge, so 127.0.0.0/8 arriving from containers must be dropped.
    const raw = Bun.spawnSync(["nft", "list", "chain", "ip", l.prefix, "raw_prerouting"]).stdout.toString();
    expect(raw).toContain("ip daddr 127.0.0.0/8 drop");
    expect(l.mgr.ports(web.id)).toEqual([b!]);

    l.mgr.unpublish(web.id);
    expect(l.mgr.ports(web.id)).toEqual([]);
    expect(curl(`http://127.0.0.1:${hostPort}/`).ok).toBe(false);
    const rules = Bun.spawnSync(["nft", "list", "chain", "ip", l.prefix, "published"]).stdout.toString();
    expect(rules).not.toContain("dnat");
  }, 60_000);

  test("a published port bound to 127.0.0.1 only answers there", async () => {
    const l = newLab();
    const web = l.container();
    const w = l.mgr.attach({ containerId: web.id, netnsPath: web.netnsPath });
    await l.httpd(web);
    const hostPort = freePort();
    l.mgr.publish(web.id, [{ hostIp: "127.0.0.1", hostPort, containerPort: 80, proto: "tcp" }]);
    expect(curl(`http://127.0.0.1:${hostPort}/`).ok).toBe(true);
    expect(curl(`http://${w.gateway}:${hostPort}/`).ok).toBe(false);
  }, 30_000);

  test("a host range picks free ports; a fixed port already taken is refused", async () => {
    const l = newLab();
    const a = l.container();
    const b = l.container();
    l.mgr.attach({ containerId: a.id, netnsPath: a.netnsPath });
    l.mgr.attach({ containerId: b.id, netnsPath: b.netnsPath });
    await l.httpd(a, 81, "a81\n");
    await l.httpd(b, 81, "b81\n");
    const from = freePort(30000, 39000);
    // A host process holds the first port of the range.
    const squatter = Bun.listen({ hostname: "127.0.0.1", port: from, socket: { data() {} } });
    try {
      const [pa] = l.mgr.publish(a.id, [{ hostRange: { from, to: from + 20 }, containerPort: 81, proto: "tcp" }]);
      const [pb] = l.mgr.publish(b.id, [{ hostRange: { from, to: from + 20 }, containerPort: 81, proto: "tcp" }]);
      expect(pa!.hostPort).toBeGreaterThan(from);
      expect(pb!.hostPort).toBeGreaterThan(from);
      expect(pa!.hostPort).not.toBe(pb!.hostPort);
      expect(curl(`http://127.0.0.1:${pa!.hostPort}/`).body).toBe("a81\n");
      expect(curl(`http://127.0.0.1:${pb!.hostPort}/`).body).toBe("b81\n");
      expect(() => l.mgr.publish(b.id, [{ hostPort: from, containerPort: 81, proto: "tcp" }])).toThrow(/port is already allocated/);
      expect(() => l.mgr.publish(b.id, [{ hostPort: pa!.hostPort, containerPort: 81, proto: "tcp" }])).toThrow(/port is already allocated/);
      const [rand] = l.mgr.publish(b.id, [{ containerPort: 81, proto: "udp" }]);
      expect(rand!.hostPort).toBeGreaterThan(1023);
    } finally {
      squatter.stop(true);
    }
  }, 30_000);

  test("networks are isolated from each other; a published port is reachable across them", async () => {
    const l = newLab();
    l.mgr.create({ name: "a", subnet: freeSubnet() });
    l.mgr.create({ name: "b", subnet: freeSubnet() });
    const ca = l.container();
    const cb = l.container();
    l.mgr.attach({ containerId: ca.id, netnsPath: ca.netnsPath, network: "a" });
    const bb = l.mgr.attach({ containerId: cb.id, netnsPath: cb.netnsPath, network: "b" });
    await l.httpd(cb, 80, "b\n");
    expect(l.fetchFrom(ca, `http://${bb.ip}/`, undefined, 1).ok).toBe(false); // dropped: times out
    const hostPort = freePort();
    l.mgr.publish(cb.id, [{ hostPort, containerPort: 80, proto: "tcp" }]);
    const gwA = l.mgr.inspect("a").gateway;
    expect(l.fetchFrom(ca, `http://${gwA}:${hostPort}/`).body).toBe("b\n");
  }, 30_000);

  test("internal networks cannot publish", () => {
    const l = newLab();
    l.mgr.create({ name: "int", subnet: freeSubnet(), internal: true });
    const c = l.container();
    l.mgr.attach({ containerId: c.id, netnsPath: c.netnsPath, network: "int" });
    expect(() => l.mgr.publish(c.id, [{ hostPort: freePort(), containerPort: 80, proto: "tcp" }])).toThrow(/non-internal/);
  });
});
