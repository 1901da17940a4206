// Container routes: create, list, inspect, start/stop/kill/restart/pause/unpause/rename/remove,
// wait, attach, logs, top, stats, resize, changes, export, prune.
import {
  attach, containerChanges, containerLogs, endpointSettings, parseSince, containerTop, exportFiles, matchesFilters, parseSignal, pruneContainers, readExitFile, sampleStats,
  updateContainer, waitExitFile, writeLogs,
  type AttachSession, type ResourceUpdate, type RestartPolicy, type ContainerFilter, type ContainerRow, type ContainerView, type Engine, type StatsSample,
} from "../engine/index.ts";
import { endpointId, openNetworks, predefinedNetworkRecord, type EndpointInfo } from "../network/index.ts";
import { ApiError, badRequest, conflict, noContent, readJson, sendJson } from "./http.ts";
import type { Ctx, Router } from "./router.ts";
import { translateCreate } from "./create.ts";
import { detachFilter, openClientStream, openWebSocketStream, parseDetachKeys } from "./stream.ts";
import { archiveRoutes } from "./archive.ts";
import { execRoutes } from "./exec.ts";

const ZERO_TIME = "0001-01-01T00:00:00Z";

/** The terminal size a create asked for (HostConfig.ConsoleSize), used by the first start. */
const consoleSizes = new Map<string, { height: number; width: number }>();

/** Attaches waiting for their container's start (docker run attaches before it starts). */
const pending = new Map<string, Set<(row: ContainerRow) => Promise<void>>>();

/** The engine keeps the runtime record of a run it started, so the same short-lived command can
 *  tear it down without reading it back. This process lives on while other berth processes
 *  settle, restart and remove its containers: a record kept here would go stale, so teardowns
 *  here read the runtime's state from disk. */
function forgetRuntimeRecord(engine: Engine, id: string): void {
  engine.runtimeRecords.delete(id);
}

function find(ctx: Ctx): ContainerRow {
  return ctx.engine.find(ctx.params.id!);
}

function attrs(row: ContainerRow, extra: Record<string, string> = {}): Record<string, string> {
  return { ...row.config.labels, image: row.config.image, name: row.name, ...extra };
}

/** An endpoint with its network's Docker ID. */
type Endpoint = EndpointInfo & { networkId: string };

/** Every container's endpoints at once (one network store opened per request). */
function endpointsOf(engine: Engine): (id: string) => Endpoint[] {
  let mgr: ReturnType<typeof openNetworks> | null | undefined;
  let ids = new Map<string, string>();
  return (id) => {
    if (mgr === undefined) {
      try {
        mgr = openNetworks(engine.root, engine.opts.network ?? {});
        ids = new Map(mgr.list().map((n) => [n.name, n.id]));
      } catch { mgr = null; }
    }
    if (!mgr) return [];
    try { return mgr.endpoints(id).map((e) => ({ ...e, networkId: ids.get(e.network) ?? "" })); } catch { return []; }
  };
}

function networkEntries(eps: Endpoint[], row: ContainerRow): Record<string, unknown> {
  const nets: Record<string, unknown> = {};
  for (const e of eps) {
    nets[e.network] = endpointSettings(row.config, e.network, { ...e, endpointId: endpointId(e.networkId, e.containerId) }, [row.name, row.id.slice(0, 12)]);
  }
  if (eps.length === 0 && (row.config.network === "none" || row.config.network === "host")) {
    nets[row.config.network] = { NetworkID: predefinedNetworkRecord(row.config.network).Id, EndpointID: "", Gateway: "", IPAddress: "", IPPrefixLen: 0, MacAddress: "" };
  }
  return nets;
}

function portList(row: ContainerRow, bound: { hostIp: string; hostPort: number; containerPort: number; proto: string }[], running: boolean) {
  const out: Record<string, unknown>[] = [];
  if (running) for (const p of bound) out.push({ IP: p.hostIp || "0.0.0.0", PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.proto });
  for (const e of row.config.exposedPorts) {
    const [port, proto = "tcp"] = e.split("/");
    if (!out.some((o) => String(o.PrivatePort) === port && o.Type === proto)) out.push({ PrivatePort: Number(port), Type: proto });
  }
  return out;
}

function commandText(row: ContainerRow): string {
  return [...row.config.entrypoint, ...row.config.cmd].join(" ");
}

/** One entry of GET /containers/json. */
export async function containerSummary(engine: Engine, v: ContainerView, eps: (id: string) => Endpoint[] = endpointsOf(engine)): Promise<Record<string, unknown>> {
  const { statusText } = await import("../engine/index.ts");
  const r = v.row;
  const bound = v.running && r.config.publish.length ? await engine.publishedPorts(r) : r.config.publish;
  return {
    Id: r.id, Names: [`/${r.name}`], Image: r.config.image, ImageID: r.config.imageId, Command: commandText(r),
    Created: Math.floor(r.createdAt / 1000), Ports: portList(r, bound, v.running), Labels: r.config.labels,
    State: v.status, Status: statusText(v), HostConfig: { NetworkMode: r.config.network === "bridge" ? "bridge" : r.config.network },
    NetworkSettings: { Networks: networkEntries(v.running ? eps(r.id) : [], r) },
    Mounts: mountList(engine, r),
  };
}

function mountList(engine: Engine, r: ContainerRow): Record<string, unknown>[] {
  return r.config.mounts.map((m) => ({
    Type: m.kind, ...(m.kind === "volume" ? { Name: m.source, Source: engine.paths.volumeData(m.source), Driver: "local" } : { Source: m.source }),
    Destination: m.destination, Mode: m.readOnly ? "ro" : "", RW: !m.readOnly, Propagation: m.kind === "bind" ? "rprivate" : "",
  }));
}

const FILTER_KEYS = new Set(["id", "name", "status", "exited", "ancestor", "label", "volume", "network"]);

async function list(ctx: Ctx): Promise<void> {
  const { engine, query } = ctx;
  const filters = query.filters();
  const engineFilters: ContainerFilter[] = [];
  for (const [k, values] of Object.entries(filters)) {
    if (k === "before" || k === "since" || k === "health" || k === "is-task" || k === "publish" || k === "expose") continue;
    if (!FILTER_KEYS.has(k)) throw badRequest(`invalid filter '${k}'`);
    for (const v of values) engineFilters.push({ key: k as ContainerFilter["key"], value: v });
  }
  let views = engine.list().reverse();
  const all = query.bool("all");
  const limit = query.int("limit") ?? -1;
  if (!all && limit <= 0) views = views.filter((v) => v.running);
  // Docker's rule: values of one key match if any does (name=a or name=b), except labels, which
  // must all match; different keys must all match.
  const byKey = new Map<string, ContainerFilter[]>();
  for (const f of engineFilters) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f]);
  views = views.filter((v) => [...byKey.entries()].every(([k, fs]) => (k === "label" ? fs.every : fs.some).call(fs, (f) => matchesFilters(v, [f]))));
  for (const k of ["before", "since"] as const) {
    for (const ref of filters[k] ?? []) {
      const at = engine.find(ref).createdAt;
      views = views.filter((v) => (k === "before" ? v.row.createdAt < at : v.row.createdAt > at));
    }
  }
  for (const h of filters.health ?? []) {
    if (!["starting", "healthy", "unhealthy", "none"].includes(h)) throw badRequest(`Unrecognised filter value for health: ${h}`);
  }
  // health: a running container's check status; "none" is a container without one.
  if (filters.health?.length) views = views.filter((v) => filters.health!.includes(v.health ?? (v.row.config.healthcheck ? "" : "none")));
  if (limit > 0) views = views.slice(0, limit);
  const eps = endpointsOf(engine);
  const out = await Promise.all(views.map((v) => containerSummary(engine, v, eps)));
  if (query.bool("size")) {
    const { dirSize } = await import("../engine/volumes.ts");
    for (const o of out) {
      o.SizeRw = dirSize(`${engine.paths.container(String(o.Id))}/upper`);
      o.SizeRootFs = (o.SizeRw as number) + imageSize(engine, String(o.ImageID));
    }
  }
  sendJson(ctx.res!, 200, out);
}

async function inspect(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const { inspectObject } = await import("../engine/index.ts");
  const row = find(ctx);
  const v = engine.observe(row);
  const base = inspectObject(engine, v) as Record<string, Record<string, unknown>>;
  const c = row.config;
  const eps = v.running ? endpointsOf(engine)(row.id) : [];
  const first = eps[0];
  const bound = v.running && c.publish.length ? await engine.publishedPorts(row) : c.publish;
  const ports: Record<string, unknown> = {};
  for (const e of c.exposedPorts) ports[e] = null;
  for (const p of bound) {
    const k = `${p.containerPort}/${p.proto}`;
    ports[k] = v.running ? [...((ports[k] as unknown[] | null) ?? []), { HostIp: p.hostIp || "0.0.0.0", HostPort: String(p.hostPort) }] : null;
  }
  const dir = engine.paths.container(row.id);
  let lowers = "";
  try {
    const img = engine.images.resolve(c.imageId);
    if (img) lowers = engine.images.snapshotDirs(img).join(":");
  } catch { /* image gone */ }
  const exit = v.running ? null : safeExit(engine, row);
  const out = {
    ...base,
    State: { ...base.State, ...(exit?.error ? { Error: exit.error } : {}) },
    Image: c.imageId.startsWith("sha256:") ? c.imageId : `sha256:${c.imageId}`,
    Driver: "overlay2",
    MountLabel: "", ProcessLabel: "", AppArmorProfile: "", ExecIDs: null,
    SizeRw: undefined as number | undefined,
    SizeRootFs: undefined as number | undefined,
    HostConfig: {
      ...base.HostConfig,
      NetworkMode: c.network,
      LogConfig: { Type: "json-file", Config: {} },
      Dns: c.dns ?? [], ExtraHosts: (c.extraHosts ?? []).flatMap((h) => h.names.map((n) => `${n}:${h.ip}`)),
      Sysctls: c.sysctls ?? {},
      PublishAllPorts: false, OomKillDisable: false, ShmSize: 67108864, Runtime: "berth-runtime", Isolation: "",
      Devices: [], Ulimits: null, VolumesFrom: null, Links: null, Mounts: [],
    },
    GraphDriver: { Name: "overlay2", Data: { LowerDir: lowers, UpperDir: `${dir}/upper`, MergedDir: engine.paths.rootfs(row.id), WorkDir: `${dir}/work` } },
    Mounts: mountList(engine, row),
    Config: {
      ...base.Config, AttachStdin: false, AttachStdout: !c.openStdin || true, AttachStderr: true, StdinOnce: c.openStdin,
      Volumes: Object.fromEntries(c.mounts.filter((m) => m.kind === "volume" && m.source.length === 64).map((m) => [m.destination, {}])),
      OnBuild: null,
    },
    NetworkSettings: {
      Bridge: "", SandboxID: v.running ? row.id : "", SandboxKey: v.running ? `/proc/${row.pid}/ns/net` : "", HairpinMode: false,
      LinkLocalIPv6Address: "", LinkLocalIPv6PrefixLen: 0, Ports: ports, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
      EndpointID: first ? endpointId(first.networkId, first.containerId) : "", Gateway: first?.gateway ?? "", GlobalIPv6Address: "", GlobalIPv6PrefixLen: 0,
      IPAddress: first?.ip ?? "", IPPrefixLen: first?.prefixLen ?? 0, IPv6Gateway: "", MacAddress: first?.mac ?? "",
      Networks: networkEntries(eps, row),
    },
  };
  if (ctx.query.bool("size")) {
    const { dirSize } = await import("../engine/volumes.ts");
    out.SizeRw = dirSize(`${dir}/upper`);
    out.SizeRootFs = out.SizeRw + imageSize(engine, c.imageId);
  } else {
    delete out.SizeRw;
    delete out.SizeRootFs;
  }
  sendJson(ctx.res!, 200, out);
}

/** The bytes of a container's image (its layers as stored), 0 when the image is gone. */
function imageSize(engine: Engine, imageId: string): number {
  try { return engine.images.resolve(imageId)?.size ?? 0; } catch { return 0; }
}

function safeExit(engine: Engine, row: ContainerRow) {
  try { return readExitFile(engine.paths.exitFile(row.id)); } catch { return null; }
}

async function create(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx.req);
  const name = ctx.query.str("name");
  if (name !== undefined && name !== "" && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
    throw badRequest(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  const { req, warnings, consoleSize } = translateCreate(body, name || undefined);
  let row: ContainerRow;
  try {
    row = await ctx.engine.create(req);
  } catch (e) {
    const msg = (e as Error).message;
    if (/no such image|not found in the local store|image .* not found|unable to find image/i.test(msg)) throw new ApiError(404, `No such image: ${req.image}`);
    throw e;
  }
  if (consoleSize) {
    consoleSizes.set(row.id, consoleSize);
    if (consoleSizes.size > 256) consoleSizes.delete(consoleSizes.keys().next().value!);
  }
  sendJson(ctx.res!, 201, { Id: row.id, Warnings: warnings });
}

async function start(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = find(ctx);
  const v = engine.observe(row);
  if (v.running) return noContent(ctx.res!, 304);
  const waiting = pending.get(row.id);
  const consoleSize = consoleSizes.get(row.id);
  consoleSizes.delete(row.id);
  await engine.start(row.id, {
    ...(consoleSize && row.config.tty ? { consoleSize } : {}),
    beforeStart: async (r) => {
      if (waiting) await Promise.all([...waiting].map((connect) => connect(r)));
    },
  });
  forgetRuntimeRecord(engine, row.id);
  noContent(ctx.res!);
}

async function stop(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = find(ctx);
  if (!engine.observe(row).running) return noContent(ctx.res!, 304);
  const t = ctx.query.int("t") ?? ctx.query.int("timeout");
  await engine.stop(row.id, t);
  noContent(ctx.res!);
}

async function restart(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = find(ctx);
  if (engine.observe(row).running) await engine.stop(row.id, ctx.query.int("t") ?? ctx.query.int("timeout"));
  await engine.start(row.id);
  forgetRuntimeRecord(engine, row.id);
  ctx.events.emit("container", "restart", row.id, attrs(row));
  noContent(ctx.res!);
}

function kill(ctx: Ctx): void {
  const { engine } = ctx;
  const row = find(ctx);
  const sigText = ctx.query.str("signal") || "KILL";
  let sig: number;
  try { sig = parseSignal(sigText); } catch (e) { throw badRequest((e as Error).message); }
  if (!engine.observe(row).running) throw conflict(`Cannot kill container: ${ctx.params.id}: Container ${row.id} is not running`);
  engine.kill(row.id, sig);
  noContent(ctx.res!);
}

function pause(ctx: Ctx): void {
  const row = find(ctx);
  ctx.engine.pause(row.id);
  noContent(ctx.res!);
}

function unpause(ctx: Ctx): void {
  const row = find(ctx);
  ctx.engine.unpause(row.id);
  noContent(ctx.res!);
}

function rename(ctx: Ctx): void {
  const row = find(ctx);
  const name = ctx.query.str("name");
  if (!name) throw badRequest("rename: the new name is required (name=…)");
  ctx.engine.rename(row.id, name.replace(/^\//, ""));
  noContent(ctx.res!);
}

async function remove(ctx: Ctx): Promise<void> {
  const row = find(ctx);
  if (ctx.query.bool("link")) throw badRequest("links are not supported by berth");
  await ctx.engine.remove(row.id, { force: ctx.query.bool("force"), volumes: ctx.query.bool("v") });
  noContent(ctx.res!);
}

/** Resolves once the container is gone from the store (removed), or the client left. */
async function untilRemoved(engine: Engine, id: string, gone: () => boolean): Promise<void> {
  while (engine.store.get(id) && !gone()) await Bun.sleep(20);
}

async function wait(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const res = ctx.res!;
  const row = find(ctx);
  const condition = ctx.query.str("condition") || "not-running";
  if (!["not-running", "next-exit", "removed"].includes(condition)) throw badRequest(`invalid condition: "${condition}"`);
  let gone = false;
  const ac = new AbortController();
  res.on("close", () => { gone = true; ac.abort(); });
  // The client's request returns when the headers come (the CLI waits for them before it starts
  // the container): they go at once, the result when the container is done.
  res.writeHead(200, { "Content-Type": "application/json" });
  res.flushHeaders();
  let code = 0;
  let error: string | null = null;
  const v = engine.observe(row);
  const old = safeExit(engine, row);
  // not-running: a container not running now (created, exited) answers at once, as Docker's does.
  if (condition === "not-running" && !v.running) {
    code = v.exitCode ?? 0;
  } else {
    // Waits for an exit record newer than the one there now; a container removed meanwhile ends it too.
    const watcher = setInterval(() => { if (!engine.store.get(row.id)) ac.abort(); }, 250);
    try {
      for (;;) {
        const rec = await waitExitFile(engine.paths.exitFile(row.id), ac.signal);
        if (!old || rec.finishedAt !== old.finishedAt || rec.pid !== old.pid) {
          code = rec.startFailed && rec.exitCode < 0 ? 128 : rec.exitCode;
          // A run that never started was reported by the start request already.
          if (rec.error && !rec.startFailed) error = rec.error;
          break;
        }
        await Bun.sleep(50);
      }
    } catch {
      const now = engine.store.get(row.id);
      code = now?.exitCode ?? lastExit.get(row.id) ?? 0;
    } finally {
      clearInterval(watcher);
    }
    // --rm: settle and remove it here, as its monitor's exit hook would (the same engine code,
    // idempotent under the container's lock), rather than wait for that process to start.
    if (row.config.autoRemove) await engine.onExit(row.id).catch(() => {});
    if (condition === "removed") await untilRemoved(engine, row.id, () => gone);
  }
  if (gone) return;
  res.end(JSON.stringify({ StatusCode: code, Error: error ? { Message: error } : null }));
}

/** Exit codes seen by attach/wait, for a wait that finds its container already removed. */
const lastExit = new Map<string, number>();

/** `websocket`: the /attach/ws form (stream.ts: openWebSocketStream), otherwise a hijack or a 200 stream. */
async function attachRoute(ctx: Ctx, websocket = false): Promise<void> {
  const { engine, query } = ctx;
  const row = find(ctx);
  const tty = row.config.tty;
  const wantIn = query.bool("stdin"), wantOut = query.bool("stdout"), wantErr = query.bool("stderr");
  let keys: number[];
  try { keys = parseDetachKeys(query.str("detachKeys")); } catch (e) { throw badRequest((e as Error).message); }
  const cs = websocket ? await openWebSocketStream(ctx) : openClientStream(ctx, tty);
  const deliver = (stream: "stdout" | "stderr", d: Uint8Array) => {
    if ((stream === "stdout" && wantOut) || (stream === "stderr" && wantErr)) cs.out(stream, d);
  };
  if (query.bool("logs")) await writeLogs(engine.paths.log(row.id), {}, { stdout: (d) => deliver("stdout", d), stderr: (d) => deliver("stderr", d) });
  if (!query.bool("stream")) return cs.end();
  ctx.events.emit("container", "attach", row.id, attrs(row));
  await new Promise<void>((done) => {
    let session: AttachSession | null = null;
    let received = 0;
    let startedNs = 0n;
    // Stdin that came before the container runs is kept for it (a pipe into `docker run -i`).
    const early: Buffer[] = [];
    let inputEnded = false;
    const filter = detachFilter(tty ? keys : [], () => { session?.detach(); cs.end(); });
    if (wantIn) {
      cs.onInput((d) => {
        const data = filter(d);
        if (!data.length) return;
        if (session) session.write(data);
        else early.push(data);
      });
      cs.onInputEnd(() => {
        inputEnded = true;
        if (session && !tty) session.closeStdin();
      });
    }
    const connect = async (r: ContainerRow) => {
      startedNs = BigInt(Date.now() - 1000) * 1_000_000n;
      const s = await attach(engine.paths.attachSocket(r.id), {
        tty,
        onOutput: (stream, d) => { received += d.length; deliver(stream, d); },
      });
      session = s;
      for (const d of early) s.write(d);
      if (inputEnded && !tty) s.closeStdin();
      void s.closed.then(async () => {
        // The monitor may take our connection only after the first output went by: then the
        // log has it all.
        if (received === 0 && !cs.gone) {
          try {
            await writeLogs(engine.paths.log(r.id), { since: startedNs }, { stdout: (d) => deliver("stdout", d), stderr: (d) => deliver("stderr", d) });
          } catch { /* removed meanwhile */ }
        }
        const rec = safeExit(engine, r);
        if (rec) {
          lastExit.set(r.id, rec.exitCode);
          if (lastExit.size > 256) lastExit.delete(lastExit.keys().next().value!);
        }
        cs.end();
        done();
      });
    };
    cs.onGone(() => {
      session?.detach();
      unregister();
      done();
    });
    let unregister = () => {};
    if (engine.observe(row).running) {
      connect(row).catch(() => { cs.end(); done(); });
    } else {
      const set = pending.get(row.id) ?? new Set();
      pending.set(row.id, set);
      const hook = async (r: ContainerRow) => {
        unregister();
        await connect(r);
      };
      set.add(hook);
      unregister = () => {
        set.delete(hook);
        if (set.size === 0 && pending.get(row.id) === set) pending.delete(row.id);
      };
    }
  });
}

async function logs(ctx: Ctx): Promise<void> {
  const { engine, query } = ctx;
  const row = find(ctx);
  const wantOut = query.bool("stdout"), wantErr = query.bool("stderr");
  if (!wantOut && !wantErr) throw badRequest("Bad parameters: you must choose at least one stream");
  const res = ctx.res!;
  const tty = row.config.tty;
  // Parameters first: a bad one is a 400, before the stream's headers go out.
  const toNs = (name: string) => {
    const v = query.str(name);
    if (!v || v === "0") return undefined;
    if (!/^\d+(\.\d+)?$/.test(v)) throw badRequest(`invalid value for ${name}: ${v} (seconds since the epoch)`);
    return BigInt(Math.floor(Number(v) * 1e9));
  };
  const since = toNs("since"), until = toNs("until");
  const tailText = query.str("tail");
  const tail = tailText === undefined || tailText === "all" || tailText === "" ? undefined : Number(tailText);
  if (tail !== undefined && !Number.isInteger(tail)) throw badRequest(`invalid tail: ${tailText}`);
  const cs = openClientStream(ctx, tty, false);
  const ac = new AbortController();
  res.on("close", () => ac.abort());
  try {
    await containerLogs(engine, {
      container: row.id, follow: query.bool("follow"), tail, since, until,
      timestamps: query.bool("timestamps"), signal: ac.signal,
    }, {
      stdout: (d) => { if (wantOut) cs.out("stdout", d); },
      stderr: (d) => { if (wantErr) cs.out("stderr", d); },
    });
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  }
  cs.end();
}

function top(ctx: Ctx): void {
  const row = find(ctx);
  if (!ctx.engine.observe(row).running) throw conflict(`Container ${row.id} is not running`);
  const t = containerTop(row);
  sendJson(ctx.res!, 200, { Titles: t.titles, Processes: t.processes });
}

function statsJson(v: ContainerView, cur: StatsSample, prev: StatsSample | undefined, ncpu: number): Record<string, unknown> {
  const r = v.row;
  const cpu = (s: StatsSample | undefined) => ({
    cpu_usage: { total_usage: s?.cpuNs ?? 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: s ? Math.round(s.at * 1e6 * ncpu) : 0,
    online_cpus: ncpu,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  return {
    read: new Date(cur.at).toISOString(), preread: prev ? new Date(prev.at).toISOString() : ZERO_TIME,
    id: r.id, name: `/${r.name}`,
    pids_stats: { current: cur.pids },
    blkio_stats: {
      io_service_bytes_recursive: [{ major: 0, minor: 0, op: "read", value: cur.blkRead }, { major: 0, minor: 0, op: "write", value: cur.blkWrite }],
      io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null,
      io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
    },
    num_procs: 0, storage_stats: {},
    cpu_stats: cpu(cur), precpu_stats: cpu(prev),
    memory_stats: { usage: cur.memUsage, limit: cur.memLimit, stats: { inactive_file: cur.memCache, total_inactive_file: cur.memCache } },
    networks: { eth0: { rx_bytes: cur.netRx, rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_bytes: cur.netTx, tx_packets: 0, tx_errors: 0, tx_dropped: 0 } },
  };
}

async function stats(ctx: Ctx): Promise<void> {
  const { engine, query } = ctx;
  const row = find(ctx);
  const { availableParallelism } = await import("node:os");
  const ncpu = availableParallelism();
  const stream = query.bool("stream", true) && !query.bool("one-shot");
  const res = ctx.res!;
  // With the system figure in ns of wall time × CPUs, the CLI's CPU % is busy time per CPU.
  if (!stream) {
    const v = engine.observe(row);
    let prev: StatsSample | undefined;
    if (!query.bool("one-shot") && v.running) {
      prev = sampleStats(v);
      await Bun.sleep(100);
    }
    return sendJson(res, 200, statsJson(v, sampleStats(engine.observe(row)), prev, ncpu));
  }
  res.writeHead(200, { "Content-Type": "application/json" });
  res.flushHeaders();
  let closed = false;
  res.on("close", () => { closed = true; });
  let prev: StatsSample | undefined;
  while (!closed) {
    const current = engine.store.get(row.id);
    if (!current) break;
    const v = engine.observe(current);
    const cur = sampleStats(v);
    res.write(JSON.stringify(statsJson(v, cur, prev, ncpu)) + "\n");
    prev = cur;
    await Bun.sleep(1000);
  }
  if (!res.writableEnded) res.end();
}

async function resize(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = find(ctx);
  const h = ctx.query.int("h") ?? 0, w = ctx.query.int("w") ?? 0;
  if (!engine.observe(row).running) throw conflict(`Container ${row.id} is not running`);
  if (row.config.tty && h > 0 && w > 0) {
    // A short-lived control connection to the monitor: its resize frame, then detach.
    const s = await attach(engine.paths.attachSocket(row.id), { tty: true, onOutput: () => {} });
    s.resize(h, w);
    await Bun.sleep(10);
    s.detach();
  }
  sendJson(ctx.res!, 200, {});
}

async function changes(ctx: Ctx): Promise<void> {
  const row = find(ctx);
  const list = await containerChanges(ctx.engine, row.id);
  const KIND: Record<string, number> = { C: 0, A: 1, D: 2 };
  sendJson(ctx.res!, 200, list.map((c) => ({ Path: c.path, Kind: KIND[c.kind] ?? 0 })));
}

async function exportRoute(ctx: Ctx): Promise<void> {
  const row = find(ctx);
  const res = ctx.res!;
  const chunks = exportFiles(ctx.engine, row.id);
  res.writeHead(200, { "Content-Type": "application/x-tar" });
  for await (const c of chunks) {
    if (res.destroyed) break;
    if (!res.write(c)) await new Promise((r) => res.once("drain", r));
  }
  res.end();
}

/** container prune with `until`: stopped containers at rest created before `untilMs`. */
async function pruneBefore(engine: Engine, labels: ContainerFilter[], untilMs: number): Promise<{ deleted: string[]; reclaimed: number }> {
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const v of engine.list()) {
    if (v.running || v.status === "removing" || v.row.createdAt >= untilMs || !labels.every((f) => matchesFilters(v, [f]))) continue;
    const size = engine.diskUsage(v.row.id);
    if (!(await engine.removeIfIdle(v.row.id))) continue;
    deleted.push(v.row.id);
    reclaimed += size;
  }
  return { deleted, reclaimed };
}

async function prune(ctx: Ctx): Promise<void> {
  const filters = ctx.query.filters();
  const labels: ContainerFilter[] = (filters.label ?? []).map((value) => ({ key: "label", value }));
  const untilText = filters.until?.[0];
  let until: number | undefined;
  if (untilText) {
    // docker's `until`: only containers created before it (a timestamp or a duration ago)
    try { until = Number(parseSince(untilText) / 1_000_000n); } catch { throw badRequest(`invalid until filter: ${untilText}`); }
  }
  const r = until === undefined ? await pruneContainers(ctx.engine, labels) : await pruneBefore(ctx.engine, labels, until);
  sendJson(ctx.res!, 200, { ContainersDeleted: r.deleted, SpaceReclaimed: r.reclaimed });
}

/** The update fields berth applies; any other resource field with a value is refused, never dropped. */
const UPDATE_FIELDS = new Set(["Memory", "MemorySwap", "NanoCpus", "CpuShares", "PidsLimit", "RestartPolicy"]);

/** POST /containers/{id}/update: docker's body (zeros mean "unchanged") as the engine's update. */
export function translateUpdate(body: Record<string, unknown>): ResourceUpdate {
  const num = (key: string): number | undefined => {
    const v = body[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v)) throw badRequest(`${key} must be an integer, got ${JSON.stringify(v)}`);
    return v;
  };
  for (const [key, v] of Object.entries(body)) {
    if (UPDATE_FIELDS.has(key) || v === null || v === 0 || v === "" || (Array.isArray(v) && v.length === 0)) continue;
    if (key === "BlkioWeightDevice" || key === "Devices" || key === "Ulimits") continue; // empty-list fields the CLI always sends
    throw badRequest(`updating ${key} is not supported by berth; it can update Memory, MemorySwap, NanoCpus, CpuShares, PidsLimit and RestartPolicy`);
  }
  const out: ResourceUpdate = {};
  const memory = num("Memory"), swap = num("MemorySwap"), nano = num("NanoCpus"), shares = num("CpuShares"), pids = num("PidsLimit");
  if (memory) out.memory = memory;
  if (swap) out.memorySwap = swap;
  if (nano) out.cpus = nano / 1e9;
  if (shares) out.cpuShares = shares;
  if (pids !== undefined && pids !== 0) out.pidsLimit = pids < 0 ? null : pids;
  const rp = body.RestartPolicy as { Name?: unknown; MaximumRetryCount?: unknown } | undefined;
  if (rp && typeof rp === "object" && typeof rp.Name === "string" && rp.Name !== "") {
    if (!["no", "always", "unless-stopped", "on-failure"].includes(rp.Name)) throw badRequest(`invalid restart policy '${rp.Name}'`);
    const retries = rp.MaximumRetryCount ?? 0;
    if (typeof retries !== "number" || !Number.isInteger(retries) || retries < 0) throw badRequest("RestartPolicy.MaximumRetryCount must be a non-negative integer");
    out.restart = { name: rp.Name as RestartPolicy["name"], maximumRetryCount: retries };
  }
  return out;
}

async function update(ctx: Ctx): Promise<void> {
  const body = await readJson(ctx.req);
  if (!body || typeof body !== "object" || Array.isArray(body)) throw badRequest("the update body must be a JSON object");
  const req = translateUpdate(body as Record<string, unknown>);
  await updateContainer(ctx.engine, find(ctx).id, req);
  sendJson(ctx.res!, 200, { Warnings: [] });
}

export function containerRoutes(r: Router): void {
  r.on("POST", "/containers/create", create);
  r.on("GET", "/containers/json", list);
  r.on("POST", "/containers/prune", prune);
  r.on("GET", "/containers/{id}/json", inspect);
  r.on("POST", "/containers/{id}/start", start);
  r.on("POST", "/containers/{id}/stop", stop);
  r.on("POST", "/containers/{id}/restart", restart);
  r.on("POST", "/containers/{id}/kill", kill);
  r.on("POST", "/containers/{id}/pause", pause);
  r.on("POST", "/containers/{id}/unpause", unpause);
  r.on("POST", "/containers/{id}/rename", rename);
  r.on("POST", "/containers/{id}/update", update);
  r.on("POST", "/containers/{id}/wait", wait);
  r.on("POST", "/containers/{id}/attach", (ctx) => attachRoute(ctx));
  r.on("GET", "/containers/{id}/attach/ws", (ctx) => attachRoute(ctx, true));
  r.on("POST", "/containers/{id}/resize", resize);
  r.on("GET", "/containers/{id}/logs", logs);
  r.on("GET", "/containers/{id}/top", top);
  r.on("GET", "/containers/{id}/stats", stats);
  r.on("GET", "/containers/{id}/changes", changes);
  r.on("GET", "/containers/{id}/export", exportRoute);
  r.on("DELETE", "/containers/{id}", remove);
  archiveRoutes(r);
  execRoutes(r);
}

