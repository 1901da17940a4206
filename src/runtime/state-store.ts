// Where the runtime keeps its containers: one directory per container under --root, holding
// state.json (written atomically), the plan and exec.fifo. The directory's creation is the
// lock on the ID: mkdir either makes it or says another container has that name.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Spec } from "../oci/spec.ts";
import { checkContainerId } from "../oci/validate.ts";

export const DEFAULT_ROOT = "/run/berth-runtime";

export interface ContainerRecord {
  id: string;
  bundle: string;
  rootfs: string;
  /** Host pid of the container's init; 0 until known. */
  pid: number;
  /** /proc/PID/stat start time, so a recycled pid is never mistaken for the container. */
  pidStartTime: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  config: Spec;
  cgroupsPath?: string;
  /** Rootless without a delegated cgroup: the container has none of its own. */
  noCgroup?: boolean;
}

export class ContainerNotFound extends Error {
  constructor(readonly id: string) {
    super(`container ${id} does not exist`);
  }
}

export class StateStore {
  constructor(readonly root: string = DEFAULT_ROOT) {}

  /** Every command reaches a container through here: an ID that is not one (a path, "..", our
   *  own "@seccomp" cache) is refused before anything is read or removed. */
  dir(id: string): string {
    checkContainerId(id);
    return join(this.root, id);
  }

  /** Claims the ID; throws if a container with it already exists. */
  claim(id: string): string {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const dir = this.dir(id);
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new Error(`container with id ${id} already exists`);
      throw e;
    }
    return dir;
  }

  write(rec: ContainerRecord): void {
    const file = join(this.dir(rec.id), "state.json");
    const tmp = `${file}.tmp`;
    // Atomic (rename), not durable: like runc's, this state describes live processes and means
    // nothing after a reboot (the default root is on tmpfs), so an fsync would buy nothing.
    writeFileSync(tmp, JSON.stringify(rec));
    renameSync(tmp, file);
  }

  read(id: string): ContainerRecord {
    try {
      return JSON.parse(readFileSync(join(this.dir(id), "state.json"), "utf8")) as ContainerRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") throw new ContainerNotFound(id);
      throw new Error(`state of container ${id} is unreadable (${(e as Error).message}); remove it with: delete --force ${id}`);
    }
  }

  /** IDs with a readable state, by name (runc's order: its list reads the directory sorted). */
  list(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.root).sort();
    } catch {
      return [];
    }
    return names.filter((n) => {
      try {
        readFileSync(join(this.root, n, "state.json"));
        return true;
      } catch {
        return false;
      }
    });
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }
}
