// Images from and to registries, for the engine's front ends (the CLI's pull/push/login/logout,
// an API's POST /images/create and /images/{name}/push): the registry client of src/image/registry
// on this engine's image store (so rmi and prune see the containers that hold the images).
// run/create's --pull goes through create.ts (imageForCreate).
import { type PullOptions, type PullResult, type PushOptions, type PushResult, checkLogin, listTags, login, logout, pullImage, pushImage } from "../image/registry/index.ts";
import type { Credentials } from "../image/registry/credentials.ts";
import { familiarName } from "../image/reference.ts";
import { recordEvent } from "./events.ts";
import { openEngineImages } from "./images.ts";
import { DEFAULT_ENGINE_ROOT } from "./paths.ts";

export type { PullEvent, PullOptions, PullResult, PushOptions, PushResult } from "../image/registry/index.ts";
export { RegistryError } from "../image/registry/index.ts";
export type { Credentials };

/** docker's pull and push events name the reference (Actor.ID and its name attribute). */
function recordImageEvent(root: string, action: "pull" | "push", name: string): void {
  const shown = familiarName(name);
  recordEvent(root, "image", action, shown, { name: shown });
}

export async function pull(root: string = DEFAULT_ENGINE_ROOT, ref: string, opts: PullOptions = {}): Promise<PullResult> {
  const r = await pullImage(openEngineImages(root), ref, opts);
  recordImageEvent(root, "pull", r.name ?? ref);
  return r;
}

/** `pull -a`: the repository's tags, as references to pull one by one. */
export async function repositoryTags(root: string = DEFAULT_ENGINE_ROOT, ref: string, tlsVerify?: boolean, credentials?: Credentials | null): Promise<string[]> {
  return listTags(openEngineImages(root), ref, tlsVerify, credentials);
}

export async function push(root: string = DEFAULT_ENGINE_ROOT, ref: string, opts: PushOptions = {}): Promise<PushResult> {
  const r = await pushImage(openEngineImages(root), ref, opts);
  recordImageEvent(root, "push", ref);
  return r;
}

/** Checks the credentials with the registry, then keeps them in docker's config.json. Returns the registry host. */
export function registryLogin(root: string = DEFAULT_ENGINE_ROOT, registry: string | undefined, creds: Credentials, tlsVerify?: boolean): Promise<string> {
  return login(openEngineImages(root), registry, creds, tlsVerify);
}

/** Checks the credentials with the registry and keeps nothing (the Docker API's /auth). Returns the registry host. */
export function registryCheckLogin(root: string = DEFAULT_ENGINE_ROOT, registry: string | undefined, creds: Credentials, tlsVerify?: boolean): Promise<string> {
  return checkLogin(openEngineImages(root), registry, creds, tlsVerify);
}

export function registryLogout(registry: string | undefined): { host: string; removed: boolean } {
  return logout(registry);
}
