// The default bridge network (through src/network): the container gets an address on a bridge
// this test creates (its own name prefix), answers there, publishes a port on loopback, and rm
// releases its endpoint. --network host and none.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, readlinkSync } from "node:fs";
import { openNetworks } from "../../src/network/index.ts";
import { freeSubnet } from "../network/lab.ts";
import { berth, cleanupRoot, engineRoot, eventually } from "./helpers.ts";

const PREFIX = `bt${process.pid % 10000}`;
// A subnet no route on this host covers: other roots' bridges, other tests', and the host's own
// networks (a fixed 172.31.x.0/24 is inside AWS's default VPC, for one).
const SUBNET = freeSubnet();
const env = { BERTH_NETWORK_PREFIX: PREFIX, BERTH_NETWORK_SUBNET: SUBNET };
let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => {
  cleanupRoot(root.length ? root : "/nonexistent");
});

/** The containers on the default bridge, as the network store has them (none when a failed
 *  start never got as far as making the bridge). */
function bridgeMembers(): unknown[] {
  const m = openNetworks(root, { namePrefix: PREFIX, defaultSubnet: SUBNET });
  try {
    return m.list().some((n) => n.name === "bridge") ? m.inspect("bridge").containers : [];
  } finally {
    m.close();
  }
}

function resetNetworks(): void {
  const m = openNetworks(root, { namePrefix: PREFIX, defaultSubnet: SUBNET });
  try { m.reset(); } finally { m.close(); }
}

describe("networking", () => {
  test("bridge: an address on our bridge, reachable from the host; rm releases it", async () => {
    try {
      const r = berth(root, ["run", "-d", "--name", "web", "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www"], { env });
      expect(r.stderr).toBe("");
      const ip = berth(root, ["exec", "web", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"], { env }).stdout.trim();
      expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
      const addr = ip.split("/")[0]!;
      expect(berth(root, ["exec", "web", "cat", "/etc/hosts"], { env }).stdout).toContain(`${addr}\t`);
      // From the host to the container, over the bridge this test made.
      let body = "";
      expect(await eventually(() => {
        const c = Bun.spawnSync(["curl", "-s", "--noproxy", "*", "--max-time", "2", `http://${addr}/`]);
        body = c.stdout.toString();
        return c.exitCode === 0;
      })).toBe(true);
      expect(body).toBe("hello from berth\n");
      expect(readFileSync("/proc/net/dev", "utf8")).toContain(`${PREFIX}0:`);
      expect(berth(root, ["rm", "-f", "web"], { env }).code).toBe(0);
      expect(bridgeMembers()).toEqual([]);
    } finally {
      resetNetworks();
    }
  }, 180_000);

  test("a command that does not exist: docker's 127 and message on the bridge too, not the bridge's own trouble with the gone init", () => {
    try {
      const r = berth(root, ["run", "--rm", "busybox", "nosuchcmd"], { env });
      expect(r.stderr).toMatch(/exec: "nosuchcmd": executable file not found in \$PATH/);
      expect(r.code).toBe(127);
      expect(berth(root, ["ps", "-aq"], { env }).stdout).toBe("");
      expect(bridgeMembers()).toEqual([]);
    } finally {
      resetNetworks();
    }
  }, 180_000);

  test("-p 127.0.0.1::80 publishes on a free loopback port that answers", async () => {
    try {
      expect(berth(root, ["run", "-d", "--name", "pub", "-p", "127.0.0.1::80", "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www"], { env }).code).toBe(0);
      const bound = berth(root, ["port", "pub", "80"], { env }).stdout.trim();
      expect(bound).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(bound).not.toBe("127.0.0.1:0");
      expect(berth(root, ["ps", "--format", "{{.Ports}}"], { env }).stdout).toBe(`${bound}->80/tcp\n`);
      let body = "";
      expect(await eventually(() => {
        const c = Bun.spawnSync(["curl", "-s", "--noproxy", "*", "--max-time", "2", `http://${bound}/`]);
        body = c.stdout.toString();
        return c.exitCode === 0;
      })).toBe(true);
      expect(body).toBe("hello from berth\n");
      expect(berth(root, ["rm", "-f", "pub"], { env }).code).toBe(0);
    } finally {
      resetNetworks();
    }
  }, 180_000);

  test("--network host shares the host's network namespace; none has only loopback", () => {
    // The namespace itself, not its interface list: other roots and tests add and remove veths
    // on this host at any moment.
    const host = berth(root, ["run", "--rm", "--network", "host", "busybox", "readlink", "/proc/self/ns/net"]);
    expect(host.stderr).toBe("");
    expect(host.stdout).toBe(`${readlinkSync("/proc/self/ns/net")}\n`);
    const none = berth(root, ["run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net"]);
    expect(none.stdout).toBe("lo\n");
  }, 180_000);

  test("--network container:OTHER joins the other container's network namespace", () => {
    berth(root, ["run", "-d", "--name", "owner", "--network", "none", "busybox", "sleep", "60"]);
    const mine = berth(root, ["exec", "owner", "readlink", "/proc/self/ns/net"]).stdout;
    expect(mine).toMatch(/^net:\[\d+\]\n$/);
    expect(berth(root, ["run", "--rm", "--network", "container:owner", "busybox", "readlink", "/proc/self/ns/net"]).stdout).toBe(mine);
    expect(berth(root, ["rm", "-f", "owner"]).code).toBe(0);
    expect(berth(root, ["run", "--rm", "--network", "container:owner", "busybox", "true"]).stderr).toContain("no such container: owner");
  }, 180_000);

  test("--ip: a fixed address on a user network (inspect's IPAMConfig says so); refused where docker refuses it", () => {
    const sub = freeSubnet();
    const at = (n: number) => sub.replace(/0\/24$/, String(n));
    try {
      expect(berth(root, ["network", "create", "--subnet", sub, "fixed"], { env }).code).toBe(0);
      const r = berth(root, ["run", "-d", "--name", "pinned", "--network", "fixed", "--ip", at(50), "busybox", "sleep", "60"], { env });
      expect(r.stderr).toBe("");
      expect(berth(root, ["exec", "pinned", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"], { env }).stdout.trim()).toBe(`${at(50)}/24`);
      const nets = JSON.parse(berth(root, ["inspect", "-f", "{{json .NetworkSettings.Networks}}", "pinned"], { env }).stdout);
      expect(nets.fixed.IPAMConfig).toEqual({ IPv4Address: at(50) });
      expect(nets.fixed.IPAddress).toBe(at(50));
      // the same address again: the start fails and says why; nothing of that container stays on the network
      const twice = berth(root, ["run", "-d", "--name", "again", "--network", "fixed", "--ip", at(50), "busybox", "sleep", "60"], { env });
      expect(twice.code).not.toBe(0);
      expect(twice.stderr).toContain("already in use");
      const outside = berth(root, ["run", "--rm", "--network", "fixed", "--ip", "192.168.250.7", "busybox", "true"], { env });
      expect(outside.code).not.toBe(0);
      expect(outside.stderr).toContain("not a host address");
      // at create: not on the default bridge, not without its network, only IPv4
      for (const [args, msg] of [
        [["--ip", at(9)], "user defined networks only"],
        [["--network", "none", "--ip", at(9)], "exactly one user network"],
        [["--network", "fixed", "--ip", "10.0.0.300"], "invalid IPv4 address \"10.0.0.300\""],
      ] as const) {
        const bad = berth(root, ["create", ...args, "busybox", "true"], { env });
        expect(bad.code).toBe(125);
        expect(bad.stderr).toContain(msg);
      }
    } finally {
      berth(root, ["rm", "-f", "pinned", "again"], { env });
      berth(root, ["network", "rm", "fixed"], { env });
    }
  }, 180_000);
});
