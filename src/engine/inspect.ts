// docker-shaped descriptions of containers: `inspect` JSON and the fields ps/--format use.
import type { ContainerView, Engine } from "./engine.ts";
import type { PortPublish } from "./types.ts";
import { commandOf } from "./command.ts";
import { healthcheckObject } from "./health-config.ts";
import { readHealth } from "./health.ts";

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

/** HostConfig.PortBindings say what was asked (a range as "1000-2000", a random port as "");
 *  NetworkSettings.Ports what the network chose (`bound`: engine.publishedPorts), and null for an
 *  exposed port nobody published, as docker shows them. */
export function inspectObject(engine: Engine, v: ContainerView, bound: PortPublish[] = []): Record<string, unknown> {
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
    Driver: "overlay",
    Platform: "linux",
    HostConfig: {
      Binds: c.mounts.filter((m) => m.kind === "bind").map((m) => `${m.source}:${m.destination}${m.readOnly ? ":ro" : ""}`),
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
      Privileged: c.privileged,
      ReadonlyRootfs: c.readOnly,
      SecurityOpt: [...(c.seccomp !== "default" ? [`seccomp=${c.seccomp}`] : []), ...(c.noNewPrivileges ? ["no-new-privileges"] : [])],
      Tmpfs: Object.fromEntries(c.mounts.filter((m) => m.kind === "tmpfs").map((m) => [m.destination, (m.options ?? []).join(",")])),
      Memory: c.resources.memory ?? 0,
      MemorySwap: c.resources.memorySwap ?? (c.resources.memory ? c.resources.memory * 2 : 0),
      NanoCpus: c.resources.cpus ? Math.round(c.resources.cpus * 1e9) : 0,
      CpuShares: c.resources.cpuShares ?? 0,
      PidsLimit: c.resources.pidsLimit ?? null,
      Init: c.init,
    },
    Mounts: c.mounts.map((m) => ({
      Type: m.kind,
      ...(m.kind === "volume" ? { Name: m.source, Source: engine.paths.volumeData(m.source) } : { Source: m.source }),
      Destination: m.destination,
      RW: !m.readOnly,
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
    NetworkSettings: {
      Ports: v.running ? { ...Object.fromEntries(c.exposedPorts.map((e) => [e.includes("/") ? e : `${e}/tcp`, null])), ...portMap(bound, (p) => String(p.hostPort)) } : {},
    },
  };
}
