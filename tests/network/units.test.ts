// Pure parts: address arithmetic, -p parsing, hosts/resolv.conf rendering, in-place rewrites, ruleset text.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { broadcastOf, formatIPv4, hostRoutes, macFor, overlaps, parseIPv4, parseSubnet } from "../../src/network/cidr.ts";
import { renderHosts, renderResolvConf, writeContainerFiles, writeInPlace } from "../../src/network/files.ts";
import { hostEntries, snapshotOf } from "../../src/network/hosts.ts";
import { chooseAddress } from "../../src/network/ipam.ts";
import { deleteTable, renderRuleset } from "../../src/network/nft.ts";
import type { ContainerFilesRow, EndpointRow } from "../../src/network/store.ts";
import { exposedPortRequests, formatBinding, parsePortSpec } from "../../src/network/ports.ts";

describe("cidr", () => {
  test("parse, format, broadcast, overlap, MAC", () => {
    expect(formatIPv4(parseIPv4("10.88.0.1"))).toBe("10.88.0.1");
    const s = parseSubnet("10.88.0.0/16");
    expect(formatIPv4(broadcastOf(s))).toBe("10.88.255.255");
    expect(overlaps(s, parseSubnet("10.88.5.0/24"))).toBe(true);
    expect(overlaps(s, parseSubnet("10.89.0.0/24"))).toBe(false);
    expect(() => parseSubnet("10.88.0.1/16")).toThrow(/did you mean 10.88.0.0\/16/);
    expect(() => parseIPv4("300.1.1.1")).toThrow(/0-255/);
    expect(macFor(parseIPv4("10.88.0.2"))).toBe("02:b5:0a:58:00:02");
  });

  test("host routes from /proc/net/route", () => {
    const text = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n" +
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
    const r = hostRoutes(text);
    expect(r.length).toBe(1);
    expect(formatIPv4(r[0]!.base)).toBe("192.0.2.0");
    expect(r[0]!.prefixLen).toBe(24);
  });
});

describe("IPAM choice", () => {
  const s = parseSubnet("10.0.0.0/29"); // hosts .1-.6
  const gw = parseIPv4("10.0.0.1");
  test("skips the gateway and taken addresses, wraps around, advances the cursor", () => {
    const a = chooseAddress(s, gw, new Set(), s.base + 1);
    expect(formatIPv4(a.ip)).toBe("10.0.0.2");
    const b = chooseAddress(s, gw, new Set([a.ip]), a.nextCursor);
    expect(formatIPv4(b.ip)).toBe("10.0.0.3");
    const taken = new Set(["10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"].map(parseIPv4));
    const c = chooseAddress(s, gw, taken, parseIPv4("10.0.0.5"));
    expect(formatIPv4(c.ip)).toBe("10.0.0.2"); // wrapped
    expect(() => chooseAddress(s, gw, new Set([...taken, c.ip]), c.nextCursor)).toThrow(/no free addresses/);
  });
  test("a wanted address is checked", () => {
    expect(formatIPv4(chooseAddress(s, gw, new Set(), 0, "10.0.0.6").ip)).toBe("10.0.0.6");
    expect(() => chooseAddress(s, gw, new Set(), 0, "10.0.0.7")).toThrow(/not a host address/); // broadcast
    expect(() => chooseAddress(s, gw, new Set(), 0, "10.0.0.1")).toThrow(/gateway/);
    expect(() => chooseAddress(s, gw, new Set([parseIPv4("10.0.0.4")]), 0, "10.0.0.4")).toThrow(/already in use/);
  });
});

describe("hosts entries", () => {
  const ep = (container_id: string, network: string, ip: string, name: string, aliases: string[] = []): EndpointRow => ({
    container_id, network, ip: parseIPv4(ip), name, aliases: JSON.stringify(aliases), ifname: "eth0", host_veth: "v", mac: "", netns_path: "", attached: 1, seq: 0,
  });
  const files = (container_id: string, hostname: string, extra: unknown[] = []): ContainerFilesRow => ({
    container_id, dir: "/x", hostname, domainname: "", extra_hosts: JSON.stringify(extra), dns: "[]", searches: "[]", options: "[]",
  });
  test("own names, members of shared networks only, add-host with host-gateway", () => {
    const snap = snapshotOf(
      [ep("a", "front", "10.1.0.2", "web", ["www"]), ep("b", "front", "10.1.0.3", "api"), ep("c", "back", "10.2.0.2", "db"), ep("a", "back", "10.2.0.3", "web")],
      [files("a", "web-host", [{ ip: "host-gateway", names: ["host.internal"] }]), files("b", "api-host")],
      new Map([["front", "10.1.0.1"], ["back", ""]]),
    );
    const a = hostEntries(files("a", "web-host", [{ ip: "host-gateway", names: ["host.internal"] }]), snap);
    expect(a).toContainEqual({ ip: "10.1.0.2", names: ["", "web-host", "web", "www"] });
    expect(a).toContainEqual({ ip: "10.1.0.3", names: ["api", "api-host", "b"] });
    expect(a).toContainEqual({ ip: "10.2.0.2", names: ["db", "", "c"] });
    expect(a).toContainEqual({ ip: "10.1.0.1", names: ["host.internal"] });
    const b = hostEntries(files("b", "api-host"), snap);
    expect(b.map((e) => e.ip)).not.toContain("10.2.0.2"); // b does not share "back" with c
  });
});

describe("-p parsing", () => {
  test("forms Docker and compose use", () => {
    expect(parsePortSpec("8080:80")).toEqual([{ hostIp: undefined, hostPort: 8080, containerPort: 80, proto: "tcp" }]);
    expect(parsePortSpec("80")).toEqual([{ hostIp: undefined, containerPort: 80, proto: "tcp" }]);
    expect(parsePortSpec("127.0.0.1:8080:80/udp")).toEqual([{ hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, proto: "udp" }]);
    expect(parsePortSpec("127.0.0.1::80")).toEqual([{ hostIp: "127.0.0.1", containerPort: 80, proto: "tcp" }]);
    expect(parsePortSpec("1000-2000:81")).toEqual([{ hostIp: undefined, hostRange: { from: 1000, to: 2000 }, containerPort: 81, proto: "tcp" }]);
    expect(parsePortSpec("8000-8001:80-81").map((p) => [p.hostPort, p.containerPort])).toEqual([[8000, 80], [8001, 81]]);
    expect(parsePortSpec("80-81")).toEqual([{ containerPort: 80, proto: "tcp" }, { containerPort: 81, proto: "tcp" }]);
    expect(parsePortSpec("0.0.0.0:8080:80")).toEqual([{ hostPort: 8080, containerPort: 80, proto: "tcp" }]);
    expect(parsePortSpec("5000:5000/sctp")).toEqual([{ hostPort: 5000, containerPort: 5000, proto: "sctp" }]);
    expect(parsePortSpec("53/UDP")).toEqual([{ containerPort: 53, proto: "udp" }]);
  });

  test("errors name the spec and what is wrong", () => {
    expect(() => parsePortSpec("8000-8002:80-81")).toThrow('invalid publish spec "8000-8002:80-81": the host range 8000-8002 has 3 ports but the container range 80-81 has 2');
    expect(() => parsePortSpec("8000:80-81")).toThrow(/has 1 ports but the container range 80-81 has 2/);
    expect(() => parsePortSpec("70000:80")).toThrow('host port 70000 is out of range: ports are 1-65535');
    expect(() => parsePortSpec("8080:70000")).toThrow('container port 70000 is out of range');
    expect(() => parsePortSpec("0:80")).toThrow('host port 0 is out of range');
    expect(() => parsePortSpec("8080:0")).toThrow('container port 0 is out of range');
    expect(() => parsePortSpec("2000-1000:81")).toThrow('host port range 2000-1000 is reversed: write 1000-2000');
    expect(() => parsePortSpec("81-80")).toThrow('container port range 81-80 is reversed');
    expect(() => parsePortSpec("80/icmp")).toThrow('unknown protocol "icmp": use tcp, udp or sctp');
    expect(() => parsePortSpec("300.1.1.1:80:80")).toThrow('"300.1.1.1" is not an IPv4 address');
    expect(() => parsePortSpec("[::1]:80:80")).toThrow(/IPv6/);
    expect(() => parsePortSpec("a:80")).toThrow('host port "a" is not a number');
    expect(() => parsePortSpec("8080:")).toThrow("no container port");
    expect(() => parsePortSpec("1:2:3:4")).toThrow(/use \[HOST_IP:\]/);
  });

  test("-P from EXPOSE, and berth port lines", () => {
    expect(exposedPortRequests({ "8000-8001/tcp": {} }).map((r) => r.containerPort)).toEqual([8000, 8001]);
    expect(exposedPortRequests({ "80/tcp": {}, "53/udp": {} })).toEqual([
      { hostIp: undefined, containerPort: 80, proto: "tcp" },
      { hostIp: undefined, containerPort: 53, proto: "udp" },
    ]);
    expect(formatBinding({ hostIp: "", hostPort: 8080, containerIp: "10.88.0.2", containerPort: 80, proto: "tcp" })).toBe("80/tcp -> 0.0.0.0:8080");
  });
});

describe("container files", () => {
  test("hosts and resolv.conf content", () => {
    const h = renderHosts({ hosts: [{ ip: "10.0.0.2", names: ["web", "", "web", "api"] }] });
    expect(h).toContain("127.0.0.1\tlocalhost\n");
    expect(h).toContain("10.0.0.2\tweb api\n");
    expect(renderResolvConf({ dns: ["10.0.0.1"], searches: ["corp"], options: ["ndots:1"] })).toBe("# Generated by Berth\nsearch corp\nnameserver 10.0.0.1\noptions ndots:1\n");
  });

  test("rewrites keep the inode (bind mounts keep seeing the file), shrinking works", () => {
    const dir = mkdtempSync(`${tmpdir()}/berth-files-`);
    try {
      const p = writeContainerFiles(dir, { hostname: "h1", hosts: [{ ip: "10.0.0.2", names: ["a-very-long-name-to-shrink-later"] }], dns: ["10.0.0.1"] });
      const ino = statSync(p.hosts).ino;
      writeContainerFiles(dir, { hostname: "h1", hosts: [], dns: ["10.0.0.1"] });
      expect(statSync(p.hosts).ino).toBe(ino);
      expect(readFileSync(p.hosts, "utf8")).not.toContain("a-very-long");
      writeFileSync(`${dir}/x`, "0123456789");
      writeInPlace(`${dir}/x`, "ab");
      expect(readFileSync(`${dir}/x`, "utf8")).toBe("ab");
      expect(() => writeContainerFiles(dir, { hostname: "bad host", hosts: [] })).toThrow(/invalid hostname/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("nftables ruleset", () => {
  test("publishing, hairpin, loopback guard, isolation, outbound only when asked", () => {
    const text = renderRuleset({
      table: "berth",
      networks: [
        { bridge: "berth0", subnet: "10.88.0.0/16", gateway: "10.88.0.1", internal: false, outbound: false },
        { bridge: "berth-int", subnet: "10.89.0.0/24", gateway: "10.89.0.1", internal: true, outbound: false },
        { bridge: "berth-out", subnet: "10.89.1.0/24", gateway: "10.89.1.1", internal: false, outbound: true },
      ],
      ports: [{ container_id: "c", host_ip: "", host_port: 8080, proto: "tcp", container_ip: "10.88.0.2", container_port: 80, network: "bridge" }],
    });
    expect(text).toContain("tcp dport 8080 dnat to 10.88.0.2:80");
    expect(text).toContain('iifname { "berth0", "berth-int", "berth-out" } ip daddr 127.0.0.0/8 drop');
    expect(text).toContain('oifname "berth0" ip saddr 127.0.0.0/8 masquerade');
    expect(text).toContain('oifname "berth0" ct status dnat ip saddr 10.88.0.0/16 ip saddr != 10.88.0.1 masquerade');
    expect(text).not.toContain('oifname "berth-int" ct status dnat accept');
    expect(text).toContain('ip saddr 10.89.1.0/24 oifname != "berth-out" masquerade');
    expect(text).not.toContain('ip saddr 10.88.0.0/16 oifname != "berth0" masquerade');
    expect(text.indexOf('iifname { "berth0", "berth-int", "berth-out" } drop')).toBeGreaterThan(text.indexOf("ct state established,related accept"));
    // Only rules are replaced: every chain is flushed, no table or chain is deleted.
    expect(text).toContain("flush chain ip berth published");
    expect(text).not.toContain("delete");
  });
});

test("nftables errors come back with nft's own message", () => {
  expect(() => deleteTable("bad name")).toThrow(/nftables: cannot delete table ip bad name: .*syntax error/s);
});
