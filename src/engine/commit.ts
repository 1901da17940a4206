// A container's filesystem as the engine hands it out: commit (its changes become an image),
// export (its merged files as a tar) and diff (what it changed against its image). A stopped
// container's overlay is mounted for the call and unmounted after; a running one's is used as is.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { commitContainer, type ImageRecord } from "../image/index.ts";
import { type Change, diffContainer, exportContainer, isMountPoint, mountContainerRootfs, mountStubs, unmountContainerRootfs } from "../storage/overlay.ts";
import { containerIdsOf } from "./userns.ts";
import type { Engine } from "./engine.ts";
import { EngineError } from "./errors.ts";
import type { ContainerRow } from "./types.ts";

export interface CommitRequest {
  /** Container name or ID. */
  container: string;
  /** REPOSITORY[:TAG] for the new image (none: an untagged image). */
  repository?: string;
  /** Dockerfile instructions applied to the image's config (CMD, ENV, …). */
  changes?: string[];
  message?: string;
  author?: string;
  /** Freeze a running container during the copy (docker's default: true). */
  pause?: boolean;
}

function imageOf(engine: Engine, row: ContainerRow): ImageRecord {
  const img = engine.images.get(row.config.imageId as `sha256:${string}`);
  if (!img) throw new EngineError(`the image of container ${row.name} is gone`);
  return img;
}

/** The destinations of the container's mounts (its OCI config): where the runtime may have made
 *  empty files and directories in the upper dir only to mount on, which are not its changes. */
export function mountTargets(engine: Engine, row: ContainerRow): string[] {
  try {
    const spec = JSON.parse(readFileSync(join(engine.paths.bundle(row.id), "config.json"), "utf8")) as { mounts?: Array<{ destination?: unknown }> };
    return (spec.mounts ?? []).flatMap((m) => (typeof m.destination === "string" ? [m.destination] : []));
  } catch {
    return [];
  }
}

/** `docker commit`: the container's upper layer on top of its image, with its run config baked in. */
export async function commitToImage(engine: Engine, req: CommitRequest): Promise<ImageRecord> {
  const row = engine.find(req.container);
  const img = imageOf(engine, row);
  const view = engine.observe(row);
  // Freeze a running container for a consistent copy; the row says so, so a berth killed
  // meanwhile leaves it shown truthfully as paused (reconcile thaws it).
  const pause = view.running && view.status !== "paused" && req.pause !== false;
  if (pause) engine.pauseForCommit(row.id);
  try {
    const c = row.config;
    const upper = join(engine.paths.container(row.id), "upper");
    return await commitContainer(engine.images, {
      upper, image: img, exclude: mountStubs(upper, engine.images.snapshotDirs(img), mountTargets(engine, row)), ref: req.repository, changes: req.changes,
      message: req.message, author: req.author, createdBy: `berth commit ${row.name}`,
      ...(c.userns ? { mapIds: containerIdsOf(c.userns) } : {}),
      config: {
        ...img.config, Env: c.env, Cmd: c.cmd, Entrypoint: c.entrypoint.length ? c.entrypoint : null, WorkingDir: c.workingDir || undefined,
        User: c.user || undefined, Labels: c.labels, ExposedPorts: Object.fromEntries(c.exposedPorts.map((x) => [x, {}])),
      },
    });
  } finally {
    if (pause) engine.unpause(row.id);
  }
}

interface Mounted {
  row: ContainerRow;
  rootfs: string;
  lowers: string[];
  upper: string;
  release(): void;
}

/** The container's merged filesystem, mounted if it was not; release() unmounts what this mounted. */
function mountFiles(engine: Engine, ref: string): Mounted {
  const row = engine.find(ref);
  const dir = engine.paths.container(row.id);
  const lowers = engine.images.snapshotDirs(imageOf(engine, row));
  const mounted = isMountPoint(join(dir, "rootfs"));
  if (!mounted) mountContainerRootfs(lowers, dir);
  return {
    row, rootfs: join(dir, "rootfs"), lowers, upper: join(dir, "upper"),
    // Unless the container started meanwhile: then the mount is its own.
    release: () => { if (!mounted && !engine.observe(engine.store.get(row.id) ?? row).running) unmountContainerRootfs(dir); },
  };
}

/** `docker export`: the container's files as a tar stream (mounted until the stream ends or is dropped). */
export async function* exportFiles(engine: Engine, ref: string): AsyncGenerator<Uint8Array> {
  const m = mountFiles(engine, ref);
  const mapIds = containerIdsOf(engine.find(ref).config.userns);
  try {
    yield* exportContainer(m.rootfs, mapIds ? { mapIds } : {});
  } finally {
    m.release();
  }
}

/** `docker diff`: what the container added (A), changed (C) and deleted (D) against its image. */
export function containerChanges(engine: Engine, ref: string): Change[] {
  const m = mountFiles(engine, ref);
  try {
    return diffContainer(m.upper, m.lowers, mountStubs(m.upper, m.lowers, mountTargets(engine, m.row)));
  } finally {
    m.release();
  }
}
