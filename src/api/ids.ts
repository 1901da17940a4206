// Docker's IDs are 64 hex digits; the network store's are shorter and endpoints have none.
import { createHash } from "node:crypto";
import type { EndpointInfo } from "../network/index.ts";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** A network's ID extended by its own hash, so a prefix of the store's ID still finds it. */
export function fullNetworkId(id: string): string {
  return id.length >= 64 ? id.slice(0, 64) : (id + sha256(id)).slice(0, 64);
}

/** One endpoint per container and network. */
export function endpointId(e: Pick<EndpointInfo, "containerId" | "network">): string {
  return sha256(`${e.containerId}/${e.network}`);
}
