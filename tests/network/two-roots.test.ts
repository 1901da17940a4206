// Two state roots on one host at once, each with the names and subnet it derives itself (no
// BERTH_NETWORK_PREFIX / BERTH_NETWORK_SUBNET): both have a working default network, both publish
// ports that answer, and what one root does (run, rm, reconcile, system reset) leaves the other's
// bridge, veths, rules and answering ports as they were.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { openNetworks } from "../../src/network/index.ts";
import { berth, cleanupRoot, engineRoot, eventually } from "../engine/helpers.ts";
import { freePort } from "./lab.ts";

// The roots must derive their own names: a caller's overrides would defeat the point.
const env = { BERTH_NETWORK_PREFIX: "", BERTH_NETWORK_SUBNET: "" };
let a = "";
let b = "";
beforeAll(async () => {
  [a, b] = await Promise.all([engineRoot(), engineRoot()]);
});
afterAll(() => {
  for (const r of [a, b]) if (r) cleanupRoot(r);
});

interface Net {
  bridge: string;
  subnet: string;
  containers: { hostVeth: string }[];
}

/** The default network as `network inspect` shows it (docker's record), with each member's host
 *  veth as the kernel has it: the bridge's ports. */
function bridgeOf(root: string): Net {
  const r = berth(root, ["network", "inspect", "bridge"], { env });
  expect(r.stderr).toBe("");
  const rec = (JSON.parse(r.stdout) as { Options: Record<string, string>; IPAM: { Config: { Subnet: string }[] }; Containers: Record<string, unknown> }[])[0]!;
  const bridge = rec.Options["com.docker.network.bridge.name"]!;
  const ports = existsSync(`/sys/class/net/${bridge}/brif`) ? readdirSync(`/sys/class/net/${bridge}/brif`) : [];
  expect(ports).toHaveLength(Object.keys(rec.Containers).length);
  return { bridge, subnet: rec.IPAM.Config[0]!.Subnet, containers: ports.map((hostVeth) => ({ hostVeth })) };
}

/** The root's nftables table (named after its bridge's prefix), as the kernel has it. */
function tableOf(bridge: string): string {
  return Bun.spawnSync(["nft", "list", "table", "ip", bridge.slice(0, -1)], { stderr: "ignore" }).stdout.toString();
}

async function answers(port: number): Promise<boolean> {
  return eventually(() => {
    const c = Bun.spawnSync(["curl", "-s", "--noproxy", "*", "--max-time", "2", `http://127.0.0.1:${port}/`]);
    return c.exitCode === 0 && c.stdout.toString() === "hello from berth\n";
  });
}

function web(root: string, name: string, port: number): void {
  const r = berth(root, ["run", "-d", "--name", name, "-p", `${port}:80`, "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www"], { env });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
}

const link = (name: string) => existsSync(`/sys/class/net/${name}`);

test("two roots side by side: own bridges, subnets, rules and ports; one's run, rm, reconcile and reset leave the other alone", async () => {
  const pa = freePort();
  let pb = freePort();
  while (pb === pa) pb = freePort();
  web(a, "web", pa);
  web(b, "web", pb);
  expect(await answers(pa)).toBe(true);
  expect(await answers(pb)).toBe(true);

  const na = bridgeOf(a), nb = bridgeOf(b);
  expect(na.bridge).not.toBe(nb.bridge);
  expect(na.subnet).not.toBe(nb.subnet);
  for (const n of [na, nb]) {
    expect(n.bridge).toMatch(/^b[0-9a-f]{5}0$/);
    expect(n.subnet).toMatch(/\/16$/);
    expect(n.containers).toHaveLength(1);
    expect(n.containers[0]!.hostVeth.length).toBeLessThanOrEqual(15);
    expect(link(n.bridge) && link(n.containers[0]!.hostVeth)).toBe(true);
  }
  const rulesA = tableOf(na.bridge);
  expect(rulesA).toContain(`dport ${pa} dnat`);
  expect(rulesA).not.toContain(`dport ${pb} dnat`);
  expect(tableOf(nb.bridge)).toContain(`dport ${pb} dnat`);

  // A host port one root publishes is taken for the other: refused at create, nothing made.
  const clash = berth(b, ["run", "-d", "--name", "clash", "-p", `${pa}:80`, "busybox", "httpd", "-f", "-p", "80"], { env });
  expect(clash.code).toBe(125);
  expect(clash.stderr).toContain(`0.0.0.0:${pa}/tcp failed: port is already allocated`);
  expect(berth(b, ["ps", "-aq", "--filter", "name=clash"], { env }).stdout).toBe("");

  // B runs and removes another container, and reconciles: A's rules are untouched.
  web(b, "other", freePort(30000, 31000));
  expect(berth(b, ["rm", "-f", "other"], { env }).code).toBe(0);
  const mb = openNetworks(b);
  try {
    mb.reconcile(new Set(berth(b, ["ps", "-q", "--no-trunc"], { env }).stdout.split("\n").filter(Boolean)));
  } finally {
    mb.close();
  }
  expect(tableOf(na.bridge)).toBe(rulesA);
  expect(await answers(pa)).toBe(true);
  expect(await answers(pb)).toBe(true);

  // B's reset removes B's objects only.
  const reset = berth(b, ["system", "reset", "-f"], { env });
  expect(reset.code).toBe(0);
  expect(link(nb.bridge) || link(nb.containers[0]!.hostVeth)).toBe(false);
  expect(tableOf(nb.bridge)).toBe("");
  expect(link(na.bridge) && link(na.containers[0]!.hostVeth)).toBe(true);
  expect(tableOf(na.bridge)).toBe(rulesA);
  expect(await answers(pa)).toBe(true);

  // And B starts over beside A.
  const pb2 = freePort(31001, 32000);
  web(b, "again", pb2);
  expect(await answers(pb2)).toBe(true);
  expect(await answers(pa)).toBe(true);
  const nb2 = bridgeOf(b);
  for (const r of [a, b]) expect(berth(r, ["system", "reset", "-f"], { env }).code).toBe(0);
  expect(link(na.bridge) || link(nb2.bridge)).toBe(false);
}, 240_000);
