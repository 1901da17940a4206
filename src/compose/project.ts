// `berth compose`'s operations on the engine library: up (idempotent by config hash, dependency
// order, conditions), down, ps, logs, exec, run, start/stop/restart/kill/rm, port, ls. The CLI
// (cli/berth/compose.ts) only parses and prints.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ContainerRow, type ContainerView, type CreateRequest, type Engine, EngineError, containerLogs, execProcess, parseSignal, portsText, statusText,
} from "../engine/index.ts";
import { openNetworks } from "../network/index.ts";
import { type BuildOut, buildService, hasImage } from "./build.ts";
import { pullService } from "./pull.ts";
import { L, configHash, containerLabels } from "./labels.ts";
import { ComposeError, type PortModel, type ProjectModel, type ServiceModel } from "./model.ts";

export interface Out {
  /** Progress and results, one line each (stderr in docker compose's case). */
  progress: (line: string) => void;
  out: (text: string) => void;
}

// ---- what exists ----

/** Every container of the project (one-offs too), by label. */
export function projectContainers(engine: Engine, project: string, opts: { oneoff?: boolean } = {}): ContainerView[] {
  return engine.list().filter((v) => v.row.config.labels[L.project] === project && (opts.oneoff === undefined || (v.row.config.labels[L.oneoff] === "True") === opts.oneoff));
}

function serviceContainers(engine: Engine, project: string, service: string): ContainerView[] {
  return projectContainers(engine, project, { oneoff: false }).filter((v) => v.row.config.labels[L.service] === service)
    .sort((a, b) => number(a.row) - number(b.row));
}

const number = (r: ContainerRow) => Number(r.config.labels[L.number] ?? 0);

function selected(p: ProjectModel, names: string[]): ServiceModel[] {
  for (const n of names) if (!p.services.some((s) => s.name === n)) throw new ComposeError(`no such service: ${n}`);
  return names.length ? p.services.filter((s) => names.includes(s.name)) : p.services;
}

// ---- networks and volumes ----

function ensureNetworks(engine: Engine, p: ProjectModel, out: Out): void {
  if (p.networks.length === 0) return;
  const mgr = openNetworks(engine.root, engine.opts.network ?? {});
  try {
    const have = new Set(mgr.list().map((n) => n.name));
    // Every external network checked before any network is made: a refused up makes nothing.
    const missing = p.networks.find((n) => n.external && !have.has(n.name));
    if (missing) throw new ComposeError(`network ${missing.name} declared as external, but could not be found`);
    for (const n of p.networks) {
      if (have.has(n.name)) continue;
      mgr.create({ name: n.name, subnet: n.subnet, gateway: n.gateway, internal: n.internal, labels: { ...n.labels, [L.project]: p.name, [L.network]: n.key } });
      out.progress(` Network ${n.name}  Created`);
    }
  } finally {
    mgr.close();
  }
}

function removeNetworks(engine: Engine, p: ProjectModel, out: Out): void {
  if (!existsSync(`${engine.root}/network`)) return;
  const mgr = openNetworks(engine.root, engine.opts.network ?? {});
  try {
    const have = new Set(mgr.list().map((n) => n.name));
    // The default network even when no service uses it now (an older file may have made it).
    const names = new Set([...p.networks.filter((n) => !n.external).map((n) => n.name), `${p.name}_default`]);
    for (const name of names) {
      if (!have.has(name)) continue;
      mgr.remove(name);
      out.progress(` Network ${name}  Removed`);
    }
  } finally {
    mgr.close();
  }
}

function ensureVolumes(engine: Engine, p: ProjectModel, out: Out): void {
  const missing = p.volumes.find((v) => v.external && !engine.volumes.list().some((x) => x.name === v.name));
  if (missing) throw new ComposeError(`external volume "${missing.name}" not found`);
  for (const v of p.volumes) {
    const exists = engine.volumes.list().some((x) => x.name === v.name);
    if (exists) continue;
    if (v.external) throw new ComposeError(`external volume "${v.name}" not found`);
    engine.volumes.create(v.name, { ...v.labels, [L.project]: p.name, [L.volume]: v.key });
    out.progress(` Volume "${v.name}"  Created`);
  }
}

// ---- the create request of one container ----

/** -p specs for the engine, in docker's grammar: a host range for one container port is the
 *  engine's to resolve (one free port of it per container, at start, under the host-wide lock). */
function publishSpecs(s: ServiceModel): string[] {
  return s.ports.map((pm: PortModel) => {
    const proto = `/${pm.proto}`;
    if (!pm.host) return `${pm.hostIp}::${pm.container}${proto}`;
    const host = pm.host.from === pm.host.to ? `${pm.host.from}` : `${pm.host.from}-${pm.host.to}`;
    return `${pm.hostIp}:${host}:${pm.container}${proto}`;
  });
}

function networkOf(p: ProjectModel, s: ServiceModel): string {
  if (s.networkMode !== undefined) {
    const other = networkService(p, s);
    // the first container of that service (the engine stores the ID it resolves the name to)
    return other ? `container:${containerName(p, other, 1)}` : s.networkMode;
  }
  return Object.keys(s.networks).map((k) => p.networks.find((n) => n.key === k)!.name).join(",");
}

export interface ContainerPlan {
  name: string; number: number; oneoff: boolean;
  /** "secret:KEY" / "config:KEY" → the host file mounted (ensureFiles) */
  files: Map<string, string>; cmd?: string[]; rm?: boolean; entrypoint?: string; env?: string[]; noPorts?: boolean; tty?: boolean; interactive?: boolean }

export function createRequestFor(p: ProjectModel, s: ServiceModel, c: ContainerPlan): CreateRequest {
  const volumeName = (key: string) => p.volumes.find((v) => v.key === key)!.name;
  const mounts = s.volumes.filter((v) => v.type !== "tmpfs").map((v) => `${v.type === "volume" && v.source ? volumeName(v.source) : v.source}${v.source ? ":" : ""}${v.target}${v.readOnly ? ":ro" : ""}`);
  for (const f of s.files) {
    const src = c.files.get(`${f.kind}:${f.source}`);
    if (src === undefined) throw new ComposeError(`service "${s.name}": ${f.kind} ${f.source} was not prepared`);
    mounts.push(`${src}:${f.target}:ro`);
  }
  let entrypoint: string | undefined;
  let args: string[] = c.cmd ?? s.command ?? [];
  if (c.entrypoint !== undefined) entrypoint = c.entrypoint;
  else if (s.entrypoint !== undefined) {
    // docker's --entrypoint is one program: the rest of compose's entrypoint list leads the args
    // (and, as compose does, an entrypoint without a command clears the image's Cmd).
    entrypoint = s.entrypoint[0] ?? "";
    args = [...s.entrypoint.slice(1), ...args];
  }
  return {
    image: s.image, name: c.name, args, entrypoint,
    env: [...Object.entries(s.environment).map(([k, v]) => `${k}=${v}`), ...(c.env ?? [])],
    workdir: s.workingDir, user: s.user, hostname: s.hostname, domainname: s.domainname,
    tty: c.tty ?? s.tty, interactive: c.interactive ?? s.stdinOpen, rm: c.rm,
    restart: c.oneoff ? undefined : s.restart,
    labels: Object.entries(containerLabels(p, s, c.number, c.oneoff)).map(([k, v]) => `${k}=${v}`),
    volumes: mounts, tmpfs: [...s.tmpfs, ...s.volumes.filter((v) => v.type === "tmpfs").map((v) => v.target)], readOnly: s.readOnly,
    memory: s.memLimit, memorySwap: s.memswapLimit, cpus: s.cpus, cpuShares: s.cpuShares, pidsLimit: s.pidsLimit,
    capAdd: s.capAdd, capDrop: s.capDrop, privileged: s.privileged, securityOpt: s.securityOpt, init: s.init,
    network: networkOf(p, s), networkAliases: [s.name, ...Object.values(s.networks).flatMap((n) => n.aliases)],
    ips: Object.fromEntries(Object.entries(s.networks).filter(([, n]) => n.ipv4Address).map(([k, n]) => [p.networks.find((x) => x.key === k)!.name, n.ipv4Address!])),
    publish: c.noPorts ? [] : publishSpecs(s), stopSignal: s.stopSignal,
    stopTimeout: s.stopGraceSeconds === undefined ? undefined : String(s.stopGraceSeconds),
    sysctls: s.sysctls, addHosts: s.extraHosts, dns: s.dns, health: s.health,
  };
}

function containerName(p: ProjectModel, s: ServiceModel, n: number): string {
  return s.containerName ?? `${p.name}-${s.name}-${n}`;
}

// ---- up ----

export interface UpOptions {
  services?: string[];
  scale?: Record<string, number>;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  removeOrphans?: boolean;
  /** Wait for every service to be running (and healthy where it has a healthcheck). */
  wait?: boolean;
  /** --build: build every service with a build section first; --no-build: build none (a missing image is an error). */
  build?: boolean;
  noBuild?: boolean;
  /** Where a build's step output goes. */
  buildOutput?: (text: string) => void;
  /** `compose create`: make the containers, start none. */
  noStart?: boolean;
  signal?: AbortSignal;
}

/** The services to bring up: those named and what they depend on. */
function withDependencies(p: ProjectModel, names: string[]): ServiceModel[] {
  if (names.length === 0) return p.services;
  const want = new Set<string>();
  const add = (n: string) => {
    if (want.has(n)) return;
    const s = p.services.find((x) => x.name === n);
    if (!s) throw new ComposeError(`no such service: ${n}`);
    want.add(n);
    for (const d of Object.keys(s.dependsOn)) if (p.services.some((x) => x.name === d)) add(d);
  };
  names.forEach(add);
  return p.services.filter((s) => want.has(s.name)); // p.services is in dependency order
}

async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new ComposeError("canceled");
  await Bun.sleep(ms);
}

/** docker compose's conditions: started, healthy (its healthcheck passed), completed with status 0. */
async function waitFor(engine: Engine, p: ProjectModel, s: ServiceModel, out: Out, signal?: AbortSignal): Promise<void> {
  for (const [dep, d] of Object.entries(s.dependsOn)) {
    const ds = p.services.find((x) => x.name === dep);
    if (!ds) continue;
    if (d.condition === "service_started") continue;
    for (const v of serviceContainers(engine, p.name, dep)) {
      const name = v.row.name;
      if (d.condition === "service_healthy") {
        if (!v.row.config.healthcheck) throw new ComposeError(`dependency failed to start: container ${name} has no healthcheck configured`);
        out.progress(` Container ${name}  Waiting`);
        for (;;) {
          const now = engine.observe(engine.find(v.row.id));
          if (!now.running) throw new ComposeError(`dependency failed to start: container ${name} exited (${now.exitCode ?? 0})`);
          if (now.health === "healthy") break;
          if (now.health === "unhealthy") throw new ComposeError(`dependency failed to start: container ${name} is unhealthy`);
          await sleep(100, signal);
        }
        out.progress(` Container ${name}  Healthy`);
      } else {
        out.progress(` Container ${name}  Waiting`);
        const code = await engine.waitExit(v.row.id, signal);
        if (code !== 0) throw new ComposeError(`service "${dep}" didn't complete successfully: exit ${code}`);
        out.progress(` Container ${name}  Exited`);
      }
    }
  }
}

async function removeContainer(engine: Engine, row: ContainerRow, volumes = false): Promise<void> {
  if (engine.observe(row).running) await engine.stop(row.id, row.config.stopTimeout);
  await engine.remove(row.id, { force: true, volumes });
}

/** Levels of the dependency graph: each service in the first level after all it depends on. */
function levels(services: ServiceModel[]): ServiceModel[][] {
  const level = new Map<string, number>();
  for (const s of services) { // services are in dependency order
    const deps = Object.keys(s.dependsOn).filter((d) => level.has(d));
    level.set(s.name, deps.length ? Math.max(...deps.map((d) => level.get(d)!)) + 1 : 0);
  }
  const out: ServiceModel[][] = [];
  for (const s of services) (out[level.get(s.name)!] ??= []).push(s);
  return out;
}

/** The service whose container a `network_mode: service:X` service joins (null for other modes). */
function networkService(p: ProjectModel, s: ServiceModel): ServiceModel | null {
  if (!s.networkMode?.startsWith("service:")) return null;
  const key = s.networkMode.slice("service:".length);
  const other = p.services.find((x) => x.name === key);
  if (!other) throw new ComposeError(`service "${s.name}": network_mode ${s.networkMode} names no service of this project`);
  return other;
}

/** One service up: its dependencies' conditions met, then each replica kept, started, recreated or made. */
async function upService(engine: Engine, p: ProjectModel, s: ServiceModel, files: Map<string, string>, opts: UpOptions, out: Out): Promise<ContainerRow[]> {
  const rows: ContainerRow[] = [];
  const replicas = opts.scale?.[s.name] ?? s.replicas;
  if (s.containerName && replicas > 1) throw new ComposeError(`service "${s.name}": container_name "${s.containerName}" names one container; it cannot be scaled to ${replicas}`);
  await waitFor(engine, p, s, out, opts.signal);
  const hash = configHash(s);
  const existing = serviceContainers(engine, p.name, s.name);
  for (const v of existing.filter((x) => number(x.row) > replicas)) {
    await removeContainer(engine, v.row);
    out.progress(` Container ${v.row.name}  Removed`);
  }
  for (let n = 1; n <= replicas; n++) {
    const have = existing.find((x) => number(x.row) === n);
    const name = containerName(p, s, n);
    // A rebuilt (or newly pulled) image recreates the container, as docker compose does.
    const sameImage = have?.row.config.imageId === engine.resolveImage(s.image).id;
    // a container in another's network namespace is made again when that one was (its old
    // namespace would keep it apart from the new container), as docker compose does
    const joins = networkService(p, s);
    const sameNetns = !joins || !have || have.row.config.network === `container:${serviceContainers(engine, p.name, joins.name).find((x) => number(x.row) === 1)?.row.id}`;
    if (have && (opts.noRecreate || (!opts.forceRecreate && sameImage && sameNetns && have.row.config.labels[L.hash] === hash))) {
      if (!engine.observe(engine.find(have.row.id)).running && !opts.noStart) {
        await engine.start(have.row.id);
        out.progress(` Container ${name}  Started`);
      } else out.progress(` Container ${name}  Running`);
      rows.push(have.row);
      continue;
    }
    if (have) {
      await removeContainer(engine, have.row);
      out.progress(` Container ${name}  Recreated`);
    }
    const row = await engine.create(createRequestFor(p, s, { name, number: n, oneoff: false, files }));
    if (!have) out.progress(` Container ${name}  Created`);
    if (!opts.noStart) {
      await engine.start(row.id);
      out.progress(` Container ${name}  Started`);
    }
    rows.push(row);
  }
  return rows;
}

/**
 * The services' images as `up` needs them: built where --build, pull_policy build or a missing
 * image with a build section says so; pulled where pull_policy always says so, or missing says so
 * and there is nothing to build; never: used as it is (a missing one is create's error).
 */
async function ensureImages(engine: Engine, p: ProjectModel, services: ServiceModel[], opts: { build?: boolean; noBuild?: boolean }, out: BuildOut): Promise<void> {
  for (const s of services) {
    const canBuild = s.build !== undefined && !opts.noBuild;
    if (canBuild && (opts.build || s.pullPolicy === "build")) await buildService(engine, p, s, {}, out);
    else if (s.pullPolicy === "always" || (s.pullPolicy === "missing" && !hasImage(engine, s.image))) {
      if (s.pullPolicy === "missing" && canBuild) await buildService(engine, p, s, {}, out);
      else if (s.pullPolicy === "always" || !s.build) {
        try {
          await pullService(engine, s, out.progress);
        } catch (e) {
          throw new ComposeError(`service "${s.name}": pulling ${s.image}: ${(e as Error).message}`);
        }
      }
    }
  }
}

/** Brings the project up; returns the containers it runs (for a foreground up's logs). */
/** Where up writes the secrets and configs a project gives as text (down removes it). */
function projectFilesDir(engine: Engine, p: ProjectModel): string {
  return join(engine.root, "compose", p.name);
}

/**
 * The host file of each secret and config the services use: a `file:` as given (it must exist),
 * text (`environment:`, `content:`) written under the project's dir, replaced whole (a container
 * made earlier keeps the file it was given).
 */
function ensureFiles(engine: Engine, p: ProjectModel, services: ServiceModel[]): Map<string, string> {
  const used = new Set(services.flatMap((s) => s.files.map((f) => `${f.kind}:${f.source}`)));
  const files = new Map<string, string>();
  for (const d of p.files) {
    const id = `${d.kind}:${d.key}`;
    if (!used.has(id)) continue;
    if (d.file !== undefined) {
      if (!existsSync(d.file)) throw new ComposeError(`${d.kind} "${d.key}": file ${d.file} not found`);
      files.set(id, d.file);
      continue;
    }
    if (d.content === undefined) throw new ComposeError(`${d.kind} "${d.key}": environment variable ${d.environment} is not set`);
    if (!/^[a-zA-Z0-9._-]+$/.test(d.key) || /^\.+$/.test(d.key)) throw new ComposeError(`${d.kind} name "${d.key}" is not valid (letters, digits, ".", "_", "-")`);
    const dir = join(projectFilesDir(engine, p), `${d.kind}s`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, d.key);
    writeFileSync(`${file}.tmp`, d.content, { mode: 0o444 });
    renameSync(`${file}.tmp`, file);
    files.set(id, file);
  }
  return files;
}

export async function up(engine: Engine, p: ProjectModel, opts: UpOptions, out: Out): Promise<ContainerRow[]> {
  const services = withDependencies(p, opts.services ?? []);
  const orphans = projectContainers(engine, p.name, { oneoff: false }).filter((v) => !p.services.some((s) => s.name === v.row.config.labels[L.service]));
  if (orphans.length) {
    if (opts.removeOrphans) for (const o of orphans) { await removeContainer(engine, o.row); out.progress(` Container ${o.row.name}  Removed`); }
    else out.progress(`WARN[0000] Found orphan containers ([${orphans.map((o) => o.row.name).join(" ")}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.`);
  }
  // Images first: built (--build, pull_policy build, or a build section whose image is missing),
  // then pulled as pull_policy says; what a create would refuse later is refused before anything
  // is made: images, external volumes (checked first in ensureVolumes) and networks.
  await ensureImages(engine, p, services, { build: opts.build, noBuild: opts.noBuild }, { progress: out.progress, buildOutput: opts.buildOutput ?? (() => {}) });
  for (const s of services) engine.resolveImage(s.image);
  const externalVolume = p.volumes.find((v) => v.external && !engine.volumes.list().some((x) => x.name === v.name));
  if (externalVolume) throw new ComposeError(`external volume "${externalVolume.name}" not found`);
  const files = ensureFiles(engine, p, services);
  ensureNetworks(engine, p, out);
  ensureVolumes(engine, p, out);
  const running: ContainerRow[] = [];
  // Services whose dependencies are all up start side by side (one level at a time).
  for (const level of levels(services)) {
    // Every start of the level settles before a failure is reported: none is left half-made.
    const results = await Promise.allSettled(level.map((s) => upService(engine, p, s, files, opts, out)));
    for (const r of results) if (r.status === "fulfilled") running.push(...r.value);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
  if (opts.wait) await waitRunning(engine, running, out, opts.signal);
  return running;
}

/** --wait: every container running, and healthy where it has a healthcheck. */
async function waitRunning(engine: Engine, rows: ContainerRow[], out: Out, signal?: AbortSignal): Promise<void> {
  for (const r of rows) {
    for (;;) {
      const v = engine.observe(engine.find(r.id));
      if (!v.running) throw new ComposeError(`container ${r.name} exited (${v.exitCode ?? 0})`);
      if (!r.config.healthcheck || v.health === "healthy") break;
      if (v.health === "unhealthy") throw new ComposeError(`container ${r.name} is unhealthy`);
      await sleep(100, signal);
    }
    out.progress(` Container ${r.name}  ${r.config.healthcheck ? "Healthy" : "Running"}`);
  }
}

// ---- down and the other lifecycle verbs ----

export async function down(engine: Engine, p: ProjectModel, opts: { volumes?: boolean; removeOrphans?: boolean; timeout?: number; rmi?: "local" | "all" }, out: Out): Promise<void> {
  if (opts.rmi !== undefined && opts.rmi !== "local" && opts.rmi !== "all") throw new ComposeError(`invalid --rmi option "${String(opts.rmi)}": use local or all`);
  const all = projectContainers(engine, p.name);
  const ours = all.filter((v) => opts.removeOrphans || v.row.config.labels[L.oneoff] === "True" || p.services.some((s) => s.name === v.row.config.labels[L.service]));
  const leftovers = all.length - ours.length;
  // Stopped side by side, as docker compose does: a service that ignores SIGTERM (a shell as
  // pid 1) costs its stop timeout once, not once per container.
  await Promise.all(ours.filter((v) => v.running).map(async (v) => {
    await engine.stop(v.row.id, opts.timeout ?? v.row.config.stopTimeout);
    out.progress(` Container ${v.row.name}  Stopped`);
  }));
  for (const v of ours.reverse()) {
    await engine.remove(v.row.id, { force: true, volumes: true });
    out.progress(` Container ${v.row.name}  Removed`);
  }
  if (leftovers === 0) {
    removeNetworks(engine, p, out);
    rmSync(projectFilesDir(engine, p), { recursive: true, force: true });
  }
  else out.progress(`WARN[0000] ${leftovers} orphan container(s) keep the project's networks: use --remove-orphans`);
  if (opts.volumes) {
    for (const v of p.volumes.filter((x) => !x.external)) {
      if (!engine.volumes.list().some((x) => x.name === v.name)) continue;
      engine.volumes.remove(v.name);
      out.progress(` Volume ${v.name}  Removed`);
    }
  }
  if (opts.rmi) {
    // local: the images compose named itself (built, no image: key); all: every service's image.
    const refs = [...new Set(p.services.filter((s) => opts.rmi === "all" || !s.customImage).map((s) => s.image))];
    for (const ref of refs) {
      if (!hasImage(engine, ref)) continue;
      try {
        await engine.images.remove(ref);
        out.progress(` Image ${ref}  Removed`);
      } catch (e) {
        // One image another container still uses does not stop the others' removal.
        out.progress(`WARN[0000] image ${ref}: ${(e as Error).message}`);
      }
    }
  }
}

type Verb = "start" | "stop" | "restart" | "kill" | "rm" | "pause" | "unpause";

export async function lifecycle(engine: Engine, p: ProjectModel, verb: Verb, names: string[], opts: { timeout?: number; signal?: string; force?: boolean; stop?: boolean; volumes?: boolean }, out: Out): Promise<void> {
  const services = selected(p, names);
  const views = (list: ServiceModel[]) => list.flatMap((s) => serviceContainers(engine, p.name, s.name));
  // stop and kill: every container at once (docker compose stops side by side, so one that
  // ignores SIGTERM costs its timeout once); start, restart and rm: in dependency order.
  if (verb === "pause" || verb === "unpause") {
    for (const v of views(services).filter((x) => x.running && (x.status === "paused") === (verb === "unpause"))) {
      if (verb === "pause") await engine.pause(v.row.id);
      else await engine.unpause(v.row.id);
      out.progress(` Container ${v.row.name}  ${verb === "pause" ? "Paused" : "Unpaused"}`);
    }
    return;
  }
  if (verb === "stop" || verb === "kill") {
    await Promise.all(views(services).filter((v) => v.running).map(async (v) => {
      if (verb === "stop") await engine.stop(v.row.id, opts.timeout ?? v.row.config.stopTimeout);
      else await engine.kill(v.row.id, parseSignal(opts.signal ?? "KILL"));
      out.progress(` Container ${v.row.name}  ${verb === "stop" ? "Stopped" : "Killed"}`);
    }));
    return;
  }
  for (const v of views(verb === "rm" ? [...services].reverse() : services)) {
    const name = v.row.name;
    if (verb === "start") {
      if (!v.running) { await engine.start(v.row.id); out.progress(` Container ${name}  Started`); }
    } else if (verb === "restart") {
      if (v.running) await engine.stop(v.row.id, opts.timeout ?? v.row.config.stopTimeout);
      await engine.start(v.row.id);
      out.progress(` Container ${name}  Started`);
    } else {
      if (v.running && !opts.stop) { out.progress(` Container ${name}  Running (not removed: stop it first, or use -s)`); continue; }
      if (v.running) await engine.stop(v.row.id, v.row.config.stopTimeout);
      await engine.remove(v.row.id, { force: true, volumes: opts.volumes });
      out.progress(` Container ${name}  Removed`);
    }
  }
}

// ---- ps, port, ls ----

export interface PsEntry { view: ContainerView; service: string; ports: string }

export function ps(engine: Engine, project: string, opts: { all?: boolean; services?: string[] }): PsEntry[] {
  return projectContainers(engine, project)
    .filter((v) => (opts.all || v.running) && (!opts.services?.length || opts.services.includes(v.row.config.labels[L.service] ?? "")))
    .sort((a, b) => a.row.name.localeCompare(b.row.name))
    .map((view) => ({ view, service: view.row.config.labels[L.service] ?? "", ports: portsText(view) }));
}

/** docker compose ps --format json's object. */
export function psJson(e: PsEntry, project: string): Record<string, unknown> {
  const r = e.view.row;
  return {
    ID: r.id, Name: r.name, Image: r.config.image, Command: [...r.config.entrypoint, ...r.config.cmd].join(" "), Project: project, Service: e.service,
    Created: Math.floor(r.createdAt / 1000), State: e.view.status, Status: statusText(e.view), Health: e.view.health ?? "", ExitCode: e.view.exitCode ?? 0,
    Publishers: r.config.publish.map((x) => ({ URL: x.hostIp, TargetPort: x.containerPort, PublishedPort: x.hostPort, Protocol: x.proto })),
    Labels: r.config.labels,
  };
}

export async function port(engine: Engine, p: ProjectModel, service: string, privatePort: string, opts: { index?: number; protocol?: string }): Promise<string> {
  selected(p, [service]);
  const v = serviceContainers(engine, p.name, service).find((x) => number(x.row) === (opts.index ?? 1));
  if (!v) throw new ComposeError(`service "${service}" has no container ${opts.index ?? 1}`);
  const [portNum, proto = opts.protocol ?? "tcp"] = privatePort.split("/");
  const bound = (await engine.publishedPorts(v.row)).find((x) => String(x.containerPort) === portNum && x.proto === proto);
  if (!bound) throw new ComposeError(`no port ${portNum}/${proto} for container ${v.row.name}`);
  return `${bound.hostIp}:${bound.hostPort}`;
}

export interface ProjectListing { name: string; status: string; configFiles: string }

export function listProjects(engine: Engine, all: boolean): ProjectListing[] {
  const byProject = new Map<string, ContainerView[]>();
  for (const v of engine.list()) {
    const name = v.row.config.labels[L.project];
    if (name) byProject.set(name, [...(byProject.get(name) ?? []), v]);
  }
  const out: ProjectListing[] = [];
  for (const [name, views] of [...byProject].sort(([a], [b]) => a.localeCompare(b))) {
    const counts = new Map<string, number>();
    for (const v of views) counts.set(v.status, (counts.get(v.status) ?? 0) + 1);
    if (!all && !counts.has("running")) continue;
    out.push({ name, status: [...counts].map(([s, n]) => `${s}(${n})`).join(", "), configFiles: views[0]!.row.config.labels[L.configFiles] ?? "" });
  }
  return out;
}

/** The services' containers (not one-offs) in dependency order, as top, images and wait see them. */
export function serviceViews(engine: Engine, p: ProjectModel, names: string[]): ContainerView[] {
  return selected(p, names).flatMap((s) => serviceContainers(engine, p.name, s.name));
}

// ---- logs, exec, run ----

/** A sink that writes whole lines, each after the container's prefix. */
function prefixed(prefix: string, write: (s: Uint8Array) => void): (d: Uint8Array) => void {
  let pending = "";
  const dec = new TextDecoder();
  return (d) => {
    pending += dec.decode(d, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    if (lines.length) write(Buffer.from(lines.map((l) => `${prefix}${l}\n`).join("")));
  };
}

export async function logs(engine: Engine, p: ProjectModel, names: string[], opts: { follow?: boolean; tail?: number; timestamps?: boolean; signal?: AbortSignal; colour?: boolean }, write: (fd: 1 | 2, d: Uint8Array) => void): Promise<void> {
  const services = selected(p, names).map((s) => s.name);
  const views = projectContainers(engine, p.name, { oneoff: false }).filter((v) => services.includes(v.row.config.labels[L.service] ?? ""));
  const label = (r: ContainerRow) => `${r.config.labels[L.service]}-${number(r)}`;
  const width = Math.max(0, ...views.map((v) => label(v.row).length));
  const colours = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];
  await Promise.all(views.map((v, i) => {
    const name = label(v.row).padEnd(width);
    const prefix = opts.colour ? `\x1b[${colours[services.indexOf(v.row.config.labels[L.service]!) % colours.length]}m${name}  |\x1b[0m ` : `${name}  | `;
    void i;
    return containerLogs(engine, { container: v.row.id, follow: opts.follow, tail: opts.tail, timestamps: opts.timestamps, signal: opts.signal },
      { stdout: prefixed(prefix, (d) => write(1, d)), stderr: prefixed(prefix, (d) => write(2, d)) });
  }));
}

export async function exec(engine: Engine, p: ProjectModel, service: string, cmd: string[], opts: { index?: number; tty?: boolean; interactive?: boolean; user?: string; workdir?: string; env?: string[]; detach?: boolean; privileged?: boolean }): Promise<number> {
  selected(p, [service]);
  const v = serviceContainers(engine, p.name, service).find((x) => number(x.row) === (opts.index ?? 1));
  if (!v || !v.running) throw new ComposeError(`service "${service}" is not running`);
  return execProcess(engine, v.row.id, { cmd, tty: opts.tty, interactive: opts.interactive, user: opts.user, workdir: opts.workdir, env: opts.env, detach: opts.detach, privileged: opts.privileged });
}

/** `compose run`: the one-off container's request (its dependencies brought up first unless noDeps). */
export async function runRequest(engine: Engine, p: ProjectModel, service: string, opts: { build?: boolean; buildOutput?: (text: string) => void; cmd?: string[]; rm?: boolean; noDeps?: boolean; entrypoint?: string; env?: string[]; servicePorts?: boolean; publish?: string[]; tty?: boolean; interactive?: boolean; name?: string }, out: Out): Promise<CreateRequest> {
  const [s] = selected(p, [service]);
  if (!opts.noDeps) {
    const deps = Object.keys(s!.dependsOn).filter((d) => p.services.some((x) => x.name === d));
    if (deps.length) await up(engine, p, { services: deps }, out);
    await waitFor(engine, p, s!, out);
  } else ensureNetworks(engine, p, out);
  ensureVolumes(engine, p, out);
  // The service's own image as up would have it: built or pulled as its build section and pull_policy say.
  await ensureImages(engine, p, [s!], { build: opts.build }, { progress: out.progress, buildOutput: opts.buildOutput ?? (() => {}) });
  const suffix = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("");
  const req = createRequestFor(p, s!, { name: opts.name ?? `${p.name}-${s!.name}-run-${suffix}`, number: 1, oneoff: true, files: ensureFiles(engine, p, [s!]), cmd: opts.cmd?.length ? opts.cmd : undefined, rm: opts.rm, entrypoint: opts.entrypoint, env: opts.env, noPorts: !opts.servicePorts, tty: opts.tty, interactive: opts.interactive });
  if (opts.publish?.length) req.publish = [...(req.publish ?? []), ...opts.publish];
  return req;
}

export { EngineError };
