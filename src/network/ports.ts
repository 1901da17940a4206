// Port publishing specs (`-p`, `-P`): docker's whole grammar, parsed here once (the engine's
// create checks and stores what this returns), and the probe for host ports a process holds.
import { readFileSync } from "node:fs";
import { parseIPv4 } from "./cidr.ts";

export type Proto = "tcp" | "udp" | "sctp";
export const PROTOS: readonly Proto[] = ["tcp", "udp", "sctp"];

export interface PortRequest {
  /** Host address to listen on; omitted or "0.0.0.0" = every address of the host. */
  hostIp?: string;
  /** A fixed host port. */
  hostPort?: number;
  /** One free host port of [from, to], chosen per container. Neither hostPort nor range = a random free port. */
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

const USAGE = "use [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|udp|sctp]";

function bad(spec: string, why: string): Error {
  return new Error(`invalid publish spec "${spec}": ${why}`);
}

function port(s: string, spec: string, side: "host" | "container"): number {
  if (!/^\d+$/.test(s)) throw bad(spec, `${side} port "${s}" is not a number; ${USAGE}`);
  const n = Number(s);
  if (n < 1 || n > 65535) throw bad(spec, `${side} port ${s} is out of range: ports are 1-65535`);
  return n;
}

function range(s: string, spec: string, side: "host" | "container"): { from: number; to: number } {
  const dash = s.indexOf("-");
  if (dash < 0) {
    const p = port(s, spec, side);
    return { from: p, to: p };
  }
  const from = port(s.slice(0, dash), spec, side);
  const to = port(s.slice(dash + 1), spec, side);
  if (to < from) throw bad(spec, `${side} port range ${s} is reversed: write ${to}-${from}`);
  return { from, to };
}

/**
 * Parses one `-p` value, docker's forms: CTR, HOST:CTR, IP:HOST:CTR, IP::CTR (random host port), a
 * host range for one container port (`1000-2000:81`: one free port of the range, chosen per
 * container), ranges of equal length on both sides (pairwise), a container range alone (each on a
 * random host port); `/tcp` (default), `/udp`, `/sctp`. Host addresses are IPv4 (Berth's networks
 * are IPv4-only). Errors name the spec and what is wrong with it.
 */
export function parsePortSpec(spec: string): PortRequest[] {
  let body = spec.trim();
  let proto: Proto = "tcp";
  const slash = body.lastIndexOf("/");
  if (slash >= 0) {
    const p = body.slice(slash + 1).toLowerCase();
    if (!(PROTOS as readonly string[]).includes(p)) throw bad(spec, `unknown protocol "${p}": use tcp, udp or sctp`);
    proto = p as Proto;
    body = body.slice(0, slash);
  }
  if (body.startsWith("[")) throw bad(spec, "IPv6 host addresses are not supported (Berth's networks are IPv4-only)");
  const parts = body.split(":");
  let hostIp: string | undefined;
  let hostPart: string | undefined;
  let ctrPart: string;
  if (parts.length === 1) ctrPart = parts[0]!;
  else if (parts.length === 2) [hostPart, ctrPart] = parts as [string, string];
  else if (parts.length === 3) [hostIp, hostPart, ctrPart] = parts as [string, string, string];
  else throw bad(spec, /^[0-9a-f:]+$/i.test(body) && (body.includes("::") || /[a-f]/i.test(body)) ? "IPv6 host addresses are not supported (Berth's networks are IPv4-only)" : USAGE);
  if (ctrPart === "") throw bad(spec, `no container port; ${USAGE}`);
  if (hostIp !== undefined) {
    try {
      parseIPv4(hostIp);
    } catch {
      throw bad(spec, `"${hostIp}" is not an IPv4 address`);
    }
    if (hostIp === "0.0.0.0") hostIp = undefined;
  }
  const ip = hostIp === undefined ? {} : { hostIp };
  const ctr = range(ctrPart, spec, "container");
  const ctrCount = ctr.to - ctr.from + 1;
  const out: PortRequest[] = [];
  if (!hostPart) {
    for (let p = ctr.from; p <= ctr.to; p++) out.push({ ...ip, containerPort: p, proto });
    return out;
  }
  const host = range(hostPart, spec, "host");
  const hostCount = host.to - host.from + 1;
  if (ctrCount === 1 && hostCount > 1) return [{ ...ip, hostRange: host, containerPort: ctr.from, proto }];
  if (hostCount !== ctrCount) {
    throw bad(spec, `the host range ${hostPart} has ${hostCount} ports but the container range ${ctrPart} has ${ctrCount}; give ranges of equal length, or a host range for one container port`);
  }
  for (let i = 0; i < ctrCount; i++) out.push({ ...ip, hostPort: host.from + i, containerPort: ctr.from + i, proto });
  return out;
}

/** Whether a process on the host already holds `port` (a published port would shadow it). */
export function hostPortBusy(port: number, proto: Proto): boolean {
  // bun:ffi and libc only when a port is checked: create parses -p without them.
  const ffi = require("./ffi.ts") as typeof import("./ffi.ts");
  if (proto === "sctp") {
    try {
      return ffi.portBound(port, ffi.SOCK_STREAM, ffi.IPPROTO_SCTP);
    } catch {
      return false; // no SCTP in this kernel (module not loaded): nothing can hold the port
    }
  }
  return ffi.portBound(port, proto === "tcp" ? ffi.SOCK_STREAM : ffi.SOCK_DGRAM);
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

/** `-P`: every port of the image's EXPOSE list ("80/tcp", "53/udp", "8080", "8000-8001/tcp") on a random host port. */
export function exposedPortRequests(exposed: Record<string, unknown> | string[] | undefined): PortRequest[] {
  const keys = Array.isArray(exposed) ? exposed : Object.keys(exposed ?? {});
  return keys.flatMap((k) => parsePortSpec(k));
}

/** One line of `berth port`: "80/tcp -> 0.0.0.0:8080". */
export function formatBinding(b: PortBinding): string {
  return `${b.containerPort}/${b.proto} -> ${b.hostIp || "0.0.0.0"}:${b.hostPort}`;
}
