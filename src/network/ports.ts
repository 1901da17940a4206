// Port publishing specs (`-p`) and the choice of free host ports.
import { readFileSync } from "node:fs";
import { parseIPv4 } from "./cidr.ts";
import { portBound, SOCK_DGRAM, SOCK_STREAM } from "./ffi.ts";

export type Proto = "tcp" | "udp";

export interface PortRequest {
  /** Host address to listen on; omitted or "0.0.0.0" = every address of the host. */
  hostIp?: string;
  /** A fixed host port. */
  hostPort?: number;
  /** Pick the first free host port in [from, to]. Neither hostPort nor range = a random free port. */
  hostRange?: { from: number; to: number };
  containerPort: number;
  proto: Proto;
}

export interface PortBinding {
  hostIp: string; // "" = every host address
  hostPort: number;
  containerIp: string;
  containerPort: number;
  proto: Proto;
}

function port(s: string, spec: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new Error(`invalid port ${JSON.stringify(s)} in -p ${spec}: ports are 1-65535`);
  return n;
}

function range(s: string, spec: string): { from: number; to: number } {
  const [a, b] = s.split("-");
  const from = port(a!, spec);
  const to = b === undefined ? from : port(b, spec);
  if (to < from) throw new Error(`invalid port range ${s} in -p ${spec}: the end is below the start`);
  return { from, to };
}

/**
 * Parses `[HOSTIP:][HOSTPORT[-END]:]CTRPORT[-END][/tcp|udp]`, Docker/compose style. A container range
 * needs a host range of the same size (pairwise), or a host range may feed one container port
 * (`1000-2000:81`: pick a free host port in the range).
 */
export function parsePortSpec(spec: string): PortRequest[] {
  let body = spec.trim();
  let proto: Proto = "tcp";
  const slash = body.lastIndexOf("/");
  if (slash >= 0) {
    const p = body.slice(slash + 1).toLowerCase();
    if (p !== "tcp" && p !== "udp") throw new Error(`invalid protocol ${JSON.stringify(p)} in -p ${spec}: use tcp or udp`);
    proto = p;
    body = body.slice(0, slash);
  }
  const parts = body.split(":");
  let hostIp: string | undefined;
  let hostPart: string | undefined;
  let ctrPart: string;
  if (parts.length === 1) ctrPart = parts[0]!;
  else if (parts.length === 2) [hostPart, ctrPart] = parts as [string, string];
  else if (parts.length === 3) [hostIp, hostPart, ctrPart] = parts as [string, string, string];
  else throw new Error(`invalid -p ${spec}: expected [HOSTIP:][HOSTPORT:]CONTAINERPORT[/PROTO]`);
  if (hostIp !== undefined) {
    parseIPv4(hostIp);
    if (hostIp === "0.0.0.0") hostIp = undefined;
  }
  const ctr = range(ctrPart, spec);
  const ctrCount = ctr.to - ctr.from + 1;
  const out: PortRequest[] = [];
  if (!hostPart) {
    for (let p = ctr.from; p <= ctr.to; p++) out.push({ hostIp, containerPort: p, proto });
    return out;
  }
  const host = range(hostPart, spec);
  const hostCount = host.to - host.from + 1;
  if (ctrCount === 1 && hostCount > 1) return [{ hostIp, hostRange: host, containerPort: ctr.from, proto }];
  if (hostCount !== ctrCount) throw new Error(`invalid -p ${spec}: host range has ${hostCount} ports but container range has ${ctrCount}`);
  for (let i = 0; i < ctrCount; i++) out.push({ hostIp, hostPort: host.from + i, containerPort: ctr.from + i, proto });
  return out;
}

/** Whether a process on the host already holds `port` (a published port would shadow it). */
export function hostPortBusy(port: number, proto: Proto): boolean {
  return portBound(port, proto === "tcp" ? SOCK_STREAM : SOCK_DGRAM);
}

/** The kernel's ephemeral range, avoided for random picks so outgoing connections are not shadowed. */
export function ephemeralRange(): { from: number; to: number } {
  try {
    const [a, b] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (a && b) return { from: a, to: b };
  } catch {
    // fall through
  }
  return { from: 32768, to: 60999 };
}

/** `-P`: every port of the image's EXPOSE list ("80/tcp", "53/udp", "8080") on a random host port. */
export function exposedPortRequests(exposed: Record<string, unknown> | string[] | undefined): PortRequest[] {
  const keys = Array.isArray(exposed) ? exposed : Object.keys(exposed ?? {});
  return keys.flatMap((k) => parsePortSpec(k));
}

/** One line of `berth port`: "80/tcp -> 0.0.0.0:8080". */
export function formatBinding(b: PortBinding): string {
  return `${b.containerPort}/${b.proto} -> ${b.hostIp || "0.0.0.0"}:${b.hostPort}`;
}
