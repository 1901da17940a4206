// `berth network ...` end to end through networkCommand, against a lab state root and prefix.
import { Database } from "bun:sqlite";
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
  expect(created.out.trim()).toMatch(/^[0-9a-f]{64}$/);
  expect((await run(ctx, "create", "spare")).code).toBe(0);

  const ls = await run(ctx, "ls");
  expect(ls.out).toMatch(/NETWORK ID\s+NAME\s+DRIVER\s+SUBNET/);
  expect(ls.out).toContain("backend");
  expect(ls.out).toContain("bridge"); // the default network appears on first ls

  const c = l.container();
  const conn = await run(ctx, "connect", "--ip", subnet.replace(/0\/24$/, "9"), "--alias", "db", "--netns", c.netnsPath, "backend", c.id);
  expect(conn.code).toBe(0);
  expect(conn.out.trim()).toBe(`eth0 ${subnet.replace(/0\/24$/, "9")}/24`);
  // docker's record: its keys, values and types (docker's CLI and SDKs read it).
  const inspected = await run(ctx, "inspect", "backend");
  expect(inspected.code).toBe(0);
  const info = JSON.parse(inspected.out);
  expect(info).toHaveLength(1);
  const net = info[0];
  expect(Object.keys(net)).toEqual(["Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal", "Attachable", "Ingress", "ConfigFrom", "ConfigOnly", "Containers", "Options", "Labels"]);
  expect(net).toMatchObject({ Name: "backend", Id: created.out.trim(), Scope: "local", Driver: "bridge", EnableIPv6: false, Internal: true, Attachable: false, Ingress: false, ConfigFrom: { Network: "" }, ConfigOnly: false, Labels: {} });
  expect(net.Created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/); // RFC3339Nano
  expect(Date.parse(net.Created)).toBeGreaterThan(0);
  expect(net.IPAM).toEqual({ Driver: "default", Options: {}, Config: [{ Subnet: subnet, Gateway: gateway }] });
  expect(net.Options["com.docker.network.bridge.name"]).toMatch(new RegExp(`^${l.prefix}-`));
  expect(net.Containers).toEqual({
    [c.id]: { Name: expect.any(String), EndpointID: expect.stringMatching(/^[0-9a-f]{64}$/), MacAddress: expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/), IPv4Address: `${subnet.replace(/0\/24$/, "9")}/24`, IPv6Address: "" },
  });
  // --format is a Go template over the record, as for the other inspect commands.
  expect((await run(ctx, "inspect", "-f", "{{.Name}} {{.Driver}} {{.Scope}} {{json .IPAM.Config}}", "backend")).out)
    .toBe(`backend bridge local [{"Subnet":"${subnet}","Gateway":"${gateway}"}]\n`);
  expect((await run(ctx, "inspect", "--format", "{{.Id}}", net.Id.slice(0, 12))).out).toBe(`${net.Id}\n`);
  // docker's predefined networks, and a missing one among others: reported, the others still shown.
  const some = await run(ctx, "inspect", "--format", "{{.Name}} {{.Driver}}", "host", "nosuch", "none");
  expect(some.code).toBe(1);
  expect(some.out).toBe("host host\nnone null\n");
  expect(some.err).toContain("nosuch");
  const lsFormat = await run(ctx, "ls", "--format", "{{.ID}} {{.Name}} {{.Driver}} {{.Scope}}");
  expect(lsFormat.out.split("\n")).toContain(`${net.Id.slice(0, 12)} backend bridge local`);
  expect((await run(ctx, "ls", "-q", "--no-trunc")).out.split("\n")).toContain(net.Id);

  // A root made before IDs had 64 digits keeps its 32-digit IDs: found by them and by their
  // prefixes still, and shown extended to 64 (the stored ID a prefix of the shown one).
  const legacy = "0123456789abcdef0123456789abcdef";
  l.mgr.create({ name: "legacy", subnet: freeSubnet([subnet]) });
  const db = new Database(`${l.root}/network/network.db`);
  try {
    db.query("UPDATE networks SET id = ? WHERE name = 'legacy'").run(legacy);
  } finally {
    db.close();
  }
  for (const ref of [legacy, legacy.slice(0, 12), "legacy"]) {
    const shown = await run(ctx, "inspect", "--format", "{{.Name}} {{.Id}}", ref);
    expect(shown.err).toBe("");
    expect(shown.out).toMatch(new RegExp(`^legacy ${legacy}[0-9a-f]{32}\n$`));
  }
  const legacyShown = (await run(ctx, "inspect", "--format", "{{.Id}}", legacy)).out.trim();
  expect((await run(ctx, "inspect", "--format", "{{.Name}}", legacyShown)).out).toBe("legacy\n");
  expect((await run(ctx, "inspect", "--format", "{{.Name}}", legacyShown.slice(0, 40))).out).toBe("legacy\n");
  expect((await run(ctx, "rm", legacy.slice(0, 12))).code).toBe(0);

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

test("labels: kept with the network (a store from before labels is upgraded), shown by inspect, matched by ls filters", async () => {
  const l = newLab();
  const ctx: NetworkCommandContext = { stateRoot: l.root, open: { namePrefix: l.prefix, defaultSubnet: freeSubnet(), subnetPool: "10.250.0.0/16", runDir: l.runDir } };
  // a store made by a berth that kept no labels: its networks table has no labels column
  expect((await run(ctx, "create", "old")).code).toBe(0);
  const db = new Database(`${l.root}/network/network.db`);
  db.exec("ALTER TABLE networks DROP COLUMN labels");
  db.close();
  expect((await run(ctx, "create", "--label", "team=web", "--label", "tier", "--label", "note=a=b c", "labelled")).code).toBe(0);
  const shown = JSON.parse((await run(ctx, "inspect", "labelled", "old")).out);
  expect(shown[0].Labels).toEqual({ team: "web", tier: "", note: "a=b c" });
  expect(shown[1].Labels).toEqual({});
  const names = async (...f: string[]) => (await run(ctx, "ls", "--format", "{{.Name}}", ...f.flatMap((x) => ["--filter", x]))).out.split("\n").filter(Boolean).sort();
  expect(await names("label=team=web")).toEqual(["labelled"]);
  expect(await names("label=tier")).toEqual(["labelled"]);
  expect(await names("label=team=db")).toEqual([]);
  expect(await names("label=team=web", "name=old")).toEqual([]);
  expect(await names("type=custom")).toEqual(["labelled", "old"]);
  expect(await names("name=old", "name=labelled")).toEqual(["labelled", "old"]);
  const bad = await run(ctx, "ls", "--filter", "colour=red");
  expect(bad.code).toBe(1);
  expect(bad.err).toContain("invalid filter 'colour'");
  const badLabel = await run(ctx, "create", "--label", "has space=1", "x");
  expect(badLabel.code).not.toBe(0);
  expect(badLabel.err).toContain("whitespace");
  for (const n of ["labelled", "old"]) expect((await run(ctx, "rm", n)).code).toBe(0);
});
