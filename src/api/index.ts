// The Docker Engine API service (`berth system service`): see README.md.
import { readFileSync } from "node:fs";
import { ApiError } from "./http.ts";

export { startService, parseHost, type Service, type ServiceOptions } from "./server.ts";
export { inheritedSockets } from "./activation.ts";
export { API_VERSION, MIN_API_VERSION } from "./router.ts";
export { JSON_BODY_LIMIT } from "./http.ts";

/** A group name or number from /etc/group. */
export function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === group && f[2]) return Number(f[2]);
  }
  throw new ApiError(400, `--group ${group}: no such group`);
}
