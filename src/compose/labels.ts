// docker compose's labels on what a project makes, so berth (and docker clients pointed at
// Berth's API) find a project's containers again after any crash, and up knows what changed.
import type { ProjectModel, ServiceModel } from "./model.ts";

export const L = {
  project: "com.docker.compose.project",
  service: "com.docker.compose.service",
  number: "com.docker.compose.container-number",
  oneoff: "com.docker.compose.oneoff",
  hash: "com.docker.compose.config-hash",
  workingDir: "com.docker.compose.project.working_dir",
  configFiles: "com.docker.compose.project.config_files",
  version: "com.docker.compose.version",
  volume: "com.docker.compose.volume",
  network: "com.docker.compose.network",
} as const;

/** Keys sorted at every level: the same service gives the same text. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

/**
 * The service's config hash: its whole normalised model except the replica count (scaling
 * recreates nothing) and how its image is got (build, pull_policy, whether image: named it): up
 * compares the container's image ID with the image's instead, so a rebuild or pull that changed
 * the image recreates, one that did not recreates nothing.
 */
export function configHash(s: ServiceModel): string {
  const { replicas: _r, build: _b, pullPolicy: _p, customImage: _c, ...rest } = s;
  const h = new Bun.CryptoHasher("sha256");
  h.update(stable(rest));
  return h.digest("hex");
}

export function containerLabels(p: ProjectModel, s: ServiceModel, number: number, oneoff: boolean): Record<string, string> {
  return {
    ...s.labels,
    [L.project]: p.name, [L.service]: s.name, [L.number]: String(number), [L.oneoff]: oneoff ? "True" : "False",
    [L.hash]: configHash(s), [L.workingDir]: p.workingDir, [L.configFiles]: p.configFiles.join(","), [L.version]: "2.29.0",
  };
}
