// `berth create`: the image resolved, every option checked and the container recorded, with its
// directory and volumes; nothing runs yet (start.ts does that).
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import type { CreateOptions, Engine } from "./handle.ts";
import { checkNetworksExist, checkPublishable, usesBridge } from "./network.ts";
import { buildConfig, type CreateRequest, type ImageInfo, type PullPolicy } from "./config.ts";
import { EngineError, UsageError } from "./errors.ts";
import { newContainerId, randomName, validName } from "./names.ts";
import type { ContainerRow } from "./types.ts";
import { trace } from "../sys/trace.ts";
import { resolveNamespaceJoins } from "./namespaces.ts";
import { firstFreeOffset, placeRange, subidRange } from "./userns.ts";
import { familiarName, parseReference, taggedName } from "../image/reference.ts";
import { recordContainerEvent, recordEvent } from "./events.ts";

export function resolveImage(engine: Engine, ref: string): ImageInfo {
  let img;
  try {
    img = engine.images.resolve(ref);
  } catch (e) {
    throw new EngineError(`invalid reference format: ${(e as Error).message}`);
  }
  if (!img) throw new EngineError(`Unable to find image '${ref}' locally (--pull=never: pull it with \`berth pull\`, or load it with \`berth load\` or \`berth import\`)`);
  return { ref, id: img.id, config: img.config };
}

/** "nginx" -> "nginx:latest", as docker names what it is about to pull. */
function shownName(ref: string): string {
  try {
    const r = parseReference(ref);
    const t = taggedName(r);
    return t ? familiarName(t) : ref;
  } catch {
    return ref;
  }
}

const PULL_POLICIES: readonly PullPolicy[] = ["missing", "always", "never"];

/**
 * --pull: the image as create will use it — the local one (missing, never), else fetched from its
 * registry (missing and not here, or always). The registry client is loaded only when a pull
 * happens: `run` of a local image resolves it once, as before, and pays for nothing else.
 */
export async function imageForCreate(engine: Engine, req: Pick<CreateRequest, "image" | "pull" | "platform">, opts: CreateOptions = {}): Promise<ImageInfo> {
  const policy = req.pull ?? "missing";
  if (!PULL_POLICIES.includes(policy)) throw new UsageError(`invalid pull option: '${policy}': must be one of "always", "missing" or "never"`);
  if (policy !== "always") {
    let have;
    try {
      have = engine.images.resolve(req.image);
    } catch (e) {
      throw new EngineError(`invalid reference format: ${(e as Error).message}`);
    }
    if (have) return { ref: req.image, id: have.id, config: have.config };
    // never, or an image ID (which no registry serves): not found
    if (policy === "never" || /^[a-f0-9]{4,64}$/.test(req.image) || req.image.startsWith("sha256:")) return resolveImage(engine, req.image);
    opts.onPull?.({ status: `Unable to find image '${shownName(req.image)}' locally` });
  }
  const { pullImage } = await import("../image/registry/pull.ts");
  try {
    const r = await pullImage(engine.images, req.image, { ...(req.platform ? { platform: req.platform } : {}), ...(opts.onPull ? { onEvent: opts.onPull } : {}) });
    opts.onPull?.({ status: `Status: ${r.fresh ? "Downloaded newer image" : "Image is up to date"} for ${shownName(req.image)}` });
    recordEvent(engine.root, "image", "pull", shownName(req.image), { name: shownName(req.image) });
    // the record itself: NAME@DIGEST of an index names no manifest in the store
    return { ref: req.image, id: r.image.id, config: r.image.config };
  } catch (e) {
    throw new EngineError((e as Error).message);
  }
}

/** --cidfile: the ID, in a file that must not exist yet (O_EXCL: no other container's ID is overwritten). */
function writeCidFile(path: string, id: string): void {
  try {
    writeFileSync(path, id, { flag: "wx", mode: 0o644 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new UsageError(`Container ID file found, make sure the other container isn't running or delete ${path}`);
    throw new UsageError(`failed to create the container ID file ${path}: ${code === "ENOENT" ? "no such directory" : (e as Error).message}`);
  }
}

/** `berth create`: validates everything first, then records the container; nothing runs yet. */
export async function createContainer(engine: Engine, req: CreateRequest, opts: CreateOptions = {}): Promise<ContainerRow> {
  if (req.name !== undefined && !validName(req.name)) {
    throw new UsageError(`Invalid container name (${req.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  trace("create: begin");
  const image = await imageForCreate(engine, req, opts);
  trace("create: image resolved");
  const id = newContainerId();
  const config = buildConfig(req, image, id);
  if (config.network.startsWith("container:")) {
    // Joined by ID, so a rename of the other container does not break this one.
    const other = engine.find(config.network.slice("container:".length));
    config.network = `container:${other.id}`;
  } else {
    checkNetworksExist(engine, config.network);
  }
  if (config.namespaces) resolveNamespaceJoins(engine, config.namespaces);
  if (config.network === "host" && config.publish.length) engine.warn("Published ports are discarded when using host network mode");
  if (usesBridge(config.network)) checkPublishable(engine, config.publish);
  const name = req.name ?? randomName((n) => engine.store.nameTaken(n));
  if (req.name !== undefined && engine.store.nameTaken(req.name)) {
    const other = engine.store.byName(req.name)!;
    throw new EngineError(`Conflict. The container name "/${req.name}" is already in use by container "${other.id}". You have to remove (or rename) that container to be able to reuse that name.`);
  }
  // docker's rule: an existing ID file may be another container's, still running.
  if (req.cidfile && existsSync(req.cidfile)) throw new UsageError(`Container ID file found, make sure the other container isn't running or delete ${req.cidfile}`);
  // Volumes get their names now, so the stored config says exactly what is mounted; the ones
  // named here are anonymous (removed with the container), whichever flag asked for them.
  const anonymous = new Set<string>();
  for (const m of config.mounts) {
    if (m.kind === "volume" && m.source === "") {
      m.source = newContainerId();
      anonymous.add(m.source);
    }
  }
  const lock = await engine.lock(id);
  let keep = false;
  let wroteCid = false;
  try {
    const row: ContainerRow = {
      id, name, state: "creating", createdAt: Date.now(), pid: 0, pidStart: "", monitorPid: 0, startedAt: 0, finishedAt: 0,
      exitCode: null, oomKilled: false, error: "", restartCount: 0, stoppedByUser: false, config,
    };
    if (config.userns?.mode === "auto") {
      const uids = subidRange("/etc/subuid"), gids = subidRange("/etc/subgid");
      const pool = Math.min(uids.size, gids.size);
      engine.store.insertWithIdRange(row, (taken) => placeRange(config.userns!, firstFreeOffset(taken, config.userns!.range!.size, pool), uids, gids));
    } else {
      engine.store.insert(row);
    }
    try {
      mkdirSync(engine.paths.container(id), { recursive: true, mode: 0o711 });
      for (const m of config.mounts) {
        if (m.kind !== "volume") continue;
        engine.volumes.create(m.source, {}, anonymous.has(m.source));
      }
      if (req.cidfile) {
        writeCidFile(req.cidfile, id);
        wroteCid = true;
      }
      trace("create: recorded");
      recordContainerEvent(engine.root, "create", row);
      if (opts.forRun) {
        engine.heldForRun.set(id, lock);
        keep = true;
        return row;
      }
      return engine.store.updated(row, { state: "created" });
    } catch (e) {
      if (req.cidfile && wroteCid) rmSync(req.cidfile, { force: true });
      engine.removeLocked(engine.store.get(id) ?? row, { volumes: true });
      throw e;
    }
  } finally {
    if (!keep) engine.unlock(lock, id);
  }
}
