// `compose build` and the builds `up` makes: a service's `build:` through the same builder
// `berth build` runs (src/build/builder.ts), the image named as docker compose names it.
import { build } from "../build/builder.ts";
import type { Engine } from "../engine/index.ts";
import { ComposeError, type ProjectModel, type ServiceModel } from "./model.ts";

export interface BuildOut {
  progress: (line: string) => void;
  /** The builder's step output (docker compose prints it as the build runs). */
  buildOutput: (text: string) => void;
}

/** Whether the store holds this image name. */
export function hasImage(engine: Engine, ref: string): boolean {
  return engine.images.resolve(ref) !== null;
}

/** Builds one service's image and tags it with the service's image name. */
export async function buildService(engine: Engine, p: ProjectModel, s: ServiceModel, opts: { noCache?: boolean; pull?: boolean }, out: BuildOut): Promise<void> {
  const b = s.build;
  if (!b) throw new ComposeError(`service "${s.name}" has no build section`);
  out.progress(` Service ${s.name}  Building`);
  await build(engine, {
    context: b.context, file: b.dockerfile, tags: [s.image], buildArgs: b.args, target: b.target, noCache: opts.noCache, pull: opts.pull,
    labels: { ...b.labels, "com.docker.compose.project": p.name, "com.docker.compose.service": s.name },
  }, {
    out: (t) => out.buildOutput(t),
    err: (t) => out.buildOutput(t),
    runOutput: (_stream, data) => out.buildOutput(new TextDecoder().decode(data)),
  });
  out.progress(` Service ${s.name}  Built`);
}

/** `compose build [SERVICE...]`: every named service (all by default) that has a build section. */
export async function buildServices(engine: Engine, p: ProjectModel, names: string[], opts: { noCache?: boolean; pull?: boolean }, out: BuildOut): Promise<void> {
  for (const n of names) if (!p.services.some((s) => s.name === n)) throw new ComposeError(`no such service: ${n}`);
  const services = p.services.filter((s) => (names.length === 0 || names.includes(s.name)) && s.build);
  for (const s of services) await buildService(engine, p, s, opts, out);
}
