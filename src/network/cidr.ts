// IPv4 address arithmetic for subnets, gateways and allocation. Addresses are unsigned 32-bit numbers.

export interface Subnet {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefixLen: number;
}

export function parseIPv4(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) throw new Error(`invalid IPv4 address ${JSON.stringify(s)} (expected a.b.c.d)`);
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) throw new Error(`invalid IPv4 address ${JSON.stringify(s)}: each part must be 0-255`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function maskOf(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** Parses "a.b.c.d/N"; host bits must be zero so the user's intent is unambiguous. */
export function parseSubnet(s: string): Subnet {
  const [addr, len, ...rest] = s.trim().split("/");
  const prefixLen = Number(len);
  if (rest.length || addr === undefined || len === undefined || !Number.isInteger(prefixLen) || prefixLen < 8 || prefixLen > 30) {
    throw new Error(`invalid subnet ${JSON.stringify(s)}: expected a.b.c.d/N with N between 8 and 30`);
  }
  const ip = parseIPv4(addr);
  const base = (ip & maskOf(prefixLen)) >>> 0;
  if (base !== ip) throw new Error(`invalid subnet ${s}: host bits are set; did you mean ${formatIPv4(base)}/${prefixLen}?`);
  return { base, prefixLen };
}

export function formatSubnet(s: Subnet): string {
  return `${formatIPv4(s.base)}/${s.prefixLen}`;
}

export function broadcastOf(s: Subnet): number {
  return (s.base | ~maskOf(s.prefixLen)) >>> 0;
}

export function contains(s: Subnet, ip: number): boolean {
  return ((ip & maskOf(s.prefixLen)) >>> 0) === s.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const len = Math.min(a.prefixLen, b.prefixLen);
  return ((a.base & maskOf(len)) >>> 0) === ((b.base & maskOf(len)) >>> 0);
}

/** First and last address a container may get (network and broadcast addresses excluded). */
export function hostRange(s: Subnet): { first: number; last: number } {
  return { first: s.base + 1, last: broadcastOf(s) - 1 };
}

/** A locally administered MAC derived from the IPv4 address, stable across re-use of that address. */
export function macFor(ip: number): string {
  const bytes = [0x02, 0xb5, ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** IPv4 routes of the host's main table (from /proc/net/route), to refuse subnets that would shadow them. */
export function hostRoutes(text: string): Subnet[] {
  const out: Subnet[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = swap(parseInt(f[1]!, 16));
    const mask = swap(parseInt(f[7]!, 16));
    if (mask === 0) continue; // the default route overlaps everything by definition
    out.push({ base: dest, prefixLen: popcount(mask) });
  }
  return out;
}

function swap(n: number): number {
  return (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) | ((n >>> 24) & 255)) >>> 0;
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n >>> 0; x; x >>>= 1) c += x & 1;
  return c;
}
