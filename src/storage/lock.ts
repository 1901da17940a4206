// Inter-process locks on files with flock(2). We never block the event loop: the lock is tried
// with LOCK_NB and retried after a short sleep, so two loads inside one process cannot deadlock.
import * as fs from "node:fs";
import { flock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, SyscallError } from "../sys/libc.ts";

export type LockMode = "shared" | "exclusive";

/** Whether the locked fd is still the file at `path` (lock files may be removed by their last
 *  holder; a lock on a removed file would exclude nobody who opens the name afresh). */
function stillNamed(fd: number, path: string): boolean {
  try {
    const a = fs.fstatSync(fd), b = fs.statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

export class FileLock {
  private constructor(private fd: number, readonly path: string) {}

  static async acquire(path: string, mode: LockMode, timeoutMs = 600_000): Promise<FileLock> {
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    const op = (mode === "shared" ? LOCK_SH : LOCK_EX) | LOCK_NB;
    const deadline = Date.now() + timeoutMs;
    let wait = 2;
    for (;;) {
      try {
        flock(fd, op);
        if (stillNamed(fd, path)) return new FileLock(fd, path);
        // Its holder removed the file while we waited (a container's lock goes with it): what we
        // hold now guards nothing. Open the name again.
        flock(fd, LOCK_UN);
        fs.closeSync(fd);
        return FileLock.acquire(path, mode, Math.max(1, deadline - Date.now()));
      } catch (e) {
        if (!(e instanceof SyscallError) || e.code !== "EAGAIN") {
          fs.closeSync(fd);
          throw e;
        }
      }
      if (Date.now() > deadline) {
        fs.closeSync(fd);
        throw new Error(`timed out waiting for the lock ${path}; another berth process holds it`);
      }
      await Bun.sleep(wait);
      wait = Math.min(wait * 2, 100);
    }
  }

  /** Non-blocking attempt; null when someone else holds it. */
  static tryAcquire(path: string, mode: LockMode): FileLock | null {
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    try {
      flock(fd, (mode === "shared" ? LOCK_SH : LOCK_EX) | LOCK_NB);
      if (stillNamed(fd, path)) return new FileLock(fd, path);
      flock(fd, LOCK_UN);
      fs.closeSync(fd);
      return null; // removed under us: whoever removed it was working on it
    } catch (e) {
      fs.closeSync(fd);
      if (e instanceof SyscallError && e.code === "EAGAIN") return null;
      throw e;
    }
  }

  release(): void {
    if (this.fd < 0) return;
    try {
      flock(this.fd, LOCK_UN);
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

export async function withLock<T>(path: string, mode: LockMode, fn: () => Promise<T> | T): Promise<T> {
  const lock = await FileLock.acquire(path, mode);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
