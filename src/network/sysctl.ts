// Per-interface IPv4 sysctls. Berth never flips host-wide switches on its own: forwarding and
// route_localnet are set on Berth's bridges only. Host-wide ip_forward is written only for
// networks created with outbound access (see NetworkManager.create).
import { readFileSync, writeFileSync } from "node:fs";

function write(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (e) {
    throw new Error(`cannot write ${path}: ${(e as Error).message} (are we root in the host network namespace?)`);
  }
}

export function setInterfaceSysctl(ifname: string, key: "forwarding" | "route_localnet", on: boolean): void {
  write(`/proc/sys/net/ipv4/conf/${ifname}/${key}`, on ? "1" : "0");
}

export function ipForwardEnabled(): boolean {
  return readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim() === "1";
}

/** Host-wide forwarding, needed only so replies from the outside world are routed back to containers. */
export function enableIpForward(): void {
  if (!ipForwardEnabled()) write("/proc/sys/net/ipv4/ip_forward", "1");
}
