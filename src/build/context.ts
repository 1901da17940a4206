// The build context: a directory, a tar on stdin, or nothing (a Dockerfile on stdin); the
// Dockerfile found in it; the .dockerignore filter; and the sources a COPY/ADD names, resolved
// inside the context only (`../x` and symlinks leading out are refused) and hashed by content.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempPath } from "../storage/fsutil.ts";

export class ContextError extends Error {}

export type Ignored = (rel: string, isDir?: boolean) => boolean;

export interface BuildContext {
  /** The context's root directory (a temporary one for a tar or a Dockerfile on stdin). */
  dir: string;
  dockerfile: string;
  /** Paths (relative, "/"-separated) the .dockerignore excludes; a directory (isDir) is not
   *  excluded while an exception (`!pattern`) may match something below it. */
  ignored: Ignored;
  cleanup(): void;
}

export interface ContextSpec {
  /** A directory, or "-" for standard input (a tar archive, or a Dockerfile). */
  context: string;
  /** -f: a path (relative to the working directory), or "-" for standard input. */
  file?: string;
  /** Standard input's bytes when context or file is "-". */
  stdin?: () => Uint8Array;
  /** Where temporaries go (the store's tmp/: a dead build's are removed there). */
  tmpDir: string;
}

function isTar(head: Uint8Array): boolean {
  if (head.length > 2 && head[0] === 0x1f && head[1] === 0x8b) return true; // gzip
  if (head.length > 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return true; // bzip2
  if (head.length > 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a) return true; // xz
  if (head.length > 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return true; // zstd
  return head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar";
}

/** Extracts a tar into dir with GNU tar, which refuses members with `..` and absolute names. */
export function extractTar(archive: string, dir: string, what: string): void {
  const r = Bun.spawnSync(["tar", "-x", "--no-same-permissions", "-f", archive, "-C", dir], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) {
    const why = r.stderr.toString().split("\n").filter((l) => l && !/Exiting with failure|Error is not recoverable/.test(l));
    throw new ContextError(`${what}: the archive could not be extracted safely or at all; nothing from it was used (${why.slice(0, 3).join("; ") || `tar exit status ${r.exitCode}`})`);
  }
}

export async function openContext(spec: ContextSpec): Promise<BuildContext> {
  const temps: string[] = [];
  const cleanup = () => { for (const t of temps) fs.rmSync(t, { recursive: true, force: true }); };
  try {
    let dir: string;
    let dockerfile: string | null = null;
    // Named by tempPath: a live build's temporaries are its own, a dead one's are removed by the next writer.
    const temp = (label: string) => {
      fs.mkdirSync(spec.tmpDir, { recursive: true });
      const t = tempPath(spec.tmpDir, `build-${label}`);
      fs.mkdirSync(t, { mode: 0o700 });
      temps.push(t);
      return t;
    };
    if (spec.context === "-") {
      const input = spec.stdin?.() ?? new Uint8Array();
      dir = temp("context");
      if (isTar(input)) {
        const file = path.join(temp("upload"), "context.tar");
        fs.writeFileSync(file, input);
        extractTar(file, dir, "the build context on standard input");
      } else {
        dockerfile = new TextDecoder().decode(input);
      }
    } else {
      let st: fs.Stats;
      try {
        st = fs.statSync(spec.context);
      } catch {
        throw new ContextError(`unable to prepare context: path "${spec.context}" not found`);
      }
      if (!st.isDirectory()) throw new ContextError(`unable to prepare context: context must be a directory: ${spec.context}`);
      dir = path.resolve(spec.context);
    }
    let dockerfilePath: string | null = null;
    if (dockerfile === null) {
      if (spec.file === "-") dockerfile = new TextDecoder().decode(spec.stdin?.() ?? new Uint8Array());
      else {
        const candidates = spec.file ? [spec.context === "-" ? path.join(dir, spec.file) : path.resolve(spec.file)] : [path.join(dir, "Dockerfile"), path.join(dir, "Containerfile")];
        dockerfilePath = candidates.find((c) => fs.existsSync(c)) ?? null;
        if (!dockerfilePath) throw new ContextError(`unable to prepare context: cannot find a Dockerfile (${spec.file ?? "Dockerfile or Containerfile"}) in ${spec.file ? "the working directory" : spec.context}`);
        dockerfile = fs.readFileSync(dockerfilePath, "utf8");
      }
    }
    // Dockerfile.dockerignore beside the Dockerfile wins over the context's .dockerignore.
    const ignoreFile = [dockerfilePath ? `${dockerfilePath}.dockerignore` : null, path.join(dir, ".dockerignore")].find((f) => f && fs.existsSync(f)) ?? null;
    const ignored = ignoreFile ? await ignoreFilter(fs.readFileSync(ignoreFile, "utf8")) : () => false;
    return { dir, dockerfile, ignored, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

/** docker's .dockerignore rules, through @balena/dockerignore (loaded only by a build). */
async function ignoreFilter(text: string): Promise<Ignored> {
  const mod = (await import("@balena/dockerignore")) as unknown as { default?: IgnoreFactory } & IgnoreFactory;
  const factory: IgnoreFactory = typeof mod.default === "function" ? mod.default : mod;
  const lines = text.split(/\r?\n/);
  const ig = factory().add(lines);
  // Exceptions (`!docs/keep.md`): an excluded directory is still entered when one may match below it.
  const exceptions = lines.map((l) => l.trim()).filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/^\/+/, "").split("/").filter((x) => x && x !== "."));
  const exceptionBelow = (dir: string) => {
    const d = dir.split("/");
    return exceptions.some((segs) => segs.length > d.length && d.every((name, i) => segs[i] === "**" || new Bun.Glob(segs[i]!).match(name)))
      || exceptions.some((segs) => segs.includes("**"));
  };
  return (rel: string, isDir = false) => rel !== "" && rel !== "." && ig.ignores(rel) && !(isDir && exceptionBelow(rel));
}
type IgnoreFactory = () => { add(p: string[]): { ignores(p: string): boolean } };

/** One file or directory a COPY/ADD takes from the context. */
export interface Source {
  /** Absolute path on the host. */
  abs: string;
  /** Relative to the context. */
  rel: string;
  isDir: boolean;
}

const GLOB = /[*?[]/;

/** A source operand cleaned and checked: relative to the context, never leaving it. */
function cleanSource(src: string, instr: string): string {
  const rel = path.posix.normalize("/" + src).slice(1); // rooted at the context: "/x" is "x"
  const raw = path.posix.normalize(src.replace(/^\/+/, ""));
  if (raw === ".." || raw.startsWith("../")) throw new ContextError(`${instr} failed: forbidden path outside the build context: ${src}`);
  return rel === "" ? "." : rel;
}

/**
 * Resolves rel under root one component at a time, following symlinks as if root were "/". In
 * the build context ("refuse") a link leading out of it is refused; in an image ("scope"), an
 * absolute or `..` link stays inside, as a chroot would.
 */
export function resolveIn(root: string, rel: string, src: string, instr: string, mode: "refuse" | "scope"): string {
  const parts = rel.split("/").filter((p) => p && p !== ".");
  const done: string[] = [];
  let hops = 0;
  while (parts.length) {
    const name = parts.shift()!;
    if (name === "..") {
      if (!done.length && mode === "refuse") throw new ContextError(`${instr} failed: forbidden path outside the build context: ${src}`);
      done.pop();
      continue;
    }
    const abs = path.join(root, ...done, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      throw new ContextError(`${instr} failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
    }
    if (!st.isSymbolicLink()) { done.push(name); continue; }
    if (++hops > 40) throw new ContextError(`${instr} failed: too many levels of symbolic links: ${src}`);
    const target = fs.readlinkSync(abs);
    if (mode === "refuse") {
      const resolved = path.posix.normalize(target.startsWith("/") ? target : path.posix.join(done.join("/"), target));
      const ctx = path.resolve(root);
      const outside = target.startsWith("/") ? !(path.resolve(target) === ctx || path.resolve(target).startsWith(ctx + "/")) : resolved === ".." || resolved.startsWith("../");
      if (outside) throw new ContextError(`${instr} failed: forbidden path outside the build context: ${src} (a symlink to ${target})`);
      if (target.startsWith("/")) { done.length = 0; parts.unshift(...path.relative(ctx, path.resolve(target)).split("/")); continue; }
    } else if (target.startsWith("/")) done.length = 0;
    parts.unshift(...target.split("/"));
  }
  return path.join(root, ...done);
}

/** Matches the context's entries against src (globs as filepath.Match: * and ? stay within a path element). */
export function resolveSources(ctx: { dir: string; ignored: Ignored }, src: string, instr: string, mode: "refuse" | "scope" = "refuse"): Source[] {
  const rel = cleanSource(src, instr);
  const names: string[] = [];
  if (GLOB.test(rel)) {
    const glob = new Bun.Glob(rel);
    for (const m of glob.scanSync({ cwd: ctx.dir, dot: true, onlyFiles: false, followSymlinks: false })) names.push(m.split(path.sep).join("/"));
    names.sort();
  } else names.push(rel);
  const out: Source[] = [];
  for (const n of names) {
    const abs = path.join(ctx.dir, n);
    if (!fs.existsSync(abs) && !isLink(abs)) continue;
    if (n !== "." && ctx.ignored(n, isDir(abs))) continue;
    const real = resolveIn(ctx.dir, n, src, instr, mode);
    out.push({ abs: real, rel: n, isDir: fs.statSync(real).isDirectory() });
  }
  if (!out.length) throw new ContextError(`${instr} failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
  return out;
}

function isDir(p: string): boolean {
  try {
    return fs.lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Every entry under a source directory that the .dockerignore keeps, relative to the source, sorted. */
export function walkSource(s: Source, ignored: Ignored): string[] {
  const out: string[] = [];
  const walk = (relIn: string) => {
    const abs = relIn ? path.join(s.abs, relIn) : s.abs;
    for (const name of fs.readdirSync(abs).sort()) {
      const r = relIn ? `${relIn}/${name}` : name;
      const ctxRel = s.rel === "." ? r : `${s.rel}/${r}`;
      const dir = fs.lstatSync(path.join(s.abs, r)).isDirectory();
      if (ignored(ctxRel, dir)) continue;
      out.push(r);
      if (dir) walk(r);
    }
  };
  walk("");
  return out;
}

/** The content hash of sources as a COPY sees them: names, types, modes, link targets, bytes — no times. */
export function hashSources(sources: Source[], ignored: Ignored): string {
  const h = createHash("sha256");
  const entry = (abs: string, name: string) => {
    const st = fs.lstatSync(abs);
    h.update(`${name}\0${st.mode}\0`);
    if (st.isSymbolicLink()) h.update(`->${fs.readlinkSync(abs)}\0`);
    else if (st.isFile()) h.update(fileDigest(abs) + "\0");
  };
  for (const s of sources) {
    entry(s.abs, s.rel);
    if (s.isDir) for (const r of walkSource(s, ignored)) entry(path.join(s.abs, r), `${s.rel}/${r}`);
  }
  return h.digest("hex");
}

function fileDigest(p: string): string {
  const h = createHash("sha256");
  const fd = fs.openSync(p, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}
