// docker-shaped descriptions of containers: `inspect` JSON and the fields ps/--format use.
import type { ContainerView, Engine } from "./engine.ts";
import { join } from "node:path";
import type { ContainerConfig, DeviceRate, PortPublish } from "./types.ts";
import { commandOf } from "./command.ts";
import { healthcheckObject } from "./health-config.ts";
import { readHealth } from "./health.ts";
import type { ContainerEndpoint } from "./network.ts";
import { DEFAULT_SHM_SIZE } from "./base-mounts.ts";

const ZERO_TIME = "0001-01-01T00:00:00Z";

function iso(ms: number): string {
  return ms ? new Date(ms).toISOString() : ZERO_TIME;
}

export function statusText(v: ContainerView, now = Date.now()): string {
  const r = v.row;
  const ago = (ms: number) => humanAgo(now - ms);
  switch (v.status) {
    case "running": {
      const up = `Up ${humanAgo(now - r.startedAt).replace(/ ago$/, "")}`;
      // docker: "Up 5 seconds (health: starting)", "(healthy)", "(unhealthy)".
      return v.health === undefined ? up : `${up} (${v.health === "starting" ? "health: starting" : v.health})`;
    }
    case "paused": return `Up ${humanAgo(now - r.startedAt).replace(/ ago$/, "")} (Paused)`;
    case "created": return "Created";
    case "restarting": return `Restarting (${r.exitCode ?? 0}) ${ago(r.finishedAt || now)}`;
    case "exited": return `Exited (${v.exitCode ?? 0}) ${ago(r.finishedAt || now)}`;
    case "removing": return "Removal In Progress";
    case "dead": return "Dead";
    default: return "Created";
  }
}

function humanAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return "Less than a second ago";
  if (s === 1) return "1 second ago";
  if (s < 60) return `${s} seconds ago`;
  const m = Math.round(s / 60);
  if (m === 1) return "About a minute ago";
  if (m < 60) return `${m} minutes ago`;
  const h = Math.round(s / 3600);
  if (h === 1) return "About an hour ago";
  if (h < 48) return `${h} hours ago`;
  return `${Math.round(h / 24)} days ago`;
}

export function portsText(v: ContainerView): string {
  const c = v.row.config;
  const pub = v.running ? c.publish.map((p) => `${p.hostIp}:${p.hostPort || "?"}->${p.containerPort}/${p.proto}`) : [];
  const exposed = c.exposedPorts.filter((e) => !c.publish.some((p) => `${p.containerPort}/${p.proto}` === e));
  return [...pub, ...exposed].join(", ");
}

/** The object ps --format and `ps --format json` see. */
export function psObject(v: ContainerView, noTrunc = false): Record<string, unknown> {
  const r = v.row;
  const cmd = commandOf(r.config).join(" ");
  return {
    ID: noTrunc ? r.id : r.id.slice(0, 12),
    Image: r.config.image,
    Command: noTrunc ? JSON.stringify(cmd) : JSON.stringify(cmd.length > 20 ? `${cmd.slice(0, 19)}…` : cmd),
    CreatedAt: new Date(r.createdAt).toString(),
    RunningFor: humanAgo(Date.now() - r.createdAt),
    Ports: portsText(v),
    State: v.status,
    Status: statusText(v),
    Names: r.name,
    Labels: Object.entries(r.config.labels).map(([k, val]) => `${k}=${val}`).join(","),
    LabelsMap: r.config.labels,
    Mounts: r.config.mounts.map((m) => (m.kind === "volume" ? m.source.slice(0, 12) : m.source)).join(","),
    Networks: r.config.network,
  };
}

/** docker's port map: "80/tcp" → [{HostIp, HostPort}, ...] (one container port may be published twice). */
function portMap(list: PortPublish[], hostPort: (p: PortPublish) => string): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of list) (out[`${p.containerPort}/${p.proto}`] ??= []).push({ HostIp: p.hostIp, HostPort: hostPort(p) });
  return out;
}

const rates = (list: DeviceRate[] | undefined) => (list ?? []).map((d) => ({ Path: d.path, Rate: d.rate }));

/** HostConfig as created (or as `berth update` changed it), in docker's field names (moby's
 *  HostConfig and Resources); a limit not set is docker's zero value. */
function hostConfig(c: ContainerConfig): Record<string, unknown> {
  const r = c.resources;
  return {
    Binds: c.mounts.filter((m) => m.kind === "bind").map((m) => `${m.source}:${m.destination}${m.readOnly ? ":ro" : ""}`),
    ContainerIDFile: c.cidFile ?? "",
    LogConfig: { Type: "json-file", Config: { "max-size": String(c.logMaxBytes) } },
    NetworkMode: c.network,
    // docker's words: "" for a pid or uts namespace of its own, "private" for ipc and cgroupns.
    PidMode: c.namespaces?.pid === "private" || !c.namespaces ? "" : c.namespaces.pid,
    IpcMode: c.namespaces?.ipc ?? "private",
    UTSMode: c.namespaces?.uts === "host" ? "host" : "",
    CgroupnsMode: c.namespaces?.cgroup ?? "private",
    UsernsMode: c.userns?.mode === "auto" ? `auto:size=${c.userns.range?.size ?? 0}` : c.userns ? "private" : "",
    ...(c.userns ? { UidMap: c.userns.uidMap.map((m) => `${m.containerID}:${m.hostID}:${m.size}`), GidMap: c.userns.gidMap.map((m) => `${m.containerID}:${m.hostID}:${m.size}`) } : {}),
    PortBindings: portMap(c.publish, (p) => (p.hostPortEnd ? `${p.hostPort}-${p.hostPortEnd}` : String(p.hostPort || ""))),
    RestartPolicy: { Name: c.restart.name, MaximumRetryCount: c.restart.maximumRetryCount },
    AutoRemove: c.autoRemove,
    CapAdd: c.capAdd,
    CapDrop: c.capDrop,
    Dns: c.dns ?? [],
    ExtraHosts: (c.extraHosts ?? []).flatMap((h) => h.names.map((n) => `${n}:${h.ip}`)),
    GroupAdd: c.groupAdd ?? null,
    OomScoreAdj: c.oomScoreAdj ?? 0,
    Privileged: c.privileged,
    PublishAllPorts: false,
    ReadonlyRootfs: c.readOnly,
    SecurityOpt: [...(c.seccomp !== "default" ? [`seccomp=${c.seccomp}`] : []), ...(c.noNewPrivileges ? ["no-new-privileges"] : [])],
    Tmpfs: Object.fromEntries(c.mounts.filter((m) => m.kind === "tmpfs").map((m) => [m.destination, (m.options ?? []).join(",")])),
    ShmSize: c.shmSize ?? DEFAULT_SHM_SIZE,
    Sysctls: c.sysctls ?? {},
    Runtime: "berth-runtime",
    Init: c.init,
    // Resources
    CpuShares: r.cpuShares ?? 0,
    Memory: r.memory ?? 0,
    CgroupParent: c.cgroupParent ?? "",
    BlkioWeight: r.blkioWeight ?? 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: rates(r.deviceReadBps),
    BlkioDeviceWriteBps: rates(r.deviceWriteBps),
    BlkioDeviceReadIOps: rates(r.deviceReadIops),
    BlkioDeviceWriteIOps: rates(r.deviceWriteIops),
    CpuPeriod: r.cpuPeriod ?? 0,
    CpuQuota: r.cpuQuota ?? 0,
    CpusetCpus: r.cpusetCpus ?? "",
    CpusetMems: r.cpusetMems ?? "",
    Devices: (c.devices ?? []).map((d) => ({ PathOnHost: d.hostPath, PathInContainer: d.containerPath, CgroupPermissions: d.permissions })),
    DeviceCgroupRules: (c.deviceCgroupRules ?? []).map((d) => `${d.type} ${d.major ?? "*"}:${d.minor ?? "*"} ${d.access}`),
    MemoryReservation: r.memoryReservation ?? 0,
    MemorySwap: r.memorySwap ?? (r.memory ? r.memory * 2 : 0),
    NanoCpus: r.cpus ? Math.round(r.cpus * 1e9) : 0,
    OomKillDisable: r.oomKillDisable ?? false,
    PidsLimit: r.pidsLimit ?? null,
    Ulimits: (c.ulimits ?? []).map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
  };
}

/** The overlay's directories (docker's GraphDriver "overlay2"): the image's layers, top first,
 *  then the container's own upper, work and merged dirs. */
function graphDriver(engine: Engine, id: string, imageId: string): { Name: string; Data: Record<string, string> | null } {
  const dir = engine.paths.container(id);
  let lower = "";
  try {
    const img = engine.images.get(imageId as `sha256:${string}`);
    if (img) lower = engine.images.snapshotDirs(img).join(":");
  } catch { /* the image is gone: the container's own dirs still are where they are */ }
  return {
    Name: "overlay2",
    Data: { LowerDir: lower, MergedDir: join(dir, "rootfs"), UpperDir: join(dir, "upper"), WorkDir: join(dir, "work") },
  };
}

/**
 * docker's EndpointSettings of the container on one network (NetworkSettings.Networks[name]), for
 * `berth inspect` and the API alike: its fixed address if it asked for one, and while it runs its
 * endpoint (address, gateway, MAC, aliases and the names other members resolve to it).
 */
export function endpointSettings(c: Pick<ContainerConfig, "ips">, name: string, e?: ContainerEndpoint, dnsNames?: string[]): Record<string, unknown> {
  return {
    IPAMConfig: c.ips?.[name] ? { IPv4Address: c.ips[name] } : null, Links: null, Aliases: e?.aliases.length ? e.aliases : null, MacAddress: e?.mac ?? "", DriverOpts: null,
    NetworkID: e?.networkId ?? "", EndpointID: e?.endpointId ?? "", Gateway: e?.gateway ?? "", IPAddress: e?.ip ?? "", IPPrefixLen: e?.prefixLen ?? 0,
    IPv6Gateway: "", GlobalIPv6Address: "", GlobalIPv6PrefixLen: 0, DNSNames: e && dnsNames ? [...dnsNames, ...e.aliases] : null,
  };
}

/** docker's NetworkSettings: the endpoint on the default bridge at the top level (docker's legacy
 *  fields), every network the container is on under Networks; empty while it is not running. */
function networkSettings(c: ContainerConfig, running: boolean, bound: PortPublish[], endpoints: ContainerEndpoint[], dnsNames: string[]): Record<string, unknown> {
  const names = c.network.startsWith("container:") ? [] : c.network.split(",").filter(Boolean).map((n) => (n === "default" ? "bridge" : n));
  const networks: Record<string, unknown> = {};
  for (const name of names) networks[name] = endpointSettings(c, name, endpoints.find((x) => x.network === name), dnsNames);
  const main = endpoints.find((x) => x.network === "bridge");
  return {
    Bridge: "",
    SandboxKey: "",
    Ports: running ? { ...Object.fromEntries(c.exposedPorts.map((e) => [e.includes("/") ? e : `${e}/tcp`, null])), ...portMap(bound, (p) => String(p.hostPort)) } : {},
    EndpointID: main?.endpointId ?? "",
    Gateway: main?.gateway ?? "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    IPAddress: main?.ip ?? "",
    IPPrefixLen: main?.prefixLen ?? 0,
    IPv6Gateway: "",
    MacAddress: main?.mac ?? "",
    Networks: networks,
  };
}

/** HostConfig.PortBindings say what was asked (a range as "1000-2000", a random port as "");
 *  NetworkSettings.Ports what the network chose (`bound`: engine.publishedPorts), and null for an
 *  exposed port nobody published, as docker shows them; NetworkSettings' addresses are the
 *  running container's endpoints (network.ts containerEndpoints). */
export function inspectObject(engine: Engine, v: ContainerView, bound: PortPublish[] = [], endpoints: ContainerEndpoint[] = []): Record<string, unknown> {
  const r = v.row;
  const c = r.config;
  return {
    Id: r.id,
    Created: iso(r.createdAt),
    Path: commandOf(c)[0] ?? "",
    Args: commandOf(c).slice(1),
    State: {
      Status: v.status,
      Running: v.running && v.status !== "paused",
      Paused: v.status === "paused",
      Restarting: v.status === "restarting",
      OOMKilled: r.oomKilled,
      Dead: v.status === "dead",
      Pid: v.running ? r.pid : 0,
      ExitCode: v.exitCode ?? 0,
      Error: r.error,
      StartedAt: iso(r.startedAt),
      FinishedAt: iso(r.finishedAt),
      ...(c.healthcheck ? { Health: readHealth(engine, r.id) } : {}),
    },
    Image: c.imageId,
    ResolvConfPath: `${engine.paths.filesDir(r.id)}/resolv.conf`,
    HostnamePath: `${engine.paths.filesDir(r.id)}/hostname`,
    HostsPath: `${engine.paths.filesDir(r.id)}/hosts`,
    LogPath: engine.paths.log(r.id),
    Name: `/${r.name}`,
    RestartCount: r.restartCount,
    Driver: "overlay2",
    Platform: "linux",
    HostConfig: hostConfig(c),
    GraphDriver: graphDriver(engine, r.id, c.imageId),
    Mounts: c.mounts.map((m) => ({
      Type: m.kind,
      ...(m.kind === "volume" ? { Name: m.source, Source: engine.paths.volumeData(m.source) } : { Source: m.source }),
      Destination: m.destination,
      Mode: m.kind === "bind" ? (m.readOnly ? "ro" : "") : m.kind === "volume" ? "z" : "",
      RW: !m.readOnly,
      Propagation: m.kind === "bind" ? m.propagation ?? "rprivate" : "",
    })),
    Config: {
      Hostname: c.hostname,
      Domainname: c.domainname ?? "",
      User: c.user,
      Tty: c.tty,
      OpenStdin: c.openStdin,
      Env: c.env,
      Cmd: c.cmd,
      Entrypoint: c.entrypoint.length ? c.entrypoint : null,
      Image: c.image,
      WorkingDir: c.workingDir,
      Labels: c.labels,
      StopSignal: c.stopSignal,
      StopTimeout: c.stopTimeout,
      ExposedPorts: Object.fromEntries(c.exposedPorts.map((p) => [p, {}])),
      ...(c.healthcheck ? { Healthcheck: healthcheckObject(c.healthcheck) } : {}),
    },
    NetworkSettings: networkSettings(c, v.running, bound, endpoints, [v.row.name, v.row.id.slice(0, 12)]),
  };
}
