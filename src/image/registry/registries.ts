// Which registries are spoken to over plain HTTP or without verifying TLS, and where docker.io
// really is. Read from (first found) ROOT/registries.json, then /etc/berth/registries.json:
//   { "insecure-registries": ["myregistry:5000", "10.0.0.0/8"], "mirrors": { "docker.io": ["mirror.local:5000"] } }
// As docker does, loopback registries (localhost, 127.0.0.0/8, ::1) are insecure without being listed.
// An insecure registry is tried over HTTPS without certificate checks first, then over plain HTTP.
import * as fs from "node:fs";
import * as path from "node:path";

export interface RegistryPolicy {
  insecure: string[];
  mirrors: Record<string, string[]>;
}

export const SYSTEM_REGISTRIES_FILE = "/etc/berth/registries.json";

export function loadRegistryPolicy(root: string | null): RegistryPolicy {
  const files = [...(root ? [path.join(root, "registries.json")] : []), SYSTEM_REGISTRIES_FILE];
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, "utf8");
    } catch {
      continue;
    }
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${f}: not valid JSON (${(e as Error).message})`);
    }
    const insecure = v["insecure-registries"] ?? [];
    if (!Array.isArray(insecure) || !insecure.every((x) => typeof x === "string")) throw new Error(`${f}: "insecure-registries" must be a list of host[:port] or CIDR strings`);
    const mirrors = (v.mirrors ?? {}) as Record<string, unknown>;
    for (const [k, m] of Object.entries(mirrors)) {
      if (!Array.isArray(m) || !m.every((x) => typeof x === "string")) throw new Error(`${f}: mirrors.${k} must be a list of host[:port] strings`);
    }
    return { insecure, mirrors: mirrors as Record<string, string[]> };
  }
  return { insecure: [], mirrors: {} };
}

function ipv4(s: string): number | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (!m) return null;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return null;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

function inCidr(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split("/");
  const a = ipv4(ip), b = ipv4(net ?? "");
  const n = Number(bits);
  if (a === null || b === null || !Number.isInteger(n) || n < 0 || n > 32) return false;
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

/** host: "name[:port]" as in an image reference. */
export function isInsecure(host: string, policy: RegistryPolicy): boolean {
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  if (name === "localhost" || name === "::1" || inCidr(name, "127.0.0.0/8")) return true;
  return policy.insecure.some((e) => e === host || e === name || (e.includes("/") && inCidr(name, e)));
}
