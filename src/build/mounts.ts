// RUN --mount (BuildKit's syntax): what one RUN step sees besides its image, never part of the
// layer it makes. secret: a --secret file at /run/secrets/ID for that RUN only (its bytes are in
// no layer and not in the cache key, only its id is); cache: a directory under the state root that
// builds share (a package manager's cache); tmpfs: an empty memory file system; bind: files from the context or from a stage/image,
// read-only unless rw (then writes go to a copy and are dropped). A bind's content is part of the
// step's cache key: a change in a bind-mounted file reruns the step.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ImageStore } from "../image/store.ts";
import { withLock } from "../storage/lock.ts";
import { MNT_DETACH, mount, umount } from "../sys/libc.ts";
import { type BuildContext, hashSources, resolveSources, type Source } from "./context.ts";
import { copyTree, resolveInImage, tempDir } from "./images.ts";

export type RunMount =
  | { type: "secret"; id: string; target: string; required: boolean; mode: number; uid: number; gid: number }
  | { type: "cache"; id: string; target: string; sharing: "shared" | "private" | "locked"; readOnly: boolean; mode: number; uid: number; gid: number }
  | { type: "bind"; from: string | null; source: string; target: string; readWrite: boolean }
  | { type: "tmpfs"; target: string; size: number | null };

export class MountError extends Error {}

const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;

const KNOWN: Record<RunMount["type"], string[]> = {
  secret: ["id", "target", "required", "mode", "uid", "gid"],
  cache: ["id", "target", "sharing", "readonly", "from", "source", "mode", "uid", "gid"],
  bind: ["from", "source", "target", "readwrite", "readonly"],
  tmpfs: ["target", "size"],
};
const ALIASES: Record<string, string> = { dst: "target", destination: "target", src: "source", ro: "readonly", rw: "readwrite" };

/** The --mount flags of a RUN (one per line, as the parser keeps them); relative targets are below WORKDIR. */
export function parseRunMounts(flag: string | undefined, workdir: string): RunMount[] {
  if (flag === undefined) return [];
  return flag.split("\n").map((spec) => parseOne(spec, workdir));
}

function parseOne(spec: string, workdir: string): RunMount {
  const f = new Map<string, string | undefined>();
  for (const part of spec.split(",")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const k = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    f.set(ALIASES[k] ?? k, eq < 0 ? undefined : part.slice(eq + 1));
  }
  const bad = (why: string) => new MountError(`RUN --mount=${spec}: ${why}`);
  const type = (f.get("type") ?? "bind") as RunMount["type"];
  f.delete("type");
  if (!(type in KNOWN)) throw bad(`unsupported mount type ${JSON.stringify(type)} (berth build has secret, cache, bind and tmpfs)`);
  for (const k of f.keys()) if (!KNOWN[type].includes(k)) throw bad(`unexpected key '${k}' for a ${type} mount (${KNOWN[type].join(", ")})`);
  const bool = (k: string) => {
    if (!f.has(k)) return false;
    const v = f.get(k);
    if (v === undefined || v === "true") return true;
    if (v === "false") return false;
    throw bad(`${k}=${v}: true or false`);
  };
  const num = (k: string, dflt: number, radix = 10) => {
    const v = f.get(k);
    if (v === undefined) return dflt;
    if (!(radix === 8 ? /^[0-7]{1,4}$/ : /^\d+$/).test(v)) throw bad(`${k}=${v}: ${radix === 8 ? "an octal mode such as 0400" : "a number"}`);
    return parseInt(v, radix);
  };
  const targetOf = (t: string | undefined) => {
    if (!t) throw bad("target is required (target=PATH)");
    if (t.includes("\0")) throw bad("target contains a NUL byte");
    return path.posix.resolve(workdir || "/", t);
  };
  if (type === "secret") {
    const target = f.get("target");
    const id = f.get("id") || (target ? path.posix.basename(target) : "");
    if (!id) throw bad("a secret mount needs id=ID (or target=PATH)");
    return { type, id, target: targetOf(target ?? `/run/secrets/${id}`), required: bool("required"), mode: num("mode", 0o400, 8), uid: num("uid", 0), gid: num("gid", 0) };
  }
  if (type === "cache") {
    if (f.has("from") || f.has("source")) throw bad("a cache mount seeded from a stage (from=, source=) is not supported by berth build");
    const target = targetOf(f.get("target"));
    const sharing = f.get("sharing") ?? "shared";
    if (sharing !== "shared" && sharing !== "private" && sharing !== "locked") throw bad(`sharing=${sharing}: shared, private or locked`);
    return { type, id: f.get("id") || target, target, sharing, readOnly: bool("readonly"), mode: num("mode", 0o755, 8), uid: num("uid", 0), gid: num("gid", 0) };
  }
  if (type === "tmpfs") return { type, target: targetOf(f.get("target")), size: f.has("size") ? num("size", 0) : null };
  if (bool("readwrite") && bool("readonly")) throw bad("rw and readonly together");
  return { type, from: f.get("from") || null, source: f.get("source") || ".", target: targetOf(f.get("target")), readWrite: bool("readwrite") };
}

/** Where a bind's files are: a context directory, or an image's (a stage's) files, as a read-only view. */
export type BindOrigin = { context: BuildContext } | { view: string; name: string };

/** The files a bind mount names, checked: inside the context (never out of it, .dockerignore honoured) or the image. */
export function bindSource(m: Extract<RunMount, { type: "bind" }>, origin: BindOrigin): { source: Source; fromContext: boolean } {
  if ("context" in origin) {
    const list = resolveSources(origin.context, m.source, "RUN --mount", "refuse");
    if (list.length !== 1) throw new MountError(`RUN --mount=type=bind,source=${m.source}: ${list.length ? "names more than one file" : "no such file or directory in the build context"}`);
    return { source: list[0]!, fromContext: true };
  }
  const real = resolveInImage(origin.view, "/" + m.source);
  const abs = path.join(origin.view, real);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch {
    throw new MountError(`RUN --mount=type=bind,from=${origin.name},source=${m.source}: no such file or directory in ${origin.name}`);
  }
  return { source: { abs, rel: real.slice(1) || ".", isDir: st.isDirectory() }, fromContext: false };
}

/** A bind's part of the cache key: what it mounts (names, modes, bytes), never its times. */
export function bindKey(m: Extract<RunMount, { type: "bind" }>, origin: BindOrigin): string {
  const { source, fromContext } = bindSource(m, origin);
  return `bind:${m.from ?? ""}:${m.source}:${hashSources([source], fromContext && "context" in origin ? origin.context.ignored : () => false)}`;
}

/**
 * Copies a bind's files to a directory the RUN gets (the context as the build sees it, without
 * its ignored files; a stage's files with their owners), so the mount outlives any view.
 */
export function stageBind(store: ImageStore, m: Extract<RunMount, { type: "bind" }>, origin: BindOrigin): string {
  const { source, fromContext } = bindSource(m, origin);
  const dir = tempDir(store, "build-bind");
  const dst = path.join(dir, "src");
  if (fromContext && "context" in origin) {
    const ignored = origin.context.ignored;
    copyTree(source.abs, dst, { uid: 0, gid: 0 }, null, (r, isDir) => ignored(source.rel === "." ? r : `${source.rel}/${r}`, isDir), source.rel, "RUN --mount=type=bind");
  } else {
    const r = Bun.spawnSync(["cp", "-a", "--", source.abs, dst], { stdout: "ignore", stderr: "pipe" });
    if (r.exitCode !== 0) throw new MountError(`RUN --mount from=${m.from}: copying ${m.source}: ${r.stderr.toString().trim()}`);
  }
  return dir;
}

/** The persistent directory of a cache mount: under the state root, one per id, shared between builds. */
export function cacheDir(root: string, m: Extract<RunMount, { type: "cache" }>): string {
  const dir = path.join(root, "build-cache-mounts", createHash("sha256").update(m.id).digest("hex").slice(0, 32));
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    const tmp = `${dir}.new-${process.pid}`;
    fs.mkdirSync(tmp, { mode: m.mode });
    fs.chmodSync(tmp, m.mode);
    fs.chownSync(tmp, m.uid, m.gid);
    try {
      fs.renameSync(tmp, dir);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true }); // another build made it first
    }
  }
  return dir;
}

/** sharing=locked (and private, which berth treats alike): one RUN at a time uses the directory. */
export function withCacheLocks<T>(dirs: string[], fn: () => Promise<T>): Promise<T> {
  if (!dirs.length) return fn();
  const [first, ...rest] = dirs;
  return withLock(`${first}.lock`, "exclusive", () => withCacheLocks(rest, fn));
}

/**
 * A secret's file for one RUN: a copy (its owner and mode as the mount asks) on a small tmpfs of
 * its own in the store's tmp/, so its bytes never reach the disk (a killed build's tmpfs is
 * unmounted and removed by the next writer, as its image views are). Returns the directory and
 * how to remove it.
 */
export function secretFile(store: ImageStore, m: Extract<RunMount, { type: "secret" }>, bytes: Uint8Array): { dir: string; remove: () => void } {
  const dir = tempDir(store, "build-secret");
  mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=0700,size=${Math.max(4096, bytes.length + 4096)}`);
  const remove = () => {
    try { umount(dir); } catch { try { umount(dir, MNT_DETACH); } catch { /* not mounted */ } }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const file = path.join(dir, "secret");
    fs.writeFileSync(file, bytes, { mode: 0o600 });
    fs.chownSync(file, m.uid, m.gid);
    fs.chmodSync(file, m.mode);
  } catch (e) {
    remove();
    throw e;
  }
  return { dir, remove };
}

/** The engine's --mount form of a bind (paths made by berth: no commas in them). */
export function bindSpec(source: string, target: string, readOnly: boolean): string {
  if (target.includes(",") || source.includes(",")) throw new MountError(`RUN --mount target ${target}: a path with a comma cannot be mounted`);
  return `type=bind,source=${source},target=${target}${readOnly ? ",readonly" : ""}`;
}

/** A tmpfs mount's target, checked as bindSpec checks its paths. */
export function tmpfsTarget(target: string): string {
  if (target.includes(",")) throw new MountError(`RUN --mount target ${target}: a path with a comma cannot be mounted`);
  return target;
}
