// `berth build`: a Dockerfile's stages built over the engine (RUN steps are containers) and the
// image store (every step is an image, as docker's classic builder makes them), with a cache that
// reuses a step when its parent image, instruction, build args in scope and (COPY/ADD) the
// content of what it copies are the same as before. One builder for the CLI and the API.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Engine } from "../engine/handle.ts";
import type { ImageRecord } from "../image/store.ts";
import type { ImageConfig } from "../image/oci.ts";
import { hostPlatform } from "../image/oci.ts";
import { familiarName, normalizeTaggedName } from "../image/reference.ts";
import { packDirectory } from "../storage/pack.ts";
import { ContextError, extractTar, hashSources, type Ignored, openContext, resolveSources, type BuildContext, type Source } from "./context.ts";
import { type Dockerfile, DockerfileError, expandWord, expandWords, type Instruction, keyValues, parseDockerfile } from "./dockerfile.ts";
import { BuildCache, commitStep, copyTree, type HistoryEntry, isDirIn, matchParents, resolveInImage, tempDir, withImageView } from "./images.ts";
import { bindKey, type BindOrigin, bindSpec, cacheDir, MountError, parseRunMounts, type RunMount, secretFile, stageBind, tmpfsTarget, withCacheLocks } from "./mounts.ts";
import { runStep } from "./run.ts";
import type { BuildOutput } from "./output.ts";

export type { BuildOutput } from "./output.ts";

export interface BuildRequest {
  /** A directory, or "-" (standard input: a tar archive, or a Dockerfile). */
  context: string;
  /** -f: the Dockerfile (default CONTEXT/Dockerfile, else CONTEXT/Containerfile); "-": standard input. */
  file?: string;
  stdin?: () => Uint8Array;
  tags?: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  labels?: Record<string, string>;
  /** RUN's network: "none" (default) or "host". */
  network?: string;
  /** --pull: pull every image FROM names (docker's: always attempt to pull a newer version). */
  pull?: boolean;
  /** --secret id=ID,src=PATH: the files RUN --mount=type=secret,id=ID sees (never in an image). */
  secrets?: Record<string, BuildSecret>;
}

/** A secret's bytes come from a file (--secret src=) or a value (--secret env=): read only while a RUN mounts it. */
export type BuildSecret = { file: string } | { value: string };

export interface BuildResult {
  image: ImageRecord;
  /** Per step: whether it came from the cache (FROM steps are not counted). */
  cached: boolean[];
  /** The names given, as docker prints them ("demo:latest"). */
  tags: string[];
}

/** A build that failed: what step, and (RUN) its command and exit code. */
export class BuildError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

const DEFAULT_SHELL = ["/bin/sh", "-c"];
/** docker's: the build args every build may set without an ARG (proxies). */
const PREDEFINED_ARGS = new Set(["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"]);

interface Stage {
  index: number;
  name: string | null;
  from: Instruction;
  steps: Instruction[];
}

/** A stage being built: its image so far and the ARGs in its scope. */
interface StageState {
  image: ImageRecord | null;
  config: ImageConfig;
  args: Map<string, string>;
  shell: string[];
}

function splitStages(df: Dockerfile): { meta: Instruction[]; stages: Stage[] } {
  const meta: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of df.instructions) {
    if (ins.keyword === "FROM") {
      const words = ins.args.split(/\s+/);
      const name = words.length === 3 && words[1]!.toUpperCase() === "AS" ? words[2]!.toLowerCase() : null;
      if (words.length !== 1 && !name) throw new DockerfileError(`line ${ins.line}: FROM requires either one or three arguments (FROM IMAGE [AS NAME])`);
      stages.push({ index: stages.length, name, from: ins, steps: [] });
    } else if (!stages.length) {
      if (ins.keyword !== "ARG") throw new DockerfileError(`line ${ins.line}: no build stage in current context (the first instruction must be FROM, or ARG before it)`);
      meta.push(ins);
    } else stages[stages.length - 1]!.steps.push(ins);
  }
  if (!stages.length) throw new DockerfileError("the Dockerfile has no FROM instruction");
  return { meta, stages };
}

function stageRef(stages: Stage[], ref: string, before: number): Stage | null {
  const lower = ref.toLowerCase();
  const byName = stages.find((s) => s.name === lower && s.index < before);
  if (byName) return byName;
  if (/^\d+$/.test(ref)) {
    const n = Number(ref);
    if (n >= before) throw new DockerfileError(`stage ${n} is not built before the one that refers to it`);
    return stages[n] ?? null;
  }
  return null;
}

/** The stages the target needs (FROM a stage, COPY --from=stage), in Dockerfile order. */
function neededStages(stages: Stage[], target: Stage, meta: Map<string, string>): Stage[] {
  const need = new Set<number>();
  const visit = (s: Stage) => {
    if (need.has(s.index)) return;
    need.add(s.index);
    const base = stageRef(stages, expandWord(s.from.args.split(/\s+/)[0]!, meta), s.index);
    if (base) visit(base);
    for (const ins of s.steps) {
      const from = ins.flags.from;
      if ((ins.keyword === "COPY" || ins.keyword === "ADD") && from) {
        const dep = stageRef(stages, from, s.index);
        if (dep) visit(dep);
      }
      if (ins.keyword === "RUN" && ins.flags.mount) {
        for (const m of ins.flags.mount.split("\n")) {
          const f = /(?:^|,)from=([^,]+)/.exec(m);
          const dep = f ? stageRef(stages, f[1]!, s.index) : null;
          if (dep) visit(dep);
        }
      }
    }
  };
  visit(target);
  return stages.filter((s) => need.has(s.index));
}

/** "linux/x86_64", "amd64" → "linux/amd64", as docker names platforms. */
function normalizePlatform(p: string): string {
  const parts = p.toLowerCase().split("/");
  if (parts.length === 1) parts.unshift("linux");
  const arch: Record<string, string> = { x86_64: "amd64", "x86-64": "amd64", aarch64: "arm64", armhf: "arm", i386: "386" };
  parts[1] = arch[parts[1]!] ?? parts[1]!;
  return parts.slice(0, 2).join("/") + (parts[2] && !(parts[1] === "arm64" && parts[2] === "v8") ? `/${parts[2]}` : "");
}

function key(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex");
}

function short(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

/**
 * Runs a build; the final image is tagged only when every step succeeded. The whole build holds
 * the image store's writer lock (shared): a prune or rmi waits for it, so neither removes a step's
 * image the next step builds on, nor the build's temporaries in tmp/.
 */
export async function build(engine: Engine, req: BuildRequest, output: BuildOutput): Promise<BuildResult> {
  return engine.images.writeLock(() => buildLocked(engine, req, output));
}

async function buildLocked(engine: Engine, req: BuildRequest, output: BuildOutput): Promise<BuildResult> {
  const store = engine.images;
  // A bad name is refused before any work, not after the build.
  for (const t of req.tags ?? []) {
    try {
      normalizeTaggedName(t);
    } catch (e) {
      throw new BuildError(`invalid tag ${JSON.stringify(t)}: ${(e as Error).message}`, 125);
    }
  }
  let ctx: BuildContext;
  try {
    ctx = await openContext({ context: req.context, file: req.file, stdin: req.stdin, tmpDir: store.tmpDir });
  } catch (e) {
    if (e instanceof ContextError) throw new BuildError(e.message);
    throw e;
  }
  try {
    return await new Builder(engine, req, output, ctx).run();
  } catch (e) {
    if (e instanceof ContextError || e instanceof DockerfileError || e instanceof MountError) throw new BuildError(e.message);
    throw e;
  } finally {
    ctx.cleanup();
  }
}

class Builder {
  private store;
  private cache;
  private df!: Dockerfile;
  private step = 0;
  private total = 0;
  private cachedSteps: boolean[] = [];
  private stageImages = new Map<number, ImageRecord | null>();
  private usedArgs = new Set<string>();
  private pulled = new Map<string, ImageRecord>();

  constructor(private engine: Engine, private req: BuildRequest, private output: BuildOutput, private ctx: BuildContext) {
    this.store = engine.images;
    this.cache = new BuildCache(engine.images);
  }

  async run(): Promise<BuildResult> {
    this.df = parseDockerfile(this.ctx.dockerfile);
    for (const n of this.df.notes) this.output.err(`NOTE: ${n}\n`);
    const { meta, stages } = splitStages(this.df);
    const buildArgs = this.req.buildArgs ?? {};
    // ARGs before the first FROM: usable in FROM lines, and (redeclared) in stages.
    // BuildKit's automatic platform args, in the global scope (FROM --platform=$BUILDPLATFORM);
    // a stage sees them after `ARG NAME`. Berth builds for the host: build and target platforms agree.
    const host = hostPlatform();
    const metaArgs = new Map<string, string>();
    for (const p of ["BUILD", "TARGET"]) {
      metaArgs.set(`${p}PLATFORM`, `${host.os}/${host.architecture}`);
      metaArgs.set(`${p}OS`, host.os);
      metaArgs.set(`${p}ARCH`, host.architecture);
      metaArgs.set(`${p}VARIANT`, "");
    }
    for (const ins of meta) {
      for (const [k, v] of keyValues("ARG", ins.args, metaArgs, this.df.escape)) {
        const value = buildArgs[k] ?? (v === "\u0000unset" ? undefined : v);
        if (buildArgs[k] !== undefined) this.usedArgs.add(k);
        if (value !== undefined) metaArgs.set(k, value);
      }
    }
    let target = stages[stages.length - 1]!;
    if (this.req.target) {
      const t = stages.find((s) => s.name === this.req.target!.toLowerCase());
      if (!t) throw new BuildError(`failed to reach build target ${this.req.target} in Dockerfile`);
      target = t;
    }
    const todo = neededStages(stages, target, metaArgs);
    this.total = meta.length + todo.reduce((a, s) => a + 1 + s.steps.length, 0);
    for (const ins of meta) this.announce(ins);
    let last: ImageRecord | null = null;
    for (const s of todo) {
      last = await this.buildStage(stages, s, metaArgs);
      this.stageImages.set(s.index, last);
    }
    const labels = this.req.labels ?? {};
    if (Object.keys(labels).length) {
      const config = structuredClone(last?.config ?? {});
      config.Labels = { ...(config.Labels ?? {}), ...labels };
      last = await this.cachedCommit(last, config, { created_by: `LABEL ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(" ")}` }, key("labels", JSON.stringify(labels)), null);
    }
    if (!last) throw new BuildError("the build made no image: a stage FROM scratch needs at least one instruction");
    const unused = Object.keys(buildArgs).filter((k) => !this.usedArgs.has(k) && !PREDEFINED_ARGS.has(k));
    if (unused.length) this.output.err(`[Warning] One or more build-args [${unused.join(" ")}] were not consumed\n`);
    const tags = (this.req.tags ?? []).map((t) => normalizeTaggedName(t));
    for (const t of tags) this.store.tag(last.id, t);
    return { image: this.store.get(last.id)!, cached: this.cachedSteps, tags: tags.map((t) => familiarName(t)) };
  }

  /**
   * An image a step names (FROM, COPY --from, RUN --mount from=): the store's, else pulled through
   * the engine's registry client as docker pulls it (--pull: always pulled, for the newest). A
   * platform other than this host's is refused unless the image at hand is for it.
   */
  private async imageFor(ref: string, platform: string | null): Promise<ImageRecord> {
    // once per build: a second stage FROM the same image (with --pull) does not pull it again
    const memo = `${ref}\u0000${platform ?? ""}`;
    const known = this.pulled.get(memo);
    if (known) return known;
    const image = await this.imageForUncached(ref, platform);
    this.pulled.set(memo, image);
    return image;
  }

  private async imageForUncached(ref: string, platform: string | null): Promise<ImageRecord> {
    const host = hostPlatform();
    const hostName = `${host.os}/${host.architecture}`;
    const want = platform ? normalizePlatform(platform) : null;
    const foreign = want !== null && want !== hostName;
    let have: ImageRecord | null = null;
    const isId = /^(sha256:)?[a-f0-9]{12,64}$/.test(ref);
    if (!this.req.pull || isId) { // an image ID names the store's image: no registry serves it, --pull or not
      try {
        have = this.store.resolve(ref);
      } catch (e) {
        throw new BuildError(`invalid reference format: ${(e as Error).message}`);
      }
    }
    if (have) {
      const its = `${have.document.os}/${have.document.architecture}`;
      if (!foreign || its === want) return have;
      throw new BuildError(`image ${ref} in the store is for ${its}, not ${want}: berth builds for ${hostName} (this host); pull the image for ${want} (berth build --pull, berth pull --platform ${want}) or build FROM --platform=$BUILDPLATFORM`);
    }
    if (isId) throw new BuildError(`image ${ref} is not in the store (an image ID: no registry serves it)`);
    this.output.out(this.req.pull ? `Pulling ${ref}${want ? ` (${want})` : ""}\n` : `Unable to find image '${ref}' locally\n`);
    const { pull } = await import("../engine/registry.ts");
    try {
      const r = await pull(this.engine.root, ref, {
        ...(want ? { platform: want } : {}),
        onEvent: (e) => { if (e.status !== "Downloading") this.output.out(`${e.id ? `${e.id}: ` : ""}${e.status}\n`); },
      });
      this.output.out(`Status: ${r.fresh ? "Downloaded newer image" : "Image is up to date"} for ${ref}\n`);
      return this.store.get(r.image.id) ?? r.image;
    } catch (e) {
      throw new BuildError(`pulling ${ref}${want ? ` for ${want}` : ""}: ${(e as Error).message}`);
    }
  }

  private announce(ins: Instruction): void {
    this.step++;
    this.output.out(`Step ${this.step}/${this.total} : ${ins.text}\n`);
  }

  private async buildStage(stages: Stage[], stage: Stage, metaArgs: Map<string, string>): Promise<ImageRecord | null> {
    this.announce(stage.from);
    const baseRef = expandWord(stage.from.args.split(/\s+/)[0]!, metaArgs, this.df.escape);
    if (!baseRef) throw new BuildError(`Step ${this.step}/${this.total} : ${stage.from.text}\nbase name (${stage.from.args.split(/\s+/)[0]}) should not be blank: give the ARG a value (--build-arg) or a default`);
    const platform = stage.from.flags.platform !== undefined ? expandWord(stage.from.flags.platform, metaArgs, this.df.escape) : null;
    for (const f of Object.keys(stage.from.flags)) if (f !== "platform") throw new BuildError(`Step ${this.step}/${this.total} : ${stage.from.text}\nFROM: unknown flag --${f} (FROM [--platform=PLATFORM] IMAGE [AS NAME])`);
    let image: ImageRecord | null;
    const dep = stageRef(stages, baseRef, stage.index);
    if (dep) image = this.stageImages.get(dep.index) ?? null;
    else if (baseRef.toLowerCase() === "scratch") image = null;
    else image = await this.stepError(stage.from, () => this.imageFor(baseRef, platform));
    this.output.out(` ---> ${image ? short(image.id) : "scratch"}\n`);
    const state: StageState = { image, config: structuredClone(image?.config ?? {}), args: new Map(), shell: image?.config.Shell ?? DEFAULT_SHELL };
    // The base image's ONBUILD triggers run first, as docker does; the new image keeps none.
    const triggers = state.config.OnBuild ?? [];
    if (triggers.length) {
      this.output.out(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? "s" : ""}\n`);
      state.config.OnBuild = null;
      for (const t of triggers) {
        const ins = parseDockerfile(t).instructions[0];
        if (ins) await this.execute(stages, stage, state, ins, metaArgs);
      }
    }
    for (const ins of stage.steps) {
      this.announce(ins);
      await this.execute(stages, stage, state, ins, metaArgs);
    }
    return state.image;
  }

  /** Variables a step's words expand with: the ARGs in scope, then ENV (which wins). */
  private vars(state: StageState): Map<string, string> {
    const v = new Map(state.args);
    for (const e of state.config.Env ?? []) {
      const eq = e.indexOf("=");
      if (eq > 0) v.set(e.slice(0, eq), e.slice(eq + 1));
    }
    return v;
  }

  private async execute(stages: Stage[], stage: Stage, state: StageState, ins: Instruction, metaArgs: Map<string, string>): Promise<void> {
    const esc = this.df.escape;
    const vars = this.vars(state);
    const config = structuredClone(state.config);
    const argsText = [...state.args].filter(([k]) => !(config.Env ?? []).some((e) => e.startsWith(k + "="))).map(([k, v]) => `${k}=${v}`).sort();
    const meta = async (createdBy: string, author?: string) => {
      state.image = await this.cachedCommit(state.image, config, { created_by: createdBy, ...(author ? { author } : {}) }, key(ins.keyword, ins.text, ...argsText), null);
      state.config = state.image.config;
    };
    switch (ins.keyword) {
      case "ARG": {
        for (const [k, v] of keyValues("ARG", ins.args, vars, esc)) {
          const given = this.req.buildArgs?.[k];
          if (given !== undefined) this.usedArgs.add(k);
          const value = given ?? (v === "\u0000unset" ? metaArgs.get(k) : v);
          if (value !== undefined) state.args.set(k, value);
          else state.args.delete(k);
        }
        this.output.out(` ---> ${state.image ? short(state.image.id) : "scratch"}\n`);
        this.cachedSteps.push(true);
        return;
      }
      case "ENV": {
        const env = [...(config.Env ?? [])];
        for (const [k, v] of keyValues("ENV", ins.args, vars, esc)) {
          const i = env.findIndex((e) => e.startsWith(k + "="));
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        config.Env = env;
        return meta(`ENV ${ins.args}`);
      }
      case "LABEL":
        config.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(keyValues("LABEL", ins.args, vars, esc)) };
        return meta(`LABEL ${ins.args}`);
      case "MAINTAINER":
        return meta(`MAINTAINER ${ins.args}`, ins.args.trim());
      case "CMD":
      case "ENTRYPOINT": {
        const v = ins.json ?? [...state.shell, ins.args];
        if (ins.keyword === "CMD") config.Cmd = v;
        else {
          config.Entrypoint = v;
          // an ENTRYPOINT resets the CMD an earlier stage or the base image set
          if (!stage.steps.slice(0, stage.steps.indexOf(ins)).some((s) => s.keyword === "CMD")) config.Cmd = null;
        }
        return meta(`${ins.keyword} ${JSON.stringify(v)}`);
      }
      case "EXPOSE": {
        const ports = { ...(config.ExposedPorts ?? {}) };
        for (const p of expandWords(ins.args, vars, esc)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw new BuildError(`EXPOSE: invalid port ${JSON.stringify(p)} (use PORT[/tcp|udp|sctp])`);
          ports[p.includes("/") ? p.toLowerCase() : `${p}/tcp`] = {};
        }
        config.ExposedPorts = ports;
        return meta(`EXPOSE ${Object.keys(ports).join(" ")}`);
      }
      case "VOLUME": {
        const vols = { ...(config.Volumes ?? {}) };
        for (const v of ins.json ?? expandWords(ins.args, vars, esc)) {
          if (!v) throw new BuildError("VOLUME specified can not be an empty string");
          vols[v] = {};
        }
        config.Volumes = vols;
        return meta(`VOLUME ${JSON.stringify(Object.keys(vols))}`);
      }
      case "USER":
        config.User = expandWord(ins.args.trim(), vars, esc);
        return meta(`USER ${config.User}`);
      case "STOPSIGNAL":
        config.StopSignal = expandWord(ins.args.trim(), vars, esc);
        return meta(`STOPSIGNAL ${config.StopSignal}`);
      case "SHELL":
        if (!ins.json || !ins.json.length) throw new BuildError(`SHELL requires the arguments to be in JSON form (line ${ins.line})`);
        config.Shell = ins.json;
        state.shell = ins.json;
        return meta(`SHELL ${JSON.stringify(ins.json)}`);
      case "ONBUILD": {
        const inner = ins.args.trim().split(/\s+/)[0]!.toUpperCase();
        if (["ONBUILD", "FROM", "MAINTAINER"].includes(inner)) throw new BuildError(`${inner} isn't allowed as an ONBUILD trigger`);
        config.OnBuild = [...(config.OnBuild ?? []), ins.args.trim()];
        return meta(`ONBUILD ${ins.args.trim()}`);
      }
      case "HEALTHCHECK":
        config.Healthcheck = healthcheck(ins);
        return meta(`HEALTHCHECK ${ins.args}`);
      case "WORKDIR": {
        const dir = expandWord(ins.args.trim(), vars, esc);
        config.WorkingDir = path.posix.resolve(config.WorkingDir || "/", dir);
        return this.workdir(state, config, argsText);
      }
      case "RUN":
        return this.runInstruction(stages, stage, state, ins, argsText, vars);
      case "COPY":
      case "ADD":
        return this.stepError(ins, () => this.copy(stages, stage, state, ins, vars));
      default:
        throw new BuildError(`${ins.keyword} is not supported`);
    }
  }

  /** Runs a step's work; an engine error (a container that cannot start, …) is reported with the step. */
  private async stepError<T>(ins: Instruction, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof BuildError && e.message.startsWith("Step ")) throw e;
      throw new BuildError(`Step ${this.step}/${this.total} : ${ins.text}\n${(e as Error).message}`, e instanceof BuildError ? e.exitCode : 1);
    }
  }

  /** The image a step made before on this parent with this key, reported as reused; null
   *  under --no-cache or on a miss. */
  private fromCache(parent: ImageRecord | null, stepKey: string): ImageRecord | null {
    const hit = this.req.noCache ? null : this.cache.get(key(parent?.id ?? "scratch", stepKey));
    if (hit) {
      this.output.out(` ---> Using cache\n ---> ${short(hit.id)}\n`);
      this.cachedSteps.push(true);
    }
    return hit;
  }

  /** A step's cached image (fromCache) taken as the stage's new state; false on a miss. */
  private reuse(state: StageState, stepKey: string): boolean {
    const hit = this.fromCache(state.image, stepKey);
    if (!hit) return false;
    state.image = hit;
    state.config = hit.config;
    return true;
  }

  /** A step's image from the cache, or made by `make` and recorded there. */
  private async cachedCommit(parent: ImageRecord | null, config: ImageConfig, entry: HistoryEntry, stepKey: string, chunks: (() => Promise<AsyncIterable<Uint8Array> | null>) | null): Promise<ImageRecord> {
    const hit = this.fromCache(parent, stepKey);
    if (hit) return hit;
    const image = await commitStep(this.store, parent, config, entry, chunks ? await chunks() : null);
    this.made(parent, stepKey, image);
    return image;
  }

  /** A step's new image, recorded in the cache under its parent and key, and reported. */
  private made(parent: ImageRecord | null, stepKey: string, image: ImageRecord): void {
    this.cache.put(key(parent?.id ?? "scratch", stepKey), image);
    this.output.out(` ---> ${short(image.id)}\n`);
    this.cachedSteps.push(false);
  }

  private async workdir(state: StageState, config: ImageConfig, argsText: string[]): Promise<void> {
    const dir = config.WorkingDir!;
    const stepKey = key("WORKDIR", dir, ...argsText);
    if (this.reuse(state, stepKey)) return;
    // docker creates the directory: a layer with it when the image lacks it, none otherwise.
    const staging = tempDir(this.store, "build-workdir");
    try {
      const exists = await withImageView(this.store, state.image, (view) => {
        const real = resolveInImage(view, dir); // through the image's own symlinks (/var/run -> /run)
        const there = isDirIn(view, real);
        if (!there) {
          fs.mkdirSync(path.join(staging, real), { recursive: true, mode: 0o755 });
          matchParents(staging, view, path.posix.dirname(real));
        }
        return there;
      });
      const image = await commitStep(this.store, state.image, config, { created_by: `WORKDIR ${dir}` }, exists ? null : packDirectory(staging));
      this.made(state.image, stepKey, image);
      state.image = image;
      state.config = image.config;
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }

  private async runInstruction(stages: Stage[], stage: Stage, state: StageState, ins: Instruction, argsText: string[], vars: Map<string, string>): Promise<void> {
    const fail = (why: string) => new BuildError(`Step ${this.step}/${this.total} : ${ins.text}\n${why}`);
    for (const [f, v] of Object.entries(ins.flags)) {
      if (f === "network" && ["none", "host", "default"].includes(v)) continue;
      if (f === "mount") continue;
      throw fail(`RUN: unknown flag --${f}${f === "network" ? ` (none, host or default)` : ""}`);
    }
    let mounts: RunMount[];
    try {
      mounts = parseRunMounts(ins.flags.mount === undefined ? undefined : ins.flags.mount.split("\n").map((m) => expandWord(m, vars, this.df.escape)).join("\n"), state.config.WorkingDir || "/");
    } catch (e) {
      throw fail((e as Error).message);
    }
    const network = ins.flags.network && ins.flags.network !== "default" ? ins.flags.network : this.req.network ?? "none";
    let cmd: string[];
    if (ins.json) cmd = ins.json;
    else if (ins.heredocs.length === 1 && /^<<-?["']?\w+["']?$/.test(ins.args.trim())) cmd = [...state.shell, ins.heredocs[0]!.content];
    else cmd = [...state.shell, [ins.args, ...ins.heredocs.map((h) => `${h.content}${h.name}`)].join("\n")];
    const createdBy = `RUN ${argsText.length ? `|${argsText.length} ${argsText.join(" ")} ` : ""}${ins.json ? JSON.stringify(cmd) : cmd.join(" ")}`;
    await this.stepError(ins, () => this.withBindOrigins(stages, stage, mounts, async (origins) => {
      // The key: the flags (a secret's id and target, never its bytes; a cache mount's id) and
      // what each bind mounts, by content: a changed bind-mounted file reruns the step.
      const binds = mounts.flatMap((m, i) => m.type === "bind" ? [bindKey(m, origins[i]!)] : []);
      const stepKey = key("RUN", JSON.stringify(cmd), JSON.stringify(ins.flags), ...argsText, ...binds);
      if (this.reuse(state, stepKey)) return;
      const parent = state.image;
      if (!parent) throw fail("RUN needs an image with a shell: this stage is FROM scratch with no files");
      // docker's predefined args (proxies) reach RUN without an ARG, and stay out of history and the cache key
      const proxies = Object.entries(this.req.buildArgs ?? {}).filter(([k]) => PREDEFINED_ARGS.has(k) && !state.args.has(k)).map(([k, v]) => `${k}=${v}`);
      const temps: string[] = [];
      const removals: Array<() => void> = [];
      const locked: string[] = [];
      try {
        const specs: string[] = [];
        mounts.forEach((m, i) => {
          if (m.type === "secret") {
            const given = this.req.secrets?.[m.id];
            if (!given) {
              if (m.required) throw fail(`secret ${m.id} is required: give it with --secret id=${m.id},src=PATH`);
              return; // docker: an optional secret not given is not mounted
            }
            let bytes: Uint8Array;
            try {
              bytes = "file" in given ? fs.readFileSync(given.file) : Buffer.from(given.value);
            } catch (e) {
              throw fail(`secret ${m.id}: cannot read ${"file" in given ? given.file : "it"}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
            }
            const secret = secretFile(this.store, m, bytes);
            removals.push(secret.remove);
            specs.push(bindSpec(path.join(secret.dir, "secret"), m.target, true));
          } else if (m.type === "cache") {
            const dir = cacheDir(this.engine.root, m);
            if (m.sharing !== "shared") locked.push(dir);
            specs.push(bindSpec(dir, m.target, m.readOnly));
          } else if (m.type === "tmpfs") {
            specs.push(`type=tmpfs,target=${tmpfsTarget(m.target)}${m.size !== null ? `,tmpfs-size=${m.size}` : ""}`);
          } else {
            const dir = stageBind(this.store, m, origins[i]!);
            temps.push(dir);
            specs.push(bindSpec(path.join(dir, "src"), m.target, !m.readWrite));
          }
        });
        const image = await withCacheLocks(locked, () => runStep(this.engine, {
          image: parent, config: state.config, cmd, buildArgs: [...argsText, ...proxies], network, createdBy, output: this.output, mounts: specs,
          failure: (code) => new BuildError(`Step ${this.step}/${this.total} : ${ins.text}\nThe command '${ins.json ? JSON.stringify(cmd) : cmd.join(" ")}' returned a non-zero code: ${code}`, code),
        }));
        this.made(parent, stepKey, image);
        state.image = image;
        state.config = image.config;
      } finally {
        for (const r of removals) r();
        for (const t of temps) fs.rmSync(t, { recursive: true, force: true });
      }
    }));
  }

  /** Runs fn with where each bind mount's files come from (the context, or a stage's or image's view; null for other mounts). */
  private async withBindOrigins<T>(stages: Stage[], stage: Stage, mounts: RunMount[], fn: (origins: Array<BindOrigin | null>) => Promise<T>, done: Array<BindOrigin | null> = []): Promise<T> {
    if (done.length === mounts.length) return fn(done);
    const m = mounts[done.length]!;
    if (m.type !== "bind") return this.withBindOrigins(stages, stage, mounts, fn, [...done, null]);
    if (m.from === null) return this.withBindOrigins(stages, stage, mounts, fn, [...done, { context: this.ctx }]);
    const from = m.from;
    const dep = stageRef(stages, from, stage.index);
    const image = dep ? this.stageImages.get(dep.index) ?? null : await this.imageFor(from, null).catch((e: Error) => {
      throw new BuildError(`RUN --mount from=${from}: no stage by that name, and no such image: ${e.message}`);
    });
    return withImageView(this.store, image, (view) => this.withBindOrigins(stages, stage, mounts, fn, [...done, { view, name: from }]));
  }

  private async copy(stages: Stage[], stage: Stage, state: StageState, ins: Instruction, vars: Map<string, string>): Promise<void> {
    const esc = this.df.escape;
    const instr = ins.keyword;
    const words = ins.json ?? splitOperands(ins.args, vars, esc);
    if (words.length < 2) throw new BuildError(`${instr} requires at least two arguments, but only one was provided. Destination could not be determined.`);
    const destRaw = words[words.length - 1]!;
    const srcs = words.slice(0, -1);
    const dest = path.posix.resolve(state.config.WorkingDir || "/", destRaw);
    const destIsDirSyntax = destRaw.endsWith("/") || destRaw === "." || destRaw.endsWith("/.");
    for (const f of Object.keys(ins.flags)) if (!["from", "chown", "chmod", "link"].includes(f)) throw new BuildError(`${instr}: unknown flag --${f}`);
    const fromRef = ins.flags.from !== undefined ? expandWord(ins.flags.from, vars, esc) : null;
    let fromImage: ImageRecord | null = null;
    if (fromRef !== null) {
      if (instr === "ADD") throw new BuildError("ADD --from is not supported; use COPY --from");
      const dep = stageRef(stages, fromRef, stage.index);
      if (dep) fromImage = this.stageImages.get(dep.index) ?? null;
      else {
        fromImage = await this.imageFor(fromRef, null).catch((e: Error) => {
          throw new BuildError(`COPY --from=${fromRef}: no stage by that name, and no such image: ${e.message}`);
        });
      }
    }
    for (const s of srcs) {
      if (/^(https?|git):\/\//i.test(s) || /^git@/.test(s)) {
        throw new BuildError(`${instr} ${s}: berth build works offline and does not fetch URLs; download the file into the build context and COPY it`);
      }
    }
    const chmod = ins.flags.chmod !== undefined ? parseChmod(ins.flags.chmod) : null;
    const heredocs = new Map(ins.heredocs.map((h) => [h.name, h]));
    const heredocOf = (s: string) => { const m = /^<<-?["']?(\w+)["']?$/.exec(s); return m ? heredocs.get(m[1]!) ?? null : null; };

    const run = async (sourceRoot: string, mode: "refuse" | "scope", ignored: Ignored) => {
      const resolved: Array<{ src: string; list: Source[] } | { src: string; heredoc: string; name: string }> = [];
      for (const s of srcs) {
        const h = instr === "COPY" || instr === "ADD" ? heredocOf(s) : null;
        if (h) resolved.push({ src: s, heredoc: h.content, name: h.name });
        else resolved.push({ src: s, list: resolveSources({ dir: sourceRoot, ignored }, s, instr, mode) });
      }
      const count = resolved.reduce((a, r) => a + ("list" in r ? r.list.length : 1), 0);
      if (count > 1 && !destRaw.endsWith("/")) throw new BuildError(`When using ${instr} with more than one source file, the destination must be a directory and end with a /`);
      // The bytes copied, from the context or from another stage (whose image may be new while
      // the files this step takes from it are the same: then the step is still cached).
      const contentHash = key(...resolved.map((r) => "list" in r ? hashSources(r.list, ignored) : key("heredoc", r.name, r.heredoc)));
      const stepKey = key(instr, JSON.stringify(ins.flags), JSON.stringify(srcs), dest, contentHash);
      if (this.reuse(state, stepKey)) return;
      const staging = tempDir(this.store, "build-copy");
      try {
        await withImageView(this.store, state.image, async (view) => {
          const owner = ins.flags.chown !== undefined ? resolveOwner(expandWord(ins.flags.chown, vars, esc), view) : { uid: 0, gid: 0 };
          // The destination through the image's own symlinks (a usrmerge /lib -> usr/lib stays a link).
          const real = resolveInImage(view, dest);
          const destExistsDir = isDirIn(view, real);
          const intoDir = destIsDirSyntax || destExistsDir || count > 1;
          const put = (from: string, to: string, relInSource: string | null, baseSource: Source | null) => copyTree(from, path.join(staging, to), owner, chmod,
            baseSource && relInSource !== null ? (r, dir) => mode === "refuse" && ignored(baseSource.rel === "." ? r : `${baseSource.rel}/${r}`, dir) : () => false,
            mode === "refuse" ? (baseSource?.rel ?? ".") : "");
          for (const r of resolved) {
            if ("heredoc" in r) {
              const target = intoDir ? path.posix.join(real, r.name) : real;
              fs.mkdirSync(path.join(staging, path.posix.dirname(target)), { recursive: true, mode: 0o755 });
              fs.writeFileSync(path.join(staging, target), r.heredoc, { mode: chmod ?? 0o644 });
              fs.chownSync(path.join(staging, target), owner.uid, owner.gid);
              continue;
            }
            for (const s of r.list) {
              if (s.isDir) {
                fs.mkdirSync(path.join(staging, real), { recursive: true, mode: 0o755 });
                put(s.abs, real, "", s);
              } else if (instr === "ADD" && isArchive(s.abs)) {
                fs.mkdirSync(path.join(staging, real), { recursive: true, mode: 0o755 });
                extractTar(s.abs, path.join(staging, real), `ADD ${s.rel}`);
              } else {
                const target = intoDir ? path.posix.join(real, path.posix.basename(s.rel)) : real;
                fs.mkdirSync(path.join(staging, path.posix.dirname(target)), { recursive: true, mode: 0o755 });
                put(s.abs, target, null, null);
              }
            }
          }
          matchParents(staging, view, intoDir ? real : path.posix.dirname(real));
        });
        const created = `${instr} ${Object.entries(ins.flags).map(([f, v]) => f === "link" && v === "true" ? "--link " : `--${f}=${v} `).join("")}${srcs.join(" ")} ${dest}`;
        const image = await commitStep(this.store, state.image, state.config, { created_by: created }, packDirectory(staging));
        this.made(state.image, stepKey, image);
        state.image = image;
        state.config = image.config;
      } finally {
        fs.rmSync(staging, { recursive: true, force: true });
      }
    };
    if (fromRef !== null) await withImageView(this.store, fromImage, (root) => run(root, "scope", () => false));
    else await run(this.ctx.dir, "refuse", this.ctx.ignored);
  }
}

/** COPY/ADD operands: words with variables expanded; heredoc markers (`<<EOF`) kept as they are. */
function splitOperands(args: string, vars: Map<string, string>, esc: string): string[] {
  return args.trim().split(/\s+/).filter(Boolean).map((w) => w.startsWith("<<") ? w : expandWords(w, vars, esc)[0] ?? "");
}

function isArchive(file: string): boolean {
  const fd = fs.openSync(file, "r");
  try {
    const head = Buffer.alloc(512);
    const n = fs.readSync(fd, head, 0, 512, 0);
    const h = head.subarray(0, n);
    return (h[0] === 0x1f && h[1] === 0x8b) || (h[0] === 0x42 && h[1] === 0x5a && h[2] === 0x68) || (h[0] === 0xfd && h[1] === 0x37 && h[2] === 0x7a)
      || (n >= 262 && h.subarray(257, 262).toString() === "ustar");
  } finally {
    fs.closeSync(fd);
  }
}

function parseChmod(v: string): number {
  if (!/^[0-7]{3,4}$/.test(v)) throw new BuildError(`--chmod=${v}: expected an octal mode such as 644 or 0755`);
  return parseInt(v, 8);
}

/** --chown=USER[:GROUP], numeric or names from the image's /etc/passwd and /etc/group. */
function resolveOwner(spec: string, view: string): { uid: number; gid: number } {
  const [u, g] = spec.split(":");
  const lookup = (file: string, name: string, what: string): { id: number; gid?: number } => {
    if (/^\d+$/.test(name)) return { id: Number(name) };
    let text = "";
    try { text = fs.readFileSync(path.join(view, resolveInImage(view, `/etc/${file}`)), "utf8"); } catch { /* none */ }
    for (const line of text.split("\n")) {
      const f = line.split(":");
      if (f[0] === name) return { id: Number(f[2]), gid: Number(f[3]) };
    }
    throw new BuildError(`--chown=${spec}: unable to find ${what} ${name} in the image's /etc/${file}`);
  };
  const user = lookup("passwd", u!, "user");
  const gid = g !== undefined && g !== "" ? lookup("group", g, "group").id : user.gid ?? user.id;
  return { uid: user.id, gid };
}

function healthcheck(ins: Instruction): ImageConfig["Healthcheck"] {
  const rest = ins.args.trim();
  if (/^NONE$/i.test(rest)) return { Test: ["NONE"] };
  const m = /^CMD\s+([\s\S]+)$/i.exec(rest);
  if (!m) throw new BuildError(`HEALTHCHECK: expected NONE or [OPTIONS] CMD command (line ${ins.line})`);
  const json = (() => { try { const v = JSON.parse(m[1]!) as unknown; return Array.isArray(v) ? v as string[] : null; } catch { return null; } })();
  const hc: NonNullable<ImageConfig["Healthcheck"]> = { Test: json ? ["CMD", ...json] : ["CMD-SHELL", m[1]!] };
  const dur = (v: string) => {
    const d = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v);
    if (!d) throw new BuildError(`HEALTHCHECK: bad duration ${v} (e.g. 30s, 1m)`);
    return Math.round(Number(d[1]) * { ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }[d[2] as "ms"]);
  };
  for (const [f, v] of Object.entries(ins.flags)) {
    if (f === "interval") hc.Interval = dur(v);
    else if (f === "timeout") hc.Timeout = dur(v);
    else if (f === "start-period") hc.StartPeriod = dur(v);
    else if (f === "retries") hc.Retries = Number(v);
    else throw new BuildError(`HEALTHCHECK: unknown flag --${f}`);
  }
  return hc;
}
