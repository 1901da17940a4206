// Resolving a path inside a container's root filesystem from the host, as if chrooted: symlinks
// are followed relative to the container's root and ".." stops at it, so a link such as
// /etc/passwd -> /../../host/file can never lead outside.
import { lstatSync, readlinkSync } from "node:fs";
import { join } from "node:path";

const MAX_LINKS = 40;

/**
 * Host path of `path` inside `root`. With followLast false the final component is not followed
 * when it is a symlink (lstat semantics). Missing components are kept as they are.
 */
export function resolveInRoot(root: string, path: string, followLast = true): string {
  const todo = path.split("/").filter((c) => c !== "" && c !== ".");
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === "..") {
      done.pop();
      continue;
    }
    const host = join(root, ...done, c);
    let isLink = false;
    try {
      isLink = lstatSync(host).isSymbolicLink();
    } catch {
      isLink = false;
    }
    if (isLink && (todo.length > 0 || followLast)) {
      if (++links > MAX_LINKS) throw new Error(`too many levels of symbolic links resolving ${path} in the container`);
      const target = readlinkSync(host);
      if (target.startsWith("/")) done.length = 0;
      todo.unshift(...target.split("/").filter((x) => x !== "" && x !== "."));
      continue;
    }
    done.push(c);
  }
  return join(root, ...done);
}
