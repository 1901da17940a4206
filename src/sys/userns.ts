// A user namespace with given id maps, held open while its fd is needed (to make idmapped
// mounts). Bun's process is multi-threaded, so it cannot unshare(CLONE_NEWUSER) itself: a child
// (`berth-init userns-hold`, one exec; it leaves when its stdin closes, so it never outlives us)
// makes the namespace, we write its maps as root, open /proc/CHILD/ns/user, and end it when done. `start` only spawns it, so a caller can
// overlap the child's two execs with its own work and wait for the namespace later (`fd`).
import { closeSync, openSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD_DIR } from "./build-dir.ts";

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export class UserNamespaceHolder {
  private nsFd = -1;

  private constructor(
    private readonly child: ReturnType<typeof Bun.spawn>,
    private readonly uidMap: readonly IdMapping[],
    private readonly gidMap: readonly IdMapping[],
  ) {}

  static start(uidMap: readonly IdMapping[], gidMap: readonly IdMapping[]): UserNamespaceHolder {
    const child = Bun.spawn([process.env.BERTH_INIT ?? join(BUILD_DIR, "berth-init"), "userns-hold"], { stdio: ["pipe", "ignore", "inherit"] });
    return new UserNamespaceHolder(child, uidMap, gidMap);
  }

  /** The namespace's fd, its maps written (waits the first time for the child to unshare). */
  fd(): number {
    if (this.nsFd >= 0) return this.nsFd;
    const own = readlinkSync("/proc/self/ns/user");
    const nsPath = `/proc/${this.child.pid}/ns/user`;
    for (let i = 0; ; i++) {
      let theirs = own;
      try {
        theirs = readlinkSync(nsPath);
      } catch { /* not there yet */ }
      if (theirs !== own) break;
      if (this.child.exitCode !== null || i > 20000) throw new Error("could not make a user namespace for the idmapped mounts (berth-init userns-hold ended; is user.max_user_namespaces > 0?)");
      Bun.sleepSync(0.1);
    }
    const text = (m: readonly IdMapping[]) => m.map((e) => `${e.containerID} ${e.hostID} ${e.size}\n`).join("");
    writeFileSync(`/proc/${this.child.pid}/uid_map`, text(this.uidMap));
    writeFileSync(`/proc/${this.child.pid}/gid_map`, text(this.gidMap));
    this.nsFd = openSync(nsPath, "r");
    return this.nsFd;
  }

  close(): void {
    if (this.nsFd >= 0) closeSync(this.nsFd);
    this.nsFd = -1;
    this.child.kill(9);
    void (this.child.stdin as { end(): void } | undefined)?.end();
  }
}

export function withUserNamespace<T>(uidMap: readonly IdMapping[], gidMap: readonly IdMapping[], fn: (usernsFd: number) => T): T {
  const holder = UserNamespaceHolder.start(uidMap, gidMap);
  try {
    return fn(holder.fd());
  } finally {
    holder.close();
  }
}
