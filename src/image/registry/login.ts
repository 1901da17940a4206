// `berth login` checks the credentials against the registry (GET /v2/ with them, through a token
// service when it has one) before writing them; `berth logout` removes them.
import type { ImageStore } from "../store.ts";
import { RegistryClient } from "./client.ts";
import { type Credentials, removeCredentials, storeCredentials } from "./credentials.ts";
import { loadRegistryPolicy } from "./registries.ts";

export const DEFAULT_LOGIN_REGISTRY = "docker.io";

/** "https://host/v1/" and "host" both name host. */
export function registryHost(arg: string | undefined): string {
  if (!arg) return DEFAULT_LOGIN_REGISTRY;
  const h = arg.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  return h === "index.docker.io" || h === "registry-1.docker.io" ? DEFAULT_LOGIN_REGISTRY : h;
}

export async function login(store: ImageStore, registry: string | undefined, creds: Credentials, tlsVerify?: boolean): Promise<string> {
  const host = await checkLogin(store, registry, creds, tlsVerify);
  storeCredentials(host, creds);
  return host;
}

/** Whether the registry takes these credentials, keeping nothing (the Docker API's /auth: the
 *  client keeps them). Returns the registry host; a refusal throws RegistryError (401). */
export async function checkLogin(store: ImageStore, registry: string | undefined, creds: Credentials, tlsVerify?: boolean): Promise<string> {
  const host = registryHost(registry);
  const client = new RegistryClient(host, { policy: loadRegistryPolicy(store.root), credentials: creds, ...(tlsVerify !== undefined ? { tlsVerify } : {}) });
  const res = await client.request("GET", "/v2/", {});
  await res.body?.cancel().catch(() => {});
  return host;
}

export function logout(registry: string | undefined): { host: string; removed: boolean } {
  const host = registryHost(registry);
  return { host, removed: removeCredentials(host) };
}
