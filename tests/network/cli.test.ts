// `berth network ...` end to end through networkCommand, against a lab state root and prefix.
import { expect, test } from "bun:test";
import { networkCommand, type NetworkCommandContext } from "../../src/cli/berth/network.ts";
import { freeSubnet, useLab } from "./lab.ts";

const newLab = useLab();

async function run(ctx: NetworkCommandContext, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await networkCommand(argv, { ...ctx, out: (s) => (out += s + "\n"), err: (s) => (err += s + "\n") });
  return { code, out, err };
}

test("create, ls, inspect, connect, disconnect, rm, prune, netns", async () => {
  const l = newLab();
  const ctx: NetworkCommandContext = { stateRoot: l.root, open: { namePrefix: l.prefix, defaultSubnet: freeSubnet(), subnetPool: "10.250.0.0/16", runDir: l.runDir } };
  const subnet = freeSubnet();
  const gateway = subnet.replace(/0\/24$/, "254");
  const created = await run(ctx, "create", "--subnet", subnet, "--gateway", gateway, "--internal", "backend");
  expect(created.code).toBe(0);
  expect(created.out.trim()).toMatch(/^[0-9a-f]{32}$/);
  expect((await run(ctx, "create", "spare")).code).toBe(0);

  const ls = await run(ctx, "ls");
  expect(ls.out).toMatch(/NETWORK ID\s+NAME\s+DRIVER\s+SUBNET/);
  expect(ls.out).toContain("backend");
  expect(ls.out).toContain("bridge"); // the default network appears on first ls

  const c = l.container();
  const conn = await run(ctx, "connect", "--ip", subnet.replace(/0\/24$/, "9"), "--alias", "db", "--netns", c.netnsPath, "backend", c.id);
  expect(conn.code).toBe(0);
  expect(conn.out.trim()).toBe(`eth0 ${subnet.replace(/0\/24$/, "9")}/24`);
  const info = JSON.parse((await run(ctx, "inspect", "backend")).out);
  expect(info[0].gateway).toBe(gateway);
  expect(info[0].internal).toBe(true);
  expect(info[0].containers[0].aliases).toEqual(["db"]);

  const busy = await run(ctx, "rm", "backend");
  expect(busy.code).toBe(1);
  expect(busy.err).toContain("in use");
  expect((await run(ctx, "disconnect", "backend", c.id)).code).toBe(0);
  const pruned = await run(ctx, "prune");
  expect(pruned.out).toContain("backend");
  expect(pruned.out).toContain("spare");

  const bad = await run(ctx, "create", "--subnet", "10.0.0.1/8", "x");
  expect(bad.code).toBe(1);
  expect(bad.err).toContain("host bits");
  expect((await run(ctx, "bogus")).code).toBe(2);

  const name = `${l.prefix}-cli`;
  const made = await run(ctx, "netns", "create", name);
  expect(made.out.trim()).toBe(`/run/netns/${name}`);
  expect(Bun.spawnSync(["ip", "netns", "list"]).stdout.toString()).toContain(name);
  expect((await run(ctx, "netns", "rm", name)).code).toBe(0);
  expect(l.leftoverNetns().filter((n) => n === name)).toEqual([]);
});
