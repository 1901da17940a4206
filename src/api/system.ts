// System routes: /_ping, /version, /info, /system/df, /events, and the swarm/plugin families a
// standalone engine answers with Docker's own refusals.
import { availableParallelism, hostname, totalmem } from "node:os";
import { readFileSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { API_VERSION, MIN_API_VERSION, type Ctx, type Router } from "./router.ts";
import { ApiError, badRequest, sendJson } from "./http.ts";
import { matchesEvent, type DockerEvent } from "./events.ts";
import { ENGINE_VERSION } from "./version.ts";

const ARCH = process.arch === "x64" ? "amd64" : process.arch;

function kernelVersion(): string {
  try { return readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(); } catch { return ""; }
}

function osName(): string {
  try { return /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "Linux"; } catch { return "Linux"; }
}

function pingHeaders(res: ServerResponse): void {
  res.setHeader("Api-Version", API_VERSION);
  res.setHeader("Ostype", "linux");
  res.setHeader("Docker-Experimental", "false");
  res.setHeader("Builder-Version", "1");
  res.setHeader("Swarm", "inactive");
  res.setHeader("Cache-Control", "no-cache, no-store, must-revalidate");
  res.setHeader("Pragma", "no-cache");
  res.setHeader("Server", `Berth/${ENGINE_VERSION} (linux)`);
}

function ping(ctx: Ctx): void {
  const res = ctx.res!;
  pingHeaders(res);
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.setHeader("Content-Length", "2");
  res.writeHead(200);
  res.end(ctx.req.method === "HEAD" ? undefined : "OK");
}

function version(ctx: Ctx): void {
  const kernel = kernelVersion();
  sendJson(ctx.res!, 200, {
    Platform: { Name: "Berth" },
    Components: [{ Name: "Engine", Version: ENGINE_VERSION, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: "", GoVersion: `bun${Bun.version}`, Os: "linux", Arch: ARCH, KernelVersion: kernel, Experimental: "false", BuildTime: "" } }],
    Version: ENGINE_VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: "",
    GoVersion: `bun${Bun.version}`,
    Os: "linux",
    Arch: ARCH,
    KernelVersion: kernel,
    BuildTime: "",
  });
}

async function info(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const views = engine.list();
  const { detectLayout } = await import("../cgroups/index.ts");
  let layout = "";
  try { layout = String(detectLayout()); } catch { /* no cgroups */ }
  sendJson(ctx.res!, 200, {
    ID: "berth",
    Containers: views.length,
    ContainersRunning: views.filter((v) => v.running && v.status !== "paused").length,
    ContainersPaused: views.filter((v) => v.status === "paused").length,
    ContainersStopped: views.filter((v) => !v.running).length,
    Images: engine.images.list().length,
    Driver: "overlay2",
    DriverStatus: [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
    Plugins: { Volume: ["local"], Network: ["bridge", "host", "none"], Authorization: null, Log: ["json-file"] },
    MemoryLimit: true, SwapLimit: true, CpuCfsPeriod: true, CpuCfsQuota: true, CPUShares: true, CPUSet: true, PidsLimit: true,
    IPv4Forwarding: true, BridgeNfIptables: true, BridgeNfIp6tables: true, Debug: false, OomKillDisable: false,
    NFd: 0, NGoroutines: 0, SystemTime: new Date().toISOString(), LoggingDriver: "json-file",
    CgroupDriver: "cgroupfs", CgroupVersion: layout === "unified" ? "2" : "1",
    NEventsListener: 0, KernelVersion: kernelVersion(), OperatingSystem: osName(), OSVersion: "", OSType: "linux", Architecture: process.arch === "x64" ? "x86_64" : process.arch,
    IndexServerAddress: "https://index.docker.io/v1/", RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] },
    NCPU: availableParallelism(), MemTotal: totalmem(), GenericResources: null, DockerRootDir: engine.root,
    HttpProxy: "", HttpsProxy: "", NoProxy: "", Name: hostname(), Labels: [], ExperimentalBuild: false,
    ServerVersion: ENGINE_VERSION, Runtimes: { "berth-runtime": { path: "berth-runtime" } }, DefaultRuntime: "berth-runtime",
    Swarm: { NodeID: "", NodeAddr: "", LocalNodeState: "inactive", ControlAvailable: false, Error: "", RemoteManagers: null },
    LiveRestoreEnabled: true, Isolation: "", InitBinary: "tini", ContainerdCommit: { ID: "" }, RuncCommit: { ID: "" }, InitCommit: { ID: "" },
    SecurityOptions: ["name=seccomp,profile=builtin"], Warnings: [],
  });
}

function fileSize(p: string): number {
  try { return statSync(p).size; } catch { return 0; }
}

async function df(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const { dirSize } = await import("../engine/volumes.ts");
  const views = engine.list();
  const used = new Map<string, number>();
  for (const v of views) used.set(v.row.config.imageId, (used.get(v.row.config.imageId) ?? 0) + 1);
  const { familiarName } = await import("../image/reference.ts");
  const { containerSummary } = await import("./containers.ts");
  sendJson(ctx.res!, 200, {
    LayersSize: engine.images.list().reduce((a, i) => a + i.size, 0),
    Images: engine.images.list().map((i) => ({
      Id: i.id, ParentId: "", RepoTags: i.names.map(familiarName), RepoDigests: i.repoDigests.map(familiarName),
      Created: Math.floor(Date.parse(i.created ?? "") / 1000) || 0, Size: i.size, SharedSize: 0, VirtualSize: i.size,
      Labels: i.config.Labels ?? {}, Containers: used.get(i.id) ?? 0,
    })),
    Containers: await Promise.all(views.map(async (v) => ({ ...(await containerSummary(engine, v)), SizeRw: dirSize(`${engine.paths.container(v.row.id)}/upper`), SizeRootFs: 0 }))),
    Volumes: engine.volumes.list().map((vol) => ({
      ...engine.volumes.info(vol),
      Options: null,
      UsageData: { Size: engine.volumes.sizeOf(vol.name), RefCount: engine.volumes.users(vol.name).length },
    })),
    BuildCache: [],
    LogsSize: views.reduce((a, v) => a + fileSize(engine.paths.log(v.row.id)), 0),
  });
}

/** A time parameter as Docker takes it: seconds since the epoch (fractions allowed), or RFC 3339. */
function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw badRequest(`invalid value for ${name}: ${value}`);
  return t / 1000;
}

async function events(ctx: Ctx): Promise<void> {
  const res = ctx.res!;
  const since = parseTime(ctx.query.str("since"), "since");
  const until = parseTime(ctx.query.str("until"), "until");
  const filters = ctx.query.filters();
  // Headers go out at once, before the first event: clients wait for them (compose's `up`).
  res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
  res.flushHeaders();
  const send = (e: DockerEvent) => {
    if (matchesEvent(e, filters)) res.write(JSON.stringify(e) + "\n");
  };
  if (until !== undefined && until <= Date.now() / 1000) {
    for (const e of ctx.events.between(since ?? 0, until)) send(e);
    res.end();
    return;
  }
  const unsubscribe = ctx.events.subscribe(since, send);
  await new Promise<void>((resolve) => {
    const timer = until !== undefined ? setTimeout(resolve, until * 1000 - Date.now()) : undefined;
    res.on("close", () => { if (timer) clearTimeout(timer); resolve(); });
  });
  unsubscribe();
  if (!res.writableEnded) res.end();
}

const SWARM = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";

function notSwarm(): never {
  throw new ApiError(503, SWARM);
}

export function systemRoutes(r: Router): void {
  r.on("GET", "/_ping", ping);
  r.on("GET", "/version", version);
  r.on("GET", "/info", info);
  r.on("GET", "/system/df", df);
  r.on("GET", "/events", events);
  for (const family of ["swarm", "services", "tasks", "secrets", "configs", "nodes"]) {
    for (const m of ["GET", "POST", "DELETE"]) {
      r.on(m, `/${family}`, notSwarm);
      r.on(m, `/${family}/{rest*}`, notSwarm);
    }
  }
  for (const m of ["GET", "POST", "DELETE"]) {
    r.on(m, "/plugins", () => { throw new ApiError(501, "plugins are not supported by berth"); });
    r.on(m, "/plugins/{rest*}", () => { throw new ApiError(501, "plugins are not supported by berth"); });
    r.on(m, "/session", () => { throw new ApiError(501, "BuildKit sessions are not supported by berth"); });
    r.on(m, "/distribution/{rest*}", () => { throw new ApiError(501, "registry access is not supported by this berth service yet"); });
  }
}
