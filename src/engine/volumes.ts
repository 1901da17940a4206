// Named volumes: a directory per volume under <root>/volumes/NAME/_data, recorded in the engine's
// database. An empty volume is filled from the image's content at its mount point the first time
// a container mounts it (docker's copy-up), so `-v data:/var/lib/app` starts with the image's files.
import { cpSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { newContainerId } from "./names.ts";
import type { ContainerStore, VolumeRow } from "./store.ts";
import type { EnginePaths } from "./paths.ts";
import { replenishReserve } from "../storage/space.ts";
import { treeSize } from "../storage/fsutil.ts";
import { EngineError, NotFoundError, UsageError } from "./errors.ts";
import { validVolumeName } from "./options.ts";
import { resolveInRoot } from "./rootpath.ts";

export interface VolumeInfo {
  Name: string;
  Driver: "local";
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: "local";
  Anonymous: boolean;
}

export class Volumes {
  constructor(private readonly store: ContainerStore, private readonly paths: EnginePaths) {}

  info(v: VolumeRow): VolumeInfo {
    return {
      Name: v.name, Driver: "local", Mountpoint: this.paths.volumeData(v.name), CreatedAt: new Date(v.createdAt).toISOString(),
      Labels: v.labels, Scope: "local", Anonymous: v.anonymous,
    };
  }

  /** Creates the volume, or returns the existing one of that name (docker's create is idempotent). */
  create(name: string | undefined, labels: Record<string, string> = {}, anonymous = false): VolumeRow {
    const n = name ?? newContainerId();
    if (!validVolumeName(n)) throw new UsageError(`invalid volume name "${n}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2 characters`);
    const existing = this.store.volume(n);
    if (existing) return existing;
    // Directory first, then the row: a crash leaves at most an unlisted directory that create reuses.
    mkdirSync(this.paths.volumeData(n), { recursive: true, mode: 0o755 });
    this.store.insertVolume({ name: n, createdAt: Date.now(), labels, anonymous });
    return this.store.volume(n)!;
  }

  get(name: string): VolumeRow {
    const v = this.store.volume(name);
    if (!v) throw new NotFoundError("volume", name);
    return v;
  }

  list(): VolumeRow[] {
    return this.store.volumes();
  }

  /** Containers (ids) whose config mounts the volume. */
  users(name: string): string[] {
    return this.store.list().filter((c) => c.config.mounts.some((m) => m.kind === "volume" && m.source === name)).map((c) => c.id);
  }

  remove(name: string, force = false): void {
    const v = this.get(name);
    const users = this.users(name);
    if (users.length && !force) throw new EngineError(`remove ${name}: volume is in use - [${users.join(", ")}]`);
    this.store.removeVolume(v.name);
    rmSync(this.paths.volume(v.name), { recursive: true, force: true });
    replenishReserve(this.paths.root); // the disk may have been full: room for the next time
  }

  /** Removes volumes no container uses (anonymous ones only, unless all). */
  prune(all = false): string[] {
    const used = new Set(this.store.list().flatMap((c) => c.config.mounts.filter((m) => m.kind === "volume").map((m) => m.source)));
    const removed: string[] = [];
    for (const v of this.list()) {
      if (used.has(v.name) || (!all && !v.anonymous)) continue;
      this.remove(v.name, true);
      removed.push(v.name);
    }
    return removed;
  }

  /**
   * The host directory to mount; copies the image's files in when the volume is still empty, with
   * their owners (docker's copy-up keeps them: a database's data directory stays its user's).
   * Through a user-namespaced container's idmapped root those owners are already host ids; a
   * volume with nothing to copy belongs to the container's root (`rootOwner`, host ids). No copy
   * with --mount …,volume-nocopy (`copyUp` false).
   */
  mountSource(name: string, rootfs: string, destination: string, opts: { rootOwner?: [number, number]; copyUp?: boolean } = {}): string {
    const { rootOwner = [0, 0], copyUp = true } = opts;
    const data = this.paths.volumeData(name);
    mkdirSync(data, { recursive: true, mode: 0o755 });
    if (copyUp && readdirSync(data).length === 0) {
      const src = resolveInRoot(rootfs, destination);
      try {
        const st = existsSync(src) ? statSync(src) : undefined;
        if (st?.isDirectory()) {
          if (readdirSync(src).length > 0) {
            cpSync(src, data, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
            copyOwners(src, data);
          }
          lchownSync(data, st.uid, st.gid);
        } else {
          lchownSync(data, ...rootOwner);
        }
      } catch {
        // copy-up is a convenience; the mount itself still works
      }
    }
    return data;
  }

  sizeOf(name: string): number {
    return dirSize(this.paths.volumeData(name));
  }
}

export function dirSize(dir: string): number {
  return treeSize(dir);
}

/** Gives every entry under `to` the owner of the same path under `from` (cpSync makes them the copier's). */
function copyOwners(from: string, to: string): void {
  for (const name of readdirSync(from)) {
    const st = lstatSync(join(from, name));
    lchownSync(join(to, name), st.uid, st.gid);
    if (st.isDirectory()) copyOwners(join(from, name), join(to, name));
  }
}
