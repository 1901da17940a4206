// The argv a container runs, as ps and inspect show it and the spec runs it. Its own module so
// that listing containers does not load the spec builder (seccomp profile, capabilities).
import type { ContainerConfig } from "./types.ts";

/** Where --init's tiny init is bind-mounted in the container (docker's path). */
export const INIT_IN_CONTAINER = "/sbin/docker-init";

export function commandOf(cfg: ContainerConfig): string[] {
  const argv = [...cfg.entrypoint, ...cfg.cmd];
  return cfg.init ? [INIT_IN_CONTAINER, "--", ...argv] : argv;
}
