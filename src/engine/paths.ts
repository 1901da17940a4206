// Where the engine keeps things under its root (default /var/lib/berth, shared with the image
// store): the container database, one directory per container (bundle, overlay, log, exit file),
// the runtime's state, lock files and the short-named sockets (sun_path holds 107 bytes).
import { join } from "node:path";

export const DEFAULT_ENGINE_ROOT = "/var/lib/berth";

export class EnginePaths {
  constructor(readonly root: string) {}

  get runtimeRoot(): string { return join(this.root, "runtime"); }
  get containersDir(): string { return join(this.root, "containers"); }
  get volumesDir(): string { return join(this.root, "volumes"); }
  get locksDir(): string { return join(this.root, "locks"); }
  get socketsDir(): string { return join(this.root, "sock"); }
  /** The image store's temporaries (loads, imports, commits in progress; a dead one's leftovers). */
  get tempDir(): string { return join(this.root, "tmp"); }

  container(id: string): string { return join(this.containersDir, id); }
  bundle(id: string): string { return this.container(id); }
  rootfs(id: string): string { return join(this.container(id), "rootfs"); }
  log(id: string): string { return join(this.container(id), "container.log"); }
  exitFile(id: string): string { return join(this.container(id), "exit.json"); }
  /** The healthcheck's last results (health.ts), replaced atomically by each probe. */
  healthFile(id: string): string { return join(this.container(id), "health.json"); }
  pidFile(id: string): string { return join(this.container(id), "init.pid"); }
  filesDir(id: string): string { return join(this.container(id), "etc"); }
  lock(id: string): string { return join(this.locksDir, `${id}.lock`); }
  attachSocket(id: string): string { return join(this.socketsDir, `${id.slice(0, 16)}.attach`); }
  consoleSocket(id: string): string { return join(this.socketsDir, `${id.slice(0, 16)}.console`); }
  volume(name: string): string { return join(this.volumesDir, name); }
  volumeData(name: string): string { return join(this.volumesDir, name, "_data"); }
}
