// Address selection for one network: pure, so the rules (host range, gateway, round-robin) are
// testable without a store. The caller persists the lease and the cursor in one transaction.
import { contains, formatSubnet, hostRange, parseIPv4, type Subnet } from "./cidr.ts";

export interface AddressChoice {
  ip: number;
  /** Where the next automatic pick starts. */
  nextCursor: number;
}

/**
 * Picks `wanted` (checked) or the first free host address at or after `cursor`, wrapping around:
 * round-robin, so a just-freed address (still in neighbours' ARP caches) is handed out last.
 */
export function chooseAddress(subnet: Subnet, gateway: number, taken: ReadonlySet<number>, cursor: number, wanted?: string, networkName = formatSubnet(subnet)): AddressChoice {
  const { first, last } = hostRange(subnet);
  if (wanted !== undefined) {
    const w = parseIPv4(wanted);
    if (!contains(subnet, w) || w < first || w > last) throw new Error(`address ${wanted} is not a host address of network ${networkName} (${formatSubnet(subnet)})`);
    if (w === gateway) throw new Error(`address ${wanted} is the gateway of network ${networkName}`);
    if (taken.has(w)) throw new Error(`address ${wanted} is already in use on network ${networkName}`);
    return { ip: w, nextCursor: cursor };
  }
  const span = last - first + 1;
  const start = cursor >= first && cursor <= last ? cursor : first;
  for (let i = 0; i < span; i++) {
    const c = first + ((start - first + i) % span);
    if (c !== gateway && !taken.has(c)) return { ip: c, nextCursor: c + 1 > last ? first : c + 1 };
  }
  throw new Error(`network ${networkName} (${formatSubnet(subnet)}) has no free addresses left`);
}
