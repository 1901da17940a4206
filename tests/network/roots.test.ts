// A state root's kernel-name prefix: derived from the root (berth for /var/lib/berth), stored when
// the root's network store is made, and never shared by two live roots.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openNetworks } from "../../src/network/index.ts";
import { prefixForRoot } from "../../src/network/roots.ts";

const made: string[] = [];
function root(): string {
  const r = mkdtempSync(join(tmpdir(), "berth-roots-"));
  made.push(r);
  return r;
}
afterEach(() => {
  for (const r of made.splice(0)) {
    const m = openNetworks(r);
    try { m.reset(); } finally { m.close(); }
    rmSync(r, { recursive: true, force: true });
  }
});

test("the historic root keeps berth; any other root gets b + 5 hex digits of its path's hash", () => {
  const hash = (s: string) => Bun.CryptoHasher.hash("sha256", s, "hex");
  expect(prefixForRoot("/var/lib/berth", hash)).toBe("berth");
  expect(prefixForRoot("/var/lib/berth/", hash)).toBe("berth");
  const other = prefixForRoot("/srv/berth-a", hash);
  expect(other).toMatch(/^b[0-9a-f]{5}$/);
  expect(prefixForRoot("/srv/berth-b", hash)).not.toBe(other);
  const m = openNetworks(root());
  try {
    expect(m.prefix).toMatch(/^b[0-9a-f]{5}$/);
    expect(m.table).toBe(m.prefix);
  } finally {
    m.close();
  }
});

test("the prefix is fixed when the store is made; a second live root cannot take the same one", () => {
  const a = root();
  const b = root();
  const prefix = `z${process.pid.toString(36).slice(-5)}`;
  openNetworks(a, { namePrefix: prefix }).close();
  // A later value is ignored: the root keeps the names its objects have.
  const again = openNetworks(a, { namePrefix: "other" });
  try { expect(again.prefix).toBe(prefix); } finally { again.close(); }
  expect(() => openNetworks(b, { namePrefix: prefix })).toThrow(`network name prefix ${prefix} is already used by the state root ${a}`);
  // Once the first root is gone, its claim is stale and the prefix free.
  rmSync(join(a, "network"), { recursive: true, force: true });
  const mb = openNetworks(b, { namePrefix: prefix });
  try { expect(mb.prefix).toBe(prefix); } finally { mb.close(); }
});
