// -u USER[:GROUP] (and the image's User) resolved against the image's /etc/passwd and /etc/group,
// as docker does: names or numbers; a numeric uid needs no passwd entry, and no user at all means
// uid 0 (found by number, so an image without /etc/passwd — FROM scratch, a hand-made root — runs
// as 0:0, home "/"). Only a user NAME must be in the image's passwd file.
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

/** Docker's range for user and group ids (moby's user package): 0 to 2^31-1. Larger numbers
 *  would wrap in the kernel's 32-bit ids — 4294967295 is (uid_t)-1, "unchanged", which left the
 *  process root — so they are refused here, where the text is first read as a number. */
export const MAX_USER_ID = 2 ** 31 - 1;

const NUMERIC = /^\d+$/;

/** A uid or gid from -u or from the image's passwd/group files. */
function parseId(text: string, where: string): number {
  const id = Number(text);
  if (!NUMERIC.test(text) || id > MAX_USER_ID) throw new EngineError(`${where}: uids and gids must be in range 0-${MAX_USER_ID}, got ${JSON.stringify(text)}`);
  return id;
}

/** -u's own syntax, checked when the container is created (the image is read only at start):
 *  USER[:GROUP], numbers within range. */
export function checkUserSyntax(spec: string): void {
  const parts = spec.split(":");
  if (parts.length > 2 || (spec !== "" && parts[0] === "")) throw new EngineError(`invalid user ${JSON.stringify(spec)}: expected USER[:GROUP], a name or a number each`);
  for (const part of parts) if (NUMERIC.test(part)) parseId(part, `user ${spec}`);
}

export function resolveUser(rootfs: string, spec: string): ResolvedUser {
  checkUserSyntax(spec);
  // No user given: docker's default is uid 0 looked up by number (moby's GetExecUser), never the
  // name "root" — a root without /etc/passwd is then 0:0, not an error.
  const [userPart = "", groupPart] = spec === "" ? ["0"] : spec.split(":");
  const passwd = readTable(rootfs, "/etc/passwd");
  const groups = readTable(rootfs, "/etc/group");
  let uid: number, gid: number, home = "/", name: string | undefined;
  const numericUser = NUMERIC.test(userPart) ? parseId(userPart, `user ${spec}`) : undefined;
  const entry = numericUser !== undefined ? passwd.find((p) => p[2] === userPart) : passwd.find((p) => p[0] === userPart);
  if (entry) {
    name = entry[0];
    uid = parseId(entry[2] ?? "", `/etc/passwd entry for ${name}`);
    gid = parseId(entry[3] ?? "", `/etc/passwd entry for ${name}`);
    home = entry[5] || "/";
  } else if (spec === "") {
    // No USER and no passwd entry for root (a FROM scratch image): docker runs as 0:0 without a lookup.
    uid = 0;
    gid = 0;
  } else if (numericUser !== undefined) {
    uid = numericUser;
    gid = 0; // docker's default group for a uid without a passwd entry
  } else {
    throw new EngineError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  if (groupPart !== undefined && groupPart !== "") {
    if (NUMERIC.test(groupPart)) gid = parseId(groupPart, `group in ${spec}`);
    else {
      const g = groups.find((x) => x[0] === groupPart);
      if (!g) throw new EngineError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = parseId(g[2] ?? "", `/etc/group entry for ${groupPart}`);
    }
  }
  const additionalGids = name === undefined ? [] : groups
    .filter((g) => (g[3] ?? "").split(",").includes(name!))
    .map((g) => parseId(g[2] ?? "", `/etc/group entry for ${g[0]}`))
    .filter((id) => id !== gid);
  return { uid, gid, additionalGids, home };
}

/** --group-add: each group by number, or by name from the image's /etc/group (docker's error
 *  when the image lacks it). */
export function resolveGroupAdd(rootfs: string, groups: readonly string[]): number[] {
  if (groups.length === 0) return [];
  const table = readTable(rootfs, "/etc/group");
  return groups.map((g) => {
    if (NUMERIC.test(g)) return parseId(g, `--group-add ${g}`);
    const entry = table.find((x) => x[0] === g);
    if (!entry) throw new EngineError(`Unable to find group ${g}: no matching entries in group file`);
    return parseId(entry[2] ?? "", `/etc/group entry for ${g}`);
  });
}
