// Shared by the compose tests: a project directory with its files, and `berth compose` run in it
// against a test's own engine root and network names, as a user would type it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { freeSubnet } from "../network/lab.ts";
import { berth, type Result } from "../engine/helpers.ts";

export const NET_ENV = { BERTH_NETWORK_PREFIX: `bc${process.pid % 10000}`, BERTH_NETWORK_SUBNET: freeSubnet() };

const made: string[] = [];

/** Removes every project directory this test file made (call in afterAll). */
export function removeProjectDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A temp project directory holding these files (path → text); removeProjectDirs() removes it. */
export function projectDir(files: Record<string, string>, name = "proj"): string {
  const base = mkdtempSync(join(tmpdir(), "berth-compose-"));
  made.push(base);
  const dir = join(base, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `berth --root ROOT ARGS…` in cwd, on this file's own network prefix and subnet. */
export function run(root: string, cwd: string, args: string[], env: Record<string, string> = {}): Result {
  return berth(root, args, { cwd, env: { ...NET_ENV, ...env }, timeoutMs: 120_000 });
}

export const compose = (root: string, cwd: string, args: string[], env: Record<string, string> = {}) => run(root, cwd, ["compose", ...args], env);

/** A TCP port nothing on this host listens on now. */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

/** The engine root's user networks (names). */
export function networkNames(root: string): string[] {
  const r = run(root, "/", ["network", "ls"]);
  return r.stdout.split("\n").slice(1).map((l) => l.split(/\s+/)[1] ?? "").filter(Boolean);
}

/** GET http://127.0.0.1:PORT/PATH from the host (through the published port). */
export async function httpGet(port: number, path = "/"): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return r.text();
}
