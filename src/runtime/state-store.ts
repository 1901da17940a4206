// Where the runtime keeps its containers: one directory per container under --root, holding
// state.json (written atomically), the plan and exec.fifo. The directory's creation is the
// lock on the ID: mkdir either makes it or says another container has that name.
// read() and remove() — what start, state, kill and delete need — go through src/sys/rawfile.ts;
// node:fs is loaded (require) only by the commands that write or list.
import type { Spec } from "../oci/spec.ts";
import { checkContainerId } from "../oci/validate.ts";
import { ENOENT, ENOTEMPTY, readText, removeDir, removeFile } from "../sys/rawfile.ts";

const fs = (): typeof import("node:fs") => require("node:fs");
const join = (dir: string, name: string): string => (dir === "" ? name : dir.endsWith("/") ? dir + name : `${dir}/${name}`);

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
  /** The group's directory per controller as create made them (CgroupManager.paths()), so delete
   *  can rmdir them without reading the host's mounts again; absent in older states. */
  cgroupDirs?: Record<string, string>;
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
    const { mkdirSync } = fs();
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
    fs().writeFileSync(tmp, JSON.stringify(rec));
    fs().renameSync(tmp, file);
  }

  read(id: string): ContainerRecord {
    const file = join(this.dir(id), "state.json");
    try {
      const text = readText(file);
      if (text !== undefined) return JSON.parse(text) as ContainerRecord;
    } catch (e) {
      throw new Error(`state of container ${id} is unreadable (${(e as Error).message}); remove it with: delete --force ${id}`);
    }
    throw new ContainerNotFound(id);
  }

  /** IDs with a readable state, by name (runc's order: its list reads the directory sorted). */
  list(): string[] {
    const { readdirSync, readFileSync } = fs();
    let names: string[];
    try {
      names = readdirSync(this.root).sort();
    } catch {
      return [];
    }
    return names.filter((n) => {
      try {
        readFileSync(join(join(this.root, n), "state.json"));
        return true;
      } catch {
        return false;
      }
    });
  }

  remove(id: string): void {
    const dir = this.dir(id);
    const first = removeDir(dir); // a container that is gone (delete --force): one syscall
    if (first === 0 || first === ENOENT) return;
    // A directory with files: what a finished container leaves (create's files) goes by unlink;
    // anything else (an exec's plan, a half-written state), or a path that is not a directory
    // (never followed: ENOTDIR), goes by the recursive removal.
    if (first === ENOTEMPTY) for (const name of ["state.json", "exec.fifo", "plan", "plan.init"]) removeFile(join(dir, name));
    const err = first === ENOTEMPTY ? removeDir(dir) : first;
    if (err !== 0 && err !== ENOENT) fs().rmSync(dir, { recursive: true, force: true });
  }
}
