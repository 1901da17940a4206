// The compose model berth runs: a validated, interpolated file normalised into typed services
// (each key parsed once here; the engine gets a CreateRequest built from these, see create.ts).
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { parseDotEnv } from "./interpolate.ts";
import type { HealthRequest } from "../engine/index.ts";

export class ComposeError extends Error {}

export interface PortModel {
  hostIp: string;
  /** A host port range (one port: from === to); null: any free port. */
  host: { from: number; to: number } | null;
  container: number;
  proto: "tcp" | "udp";
}

export interface VolumeModel {
  type: "bind" | "volume" | "tmpfs";
  /** Host path (bind, absolute), volume key (volume; "" for anonymous). */
  source: string;
  target: string;
  readOnly: boolean;
}

export interface DependsOn { condition: "service_started" | "service_healthy" | "service_completed_successfully"; required: boolean; restart: boolean }

/** A service's `build:` (the short form is its context). Paths absolute. */
export interface BuildModel {
  context: string;
  dockerfile?: string;
  args: Record<string, string>;
  target?: string;
  labels: Record<string, string>;
}

export type PullPolicy = "always" | "missing" | "never" | "build";

export interface ServiceModel {
  name: string;
  /** `image:`, else docker compose's name for the built image, `PROJECT-SERVICE`. */
  image: string;
  /** Whether `image:` named it (down --rmi local removes only images without one). */
  customImage: boolean;
  build?: BuildModel;
  pullPolicy: PullPolicy;
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string>;
  ports: PortModel[];
  expose: string[];
  volumes: VolumeModel[];
  /** secrets and configs, each a read-only file at its target (see FileMount) */
  files: FileMount[];
  /** Network key → aliases and a fixed address (ipv4_address). Empty with networkMode set. */
  networks: Record<string, { aliases: string[]; ipv4Address?: string }>;
  networkMode?: string;
  dependsOn: Record<string, DependsOn>;
  health?: HealthRequest;
  restart?: string;
  containerName?: string;
  labels: Record<string, string>;
  replicas: number;
  user?: string;
  workingDir?: string;
  hostname?: string;
  domainname?: string;
  memLimit?: string;
  memswapLimit?: string;
  cpus?: string;
  cpuShares?: string;
  pidsLimit?: string;
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  readOnly: boolean;
  init: boolean;
  stopSignal?: string;
  stopGraceSeconds?: number;
  extraHosts: string[];
  dns: string[];
  sysctls: string[];
  securityOpt: string[];
  tmpfs: string[];
  tty: boolean;
  stdinOpen: boolean;
}

export interface NetworkModel { key: string; name: string; external: boolean; internal: boolean; labels: Record<string, string>; subnet?: string; gateway?: string }
export interface VolumeDecl { key: string; name: string; external: boolean; labels: Record<string, string> }

/**
 * A top-level secret or config: a file of the host (`file:`), or text (`environment:` — a
 * variable's value —, a config's `content:`) that up writes to a file of the project's own.
 */
export interface FileDecl {
  kind: "secret" | "config"; key: string;
  file?: string;
  /** the variable `environment:` names; content is its value, absent when it is not set */
  environment?: string;
  content?: string;
}

/**
 * A service's secret or config, as docker compose mounts them without a swarm: read-only, a
 * secret at /run/secrets/<target or key>, a config at /<target or key> (an absolute target as given).
 */
export interface FileMount { kind: "secret" | "config"; source: string; target: string }

export interface ProjectModel {
  name: string;
  workingDir: string;
  configFiles: string[];
  services: ServiceModel[];
  networks: NetworkModel[];
  volumes: VolumeDecl[];
  files: FileDecl[];
  /** The interpolated, merged document (for `config`). */
  document: Record<string, unknown>;
}

/** Keys berth compose runs; any other service key is reported as ignored (never silently). */
export const SUPPORTED_SERVICE_KEYS = new Set([
  "image", "command", "entrypoint", "environment", "env_file", "ports", "expose", "volumes", "networks", "network_mode", "depends_on",
  "healthcheck", "restart", "container_name", "labels", "deploy", "scale", "user", "working_dir", "hostname", "domainname",
  "mem_limit", "memswap_limit", "cpus", "cpu_shares", "pids_limit", "cap_add", "cap_drop", "privileged", "read_only", "init",
  "stop_signal", "stop_grace_period", "extra_hosts", "dns", "sysctls", "security_opt", "tmpfs", "stdin_open", "tty", "profiles",
  "pull_policy", "logging", "extends", "build", "secrets", "configs",
]);

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => !!v && typeof v === "object" && !Array.isArray(v);
const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));

/** Compose's string form of command/entrypoint: split like a shell would, without running one. */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = "", quote: string | null = null, any = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < s.length && /["\\$`]/.test(s[i + 1]!)) cur += s[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") { quote = ch; any = true; }
    else if (ch === "\\" && i + 1 < s.length) cur += s[++i];
    else if (/\s/.test(ch)) { if (cur || any) out.push(cur); cur = ""; any = false; }
    else cur += ch;
  }
  if (quote) throw new ComposeError(`unterminated quote in ${JSON.stringify(s)}`);
  if (cur || any) out.push(cur);
  return out;
}

function argv(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) ? v.map(String) : shellWords(String(v));
}

/** `environment` and `labels` as a map; list entries KEY=VALUE; a bare KEY takes the host's value (env) or "" (labels). */
function keyValues(v: unknown, hostEnv?: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(v)) {
    for (const e of v.map(String)) {
      const at = e.indexOf("=");
      if (at >= 0) out[e.slice(0, at)] = e.slice(at + 1);
      else if (!hostEnv) out[e] = "";
      else if (hostEnv[e] !== undefined) out[e] = hostEnv[e]!;
    }
  } else if (isObj(v)) {
    for (const [k, val] of Object.entries(v)) {
      if (val === null || val === undefined) {
        if (!hostEnv) out[k] = "";
        else if (hostEnv[k] !== undefined) out[k] = hostEnv[k]!;
      } else out[k] = String(val);
    }
  }
  return out;
}

function portNumber(s: string, spec: string, service: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new ComposeError(`service "${service}": invalid port ${JSON.stringify(s)} in "${spec}": ports are 1-65535`);
  return n;
}

function range(s: string, spec: string, service: string): { from: number; to: number } {
  const [a, b] = s.split("-");
  const from = portNumber(a!, spec, service), to = b === undefined ? from : portNumber(b, spec, service);
  if (to < from) throw new ComposeError(`service "${service}": invalid port range "${s}" in "${spec}": the end is below the start`);
  return { from, to };
}

/** Short syntax: [IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTO]; ranges of equal length, or
 *  a host range for one container port (one free port of the range). */
export function parseShortPort(spec: string, service: string): PortModel[] {
  let body = spec, proto: "tcp" | "udp" = "tcp";
  const slash = body.lastIndexOf("/");
  if (slash >= 0) {
    const p = body.slice(slash + 1);
    if (p !== "tcp" && p !== "udp") throw new ComposeError(`service "${service}": invalid protocol "${p}" in port "${spec}" (tcp or udp)`);
    proto = p;
    body = body.slice(0, slash);
  }
  const parts = body.split(":");
  if (parts.length > 3) throw new ComposeError(`service "${service}": invalid port "${spec}": use [IP:][HOST:]CONTAINER[/PROTO]`);
  const ctrPart = parts.pop()!;
  const hostPart = parts.pop();
  const hostIp = parts.pop() ?? "0.0.0.0";
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(hostIp)) throw new ComposeError(`service "${service}": invalid host IP "${hostIp}" in port "${spec}"`);
  const ctr = range(ctrPart, spec, service);
  const ctrCount = ctr.to - ctr.from + 1;
  if (!hostPart) return Array.from({ length: ctrCount }, (_, i) => ({ hostIp, host: null, container: ctr.from + i, proto }));
  const host = range(hostPart, spec, service);
  const hostCount = host.to - host.from + 1;
  if (ctrCount === 1) return [{ hostIp, host, container: ctr.from, proto }];
  if (hostCount !== ctrCount) {
    throw new ComposeError(`service "${service}": invalid port range "${spec}": the host range ${hostPart} has ${hostCount} ports and the container range ${ctrPart} has ${ctrCount}; they must be of equal length`);
  }
  return Array.from({ length: ctrCount }, (_, i) => ({ hostIp, host: { from: host.from + i, to: host.from + i }, container: ctr.from + i, proto }));
}

function ports(v: unknown, service: string): PortModel[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((p): PortModel[] => {
    if (!isObj(p)) return parseShortPort(String(p), service);
    const target = portNumber(String(p.target), `target: ${p.target}`, service);
    const published = str(p.published);
    const proto = (str(p.protocol) ?? "tcp") as "tcp" | "udp";
    if (proto !== "tcp" && proto !== "udp") throw new ComposeError(`service "${service}": invalid protocol "${proto}" (tcp or udp)`);
    return [{ hostIp: str(p.host_ip) ?? "0.0.0.0", host: published ? range(published, `published: ${published}`, service) : null, container: target, proto }];
  });
}

function volumes(v: unknown, service: string, projectDir: string, declared: Set<string>): VolumeModel[] {
  if (!Array.isArray(v)) return [];
  return v.map((entry): VolumeModel => {
    let type: VolumeModel["type"], source: string, target: string, readOnly = false;
    if (isObj(entry)) {
      type = (str(entry.type) ?? "volume") as VolumeModel["type"];
      source = str(entry.source) ?? "";
      target = str(entry.target) ?? "";
      readOnly = entry.read_only === true;
      if (type !== "bind" && type !== "volume" && type !== "tmpfs") throw new ComposeError(`service "${service}": volume type "${type}" is not supported (bind, volume, tmpfs)`);
    } else {
      const parts = String(entry).split(":");
      if (parts.length === 1) { type = "volume"; source = ""; target = parts[0]!; }
      else {
        source = parts[0]!;
        target = parts[1]!;
        const mode = parts[2] ?? "";
        readOnly = mode.split(",").includes("ro");
        type = source.startsWith(".") || source.startsWith("/") || source.startsWith("~") ? "bind" : "volume";
      }
    }
    if (!target.startsWith("/")) throw new ComposeError(`service "${service}": volume target "${target}" must be an absolute path`);
    if (type === "bind") {
      if (source.startsWith("~")) source = join(process.env.HOME ?? "/root", source.slice(1));
      source = isAbsolute(source) ? source : resolve(projectDir, source);
    } else if (type === "volume" && source !== "" && !declared.has(source)) {
      throw new ComposeError(`service "${service}" refers to undefined volume ${source}: invalid compose project`);
    }
    return { type, source, target, readOnly };
  });
}

function dependsOn(v: unknown): Record<string, DependsOn> {
  const out: Record<string, DependsOn> = {};
  if (Array.isArray(v)) for (const s of v.map(String)) out[s] = { condition: "service_started", required: true, restart: false };
  else if (isObj(v)) {
    for (const [s, d] of Object.entries(v)) {
      const o = isObj(d) ? d : {};
      out[s] = { condition: (str(o.condition) ?? "service_started") as DependsOn["condition"], required: o.required !== false, restart: o.restart === true };
    }
  }
  return out;
}

function health(v: unknown): HealthRequest | undefined {
  if (!isObj(v)) return undefined;
  if (v.disable === true) return { disable: true };
  const test = v.test === undefined ? undefined : Array.isArray(v.test) ? v.test.map(String) : ["CMD-SHELL", String(v.test)];
  return { test, interval: str(v.interval), timeout: str(v.timeout), startPeriod: str(v.start_period), retries: v.retries === undefined ? undefined : Number(v.retries) };
}

function envFiles(v: unknown, service: string, projectDir: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  const list = Array.isArray(v) ? v : [v];
  const out: Record<string, string> = {};
  for (const e of list) {
    const path = isObj(e) ? String(e.path) : String(e);
    const required = isObj(e) ? e.required !== false : true;
    const file = resolve(projectDir, path);
    if (!existsSync(file)) {
      if (!required) continue;
      throw new ComposeError(`service "${service}": env file ${file} not found: stat ${file}: no such file or directory`);
    }
    Object.assign(out, parseDotEnv(readFileSync(file, "utf8"), file));
  }
  return out;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)];
}

/** `build:` as a string (the context) or a map; relative paths against the project directory. */
function buildModel(v: unknown, service: string, projectDir: string, hostEnv: Record<string, string | undefined>, warn: (m: string) => void): BuildModel | undefined {
  if (v === undefined || v === null) return undefined;
  const o: Raw = typeof v === "string" ? { context: v } : isObj(v) ? v : {};
  const known = new Set(["context", "dockerfile", "args", "target", "labels"]);
  for (const k of Object.keys(o)) if (!known.has(k) && !k.startsWith("x-")) warn(`service "${service}": key "build.${k}" is not supported by berth compose and is ignored`);
  const context = resolve(projectDir, str(o.context) ?? ".");
  if (!existsSync(context)) throw new ComposeError(`service "${service}": build context ${context} not found: no such file or directory`);
  const dockerfile = str(o.dockerfile);
  return {
    context, ...(dockerfile ? { dockerfile: resolve(context, dockerfile) } : {}),
    args: keyValues(o.args, hostEnv), ...(str(o.target) ? { target: str(o.target)! } : {}), labels: keyValues(o.labels),
  };
}

/** One service, normalised; warnings for keys berth does not run. */
/** A service's `secrets:` or `configs:` list (short names, or {source, target, uid, gid, mode}). */
function fileMounts(kind: "secret" | "config", v: unknown, service: string, declared: Set<string>, warn: (m: string) => void): FileMount[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ComposeError(`service "${service}": ${kind}s must be a list`);
  return v.map((e): FileMount => {
    const o: Raw = isObj(e) ? e : { source: e };
    const source = str(o.source) ?? "";
    if (!declared.has(source)) throw new ComposeError(`service "${service}" refers to undefined ${kind} ${source}: invalid compose project`);
    for (const k of ["uid", "gid", "mode"]) {
      if (o[k] !== undefined) warn(`service "${service}": ${kind} ${source}: "${k}" needs a swarm and is ignored (the file is mounted read-only as it is on the host)`);
    }
    const t = str(o.target) ?? source;
    const target = t.startsWith("/") ? t : kind === "secret" ? `/run/secrets/${t}` : `/${t}`;
    if (target.split("/").includes("..")) throw new ComposeError(`service "${service}": ${kind} target "${t}" must not contain ".."`);
    return { kind, source, target };
  });
}

export function normaliseService(name: string, raw: Raw, ctx: { project: string; projectDir: string; hostEnv: Record<string, string | undefined>; networks: Set<string>; volumes: Set<string>; secrets: Set<string>; configs: Set<string>; warn: (m: string) => void }): ServiceModel {
  for (const k of Object.keys(raw)) {
    if (!SUPPORTED_SERVICE_KEYS.has(k) && !k.startsWith("x-")) ctx.warn(`service "${name}": key "${k}" is not supported by berth compose and is ignored`);
  }
  if (raw.image === undefined && raw.build === undefined) throw new ComposeError(`service "${name}" has neither an image nor a build context specified: invalid compose project`);
  const build = buildModel(raw.build, name, ctx.projectDir, ctx.hostEnv, ctx.warn);
  const policy = str(raw.pull_policy) ?? "missing";
  // docker compose's spellings: if_not_present is missing's old name.
  const pullPolicy = (policy === "if_not_present" ? "missing" : policy) as PullPolicy;
  if (!["always", "missing", "never", "build"].includes(pullPolicy)) throw new ComposeError(`service "${name}": invalid pull_policy "${policy}": use always, missing, never or build`);
  if (pullPolicy === "build" && !build) throw new ComposeError(`service "${name}": pull_policy build needs a build section`);
  const deploy = isObj(raw.deploy) ? raw.deploy : {};
  for (const k of Object.keys(deploy)) if (k !== "replicas" && k !== "resources") ctx.warn(`service "${name}": key "deploy.${k}" is not supported by berth compose and is ignored`);
  const limits = isObj(deploy.resources) && isObj(deploy.resources.limits) ? deploy.resources.limits : {};
  const replicas = Number(deploy.replicas ?? raw.scale ?? 1);
  let networks: Record<string, { aliases: string[]; ipv4Address?: string }> = {};
  const networkMode = str(raw.network_mode);
  if (networkMode === undefined) {
    if (Array.isArray(raw.networks)) for (const n of raw.networks.map(String)) networks[n] = { aliases: [] };
    else if (isObj(raw.networks)) {
      for (const [n, o] of Object.entries(raw.networks)) {
        const ip = isObj(o) ? str(o.ipv4_address) : undefined;
        networks[n] = { aliases: isObj(o) ? stringList(o.aliases) : [], ...(ip ? { ipv4Address: ip } : {}) };
      }
    }
    else networks = { default: { aliases: [] } };
    for (const n of Object.keys(networks)) {
      if (!ctx.networks.has(n)) throw new ComposeError(`service "${name}" refers to undefined network ${n}: invalid compose project`);
    }
  } else if (raw.networks !== undefined) throw new ComposeError(`service "${name}": network_mode and networks cannot be combined`);
  const environment = { ...envFiles(raw.env_file, name, ctx.projectDir), ...keyValues(raw.environment, ctx.hostEnv) };
  const grace = str(raw.stop_grace_period);
  return {
    name,
    image: raw.image === undefined ? `${ctx.project}-${name}`.toLowerCase() : String(raw.image),
    customImage: raw.image !== undefined,
    ...(build ? { build } : {}),
    pullPolicy,
    command: argv(raw.command),
    entrypoint: argv(raw.entrypoint),
    environment,
    ports: ports(raw.ports, name),
    expose: stringList(raw.expose),
    volumes: volumes(raw.volumes, name, ctx.projectDir, ctx.volumes),
    files: [...fileMounts("secret", raw.secrets, name, ctx.secrets, ctx.warn), ...fileMounts("config", raw.configs, name, ctx.configs, ctx.warn)],
    networks,
    networkMode,
    // network_mode service:X joins X's container: X is started first, as if depended on
    dependsOn: networkMode?.startsWith("service:") ? { [networkMode.slice(8)]: { condition: "service_started", required: true, restart: false }, ...dependsOn(raw.depends_on) } : dependsOn(raw.depends_on),
    health: health(raw.healthcheck),
    restart: str(raw.restart),
    containerName: str(raw.container_name),
    labels: keyValues(raw.labels),
    replicas,
    user: str(raw.user),
    workingDir: str(raw.working_dir),
    hostname: str(raw.hostname),
    domainname: str(raw.domainname),
    memLimit: str(raw.mem_limit ?? limits.memory),
    memswapLimit: str(raw.memswap_limit),
    cpus: str(raw.cpus ?? limits.cpus),
    cpuShares: str(raw.cpu_shares),
    pidsLimit: str(raw.pids_limit ?? limits.pids),
    capAdd: stringList(raw.cap_add),
    capDrop: stringList(raw.cap_drop),
    privileged: raw.privileged === true,
    readOnly: raw.read_only === true,
    init: raw.init === true,
    stopSignal: str(raw.stop_signal),
    stopGraceSeconds: grace === undefined ? undefined : Math.ceil((require("../image/duration.ts") as typeof import("../image/duration.ts")).parseGoDuration(grace)! / 1000),
    extraHosts: Array.isArray(raw.extra_hosts) ? raw.extra_hosts.map((h) => String(h).replace("=", ":")) : Object.entries(isObj(raw.extra_hosts) ? raw.extra_hosts : {}).map(([h, ip]) => `${h}:${String(ip)}`),
    dns: stringList(raw.dns),
    sysctls: Array.isArray(raw.sysctls) ? raw.sysctls.map(String) : Object.entries(isObj(raw.sysctls) ? raw.sysctls : {}).map(([k, v]) => `${k}=${String(v)}`),
    securityOpt: stringList(raw.security_opt),
    tmpfs: stringList(raw.tmpfs),
    tty: raw.tty === true,
    stdinOpen: raw.stdin_open === true,
  };
}

/** Services in dependency order (each after what it depends on); a cycle is an error naming it. */
export function dependencyOrder(services: ServiceModel[]): ServiceModel[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  for (const s of services) {
    for (const d of Object.keys(s.dependsOn)) {
      if (!byName.has(d) && s.dependsOn[d]!.required) throw new ComposeError(`service "${s.name}" depends on undefined service "${d}": invalid compose project`);
    }
  }
  const out: ServiceModel[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (s: ServiceModel, path: string[]) => {
    const st = state.get(s.name);
    if (st === "done") return;
    if (st === "visiting") {
      const cycle = [...path.slice(path.indexOf(s.name)), s.name];
      throw new ComposeError(`dependency cycle detected: ${cycle.join(" -> ")}`);
    }
    state.set(s.name, "visiting");
    for (const d of Object.keys(s.dependsOn)) {
      const dep = byName.get(d);
      if (dep) visit(dep, [...path, s.name]);
    }
    state.set(s.name, "done");
    out.push(s);
  };
  for (const s of services) visit(s, []);
  return out;
}
