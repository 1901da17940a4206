// `berth system reset`: the reboot-like clean-up of issue 7. Every container goes, and with the
// networks' kernel objects (bridge, veths, nft table) and leases, nothing of Berth stays.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { freeSubnet } from "../network/lab.ts";
import { berth, cleanupRoot, engineRoot } from "./helpers.ts";

const PREFIX = `br${process.pid % 10000}`;
// A subnet no route on this host covers (a fixed one may be the host's own network).
const SUBNET = freeSubnet();
const env = { BERTH_NETWORK_PREFIX: PREFIX, BERTH_NETWORK_SUBNET: SUBNET };
let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => cleanupRoot(root.length ? root : "/nonexistent"));

function links(): string[] {
  return Bun.spawnSync(["ip", "-o", "link", "show"]).stdout.toString().split("\n").filter((l) => l.includes(PREFIX));
}
function table(): boolean {
  return Bun.spawnSync(["nft", "list", "tables"]).stdout.toString().includes(`ip ${PREFIX}`);
}

test("system reset removes running containers, their veths, the bridge and the rules", () => {
  expect(berth(root, ["run", "-d", "--name", "pub", "-p", "80", "busybox", "httpd", "-f", "-p", "80"], { env }).code).toBe(0);
  expect(berth(root, ["run", "-d", "--name", "quiet", "busybox", "sleep", "600"], { env }).code).toBe(0);
  expect(links().length).toBeGreaterThanOrEqual(3); // the bridge and two veths
  expect(table()).toBe(true);

  const r = berth(root, ["system", "reset", "-f"], { env });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("Removed 2 container(s)");
  expect(berth(root, ["ps", "-aq"], { env }).stdout.trim()).toBe("");
  expect(links()).toEqual([]);
  expect(table()).toBe(false);
  // A new container after the reset gets a fresh network.
  const again = berth(root, ["run", "--rm", "busybox", "true"], { env });
  expect(again.code).toBe(0);
  expect(berth(root, ["system", "reset", "-f"], { env }).code).toBe(0);
  expect(links()).toEqual([]);
});
