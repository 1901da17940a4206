// `compose pull` and the pulls `up` makes as pull_policy says: through the engine's pull (the
// same registry client `berth pull` uses).
import { type Engine, pull } from "../engine/index.ts";
import { ComposeError, type ProjectModel, type ServiceModel } from "./model.ts";

/** Pulls one service's image. */
export async function pullService(engine: Engine, s: ServiceModel, progress: (line: string) => void): Promise<void> {
  progress(` Image ${s.image}  Pulling`);
  await pull(engine.root, s.image, { onEvent: () => {} });
  progress(` Image ${s.image}  Pulled`);
}

/**
 * `compose pull [SERVICE...]`: each named service's image (all by default). Services compose
 * builds (a build section and no image:, or pull_policy build) and pull_policy never are skipped,
 * as docker compose skips them; --ignore-pull-failures: a failed pull is a warning.
 */
export async function pullServices(engine: Engine, p: ProjectModel, names: string[], opts: { ignoreFailures?: boolean }, progress: (line: string) => void): Promise<void> {
  for (const n of names) if (!p.services.some((s) => s.name === n)) throw new ComposeError(`no such service: ${n}`);
  const services = p.services.filter((s) => names.length === 0 || names.includes(s.name));
  const done = new Set<string>();
  for (const s of services) {
    if (s.pullPolicy === "never" || s.pullPolicy === "build" || (s.build && !s.customImage)) {
      progress(` Service ${s.name}  Skipped`);
      continue;
    }
    if (done.has(s.image)) continue;
    done.add(s.image);
    try {
      await pullService(engine, s, progress);
    } catch (e) {
      if (!opts.ignoreFailures) throw new ComposeError(`service "${s.name}": pulling ${s.image}: ${(e as Error).message}`);
      progress(`WARN[0000] service "${s.name}": pulling ${s.image}: ${(e as Error).message}`);
    }
  }
}
