// -u USER[:GROUP] (and the image's User) resolved against the image's /etc/passwd and /etc/group,
// as docker does: names or numbers; a numeric uid needs no passwd entry.
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { RESOLVE, openat2 } from "../sys/libc.ts";
import { EngineError } from "./errors.ts";

const O_CLOEXEC = 0o2000000;

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

/**
 * The rows of a colon-separated file of the container. Opened by the kernel inside the root
 * (RESOLVE_IN_ROOT: a link, even one swapped in meanwhile by a running container's process,
 * resolves in the container) and read only when it is a regular file: a fifo or a device
 * node there would block `exec -u` forever or feed it without end.
 */
function readTable(rootfs: string, file: string): string[][] {
  let fd = -1;
  try {
    const root = openSync(rootfs, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fd = openat2(root, file, constants.O_RDONLY | constants.O_NONBLOCK | O_CLOEXEC, 0, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
    } finally {
      closeSync(root);
    }
    if (!fstatSync(fd).isFile()) return [];
    return readFileSync(fd, "utf8").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
  } catch {
    return [];
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

export function resolveUser(rootfs: string, spec: string): ResolvedUser {
  const [userPart = "", groupPart] = spec === "" ? ["root"] : spec.split(":");
  const passwd = readTable(rootfs, "/etc/passwd");
  const groups = readTable(rootfs, "/etc/group");
  let uid: number, gid: number, home = "/", name: string | undefined;
  const entry = /^\d+$/.test(userPart) ? passwd.find((p) => p[2] === userPart) : passwd.find((p) => p[0] === userPart);
  if (entry) {
    name = entry[0];
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5] || "/";
  } else if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    gid = 0; // docker's default group for a uid without a passwd entry
  } else {
    throw new EngineError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  if (groupPart !== undefined && groupPart !== "") {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x[0] === groupPart);
      if (!g) throw new EngineError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = Number(g[2]);
    }
  }
  const additionalGids = name === undefined ? [] : groups
    .filter((g) => (g[3] ?? "").split(",").includes(name!) && Number(g[2]) !== gid)
    .map((g) => Number(g[2]));
  return { uid, gid, additionalGids, home };
}
