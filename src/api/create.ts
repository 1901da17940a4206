// POST /containers/create: Docker's container config (Config + HostConfig + NetworkingConfig)
// as the engine's CreateRequest (docker's flags as given). Fields the engine does not support
// are named in Warnings when harmless, refused with 400 when ignoring them would change what runs.
import type { CreateRequest, HealthRequest } from "../engine/index.ts";
import { badRequest, optBool, optNum, optObj, optStr, optStrList } from "./http.ts";

export interface Translated {
  req: CreateRequest;
  warnings: string[];
  /** HostConfig.ConsoleSize ([height, width]): the terminal's size at start. */
  consoleSize?: { height: number; width: number };
}

// Config/HostConfig fields that carry no meaning here when left at their zero value; any other
// value of them is refused (silently dropping a limit or a device would run something else).
const REFUSED_HOST = ["Devices", "DeviceRequests", "CpusetCpus", "CpusetMems", "BlkioWeight", "BlkioDeviceReadBps", "BlkioDeviceWriteBps",
  "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps", "BlkioWeightDevice", "CpuQuota", "CpuPeriod", "CpuRealtimePeriod", "CpuRealtimeRuntime",
  "KernelMemory", "KernelMemoryTCP", "MemoryReservation", "Ulimits", "VolumesFrom", "Links", "IpcMode", "PidMode", "UTSMode", "UsernsMode",
  "GroupAdd", "DnsOptions", "DnsSearch", "OomScoreAdj", "CgroupParent", "Cgroup", "Runtime", "ShmSize", "StorageOpt", "MaskedPaths", "ReadonlyPaths"];
// Fields this translation reads; any other field with a non-zero value is named in Warnings.
const HANDLED_CONFIG = new Set(["Image", "Cmd", "Entrypoint", "Env", "WorkingDir", "User", "Hostname", "Domainname", "Tty", "OpenStdin",
  "Labels", "StopSignal", "StopTimeout", "Volumes", "Healthcheck", "NetworkDisabled", "HostConfig", "NetworkingConfig", "ExposedPorts",
  // what a client sets that changes nothing here: the streams it will attach, stdin's once-only closing
  "AttachStdin", "AttachStdout", "AttachStderr", "StdinOnce", "ArgsEscaped", "Platform"]);
const HANDLED_HOST = new Set(["Binds", "Tmpfs", "Mounts", "PortBindings", "PublishAllPorts", "NetworkMode", "RestartPolicy", "AutoRemove",
  "Memory", "MemorySwap", "NanoCpus", "CpuShares", "PidsLimit", "CapAdd", "CapDrop", "Privileged", "SecurityOpt", "Init", "ReadonlyRootfs",
  "Sysctls", "ExtraHosts", "Dns", "LogConfig", "ConsoleSize",
  // defaults the CLI always sends, meaning "as the engine does"
  "Isolation", "ContainerIDFile", "MemorySwappiness", "OomKillDisable", "Annotations", "CgroupnsMode", "Privileged", "DeviceCgroupRules", "IOMaximumBandwidth", "IOMaximumIOps", "CpuCount", "CpuPercent", "Links", "VolumeDriver"]);

const ZERO = (v: unknown) => v === undefined || v === null || v === "" || v === 0 || v === false || (Array.isArray(v) && v.length === 0)
  || (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);

function bytes(n: number | undefined): string | undefined {
  return n === undefined || n === 0 ? undefined : String(n);
}

/** Config.Healthcheck (docker's durations in nanoseconds; 0 = inherit) as the engine's request. */
function healthRequest(hc: Record<string, unknown>): HealthRequest {
  const out: HealthRequest = {};
  const test = optStrList(hc, "Test");
  // ["NONE"] disables the image's check; an empty or absent Test inherits it.
  if (test?.length === 1 && test[0] === "NONE") return { disable: true };
  if (test?.length) out.test = test;
  const dur = (k: string): string | undefined => {
    const ns = optNum(hc, k);
    if (ns === undefined || ns === 0) return undefined;
    if (!Number.isInteger(ns) || ns < 0) throw badRequest(`Healthcheck.${k} must be a non-negative number of nanoseconds`);
    if (ns < 1e6) throw badRequest(`Healthcheck.${k} must be at least 1ms (it is in nanoseconds)`);
    return `${ns / 1e6}ms`;
  };
  const interval = dur("Interval");
  if (interval) out.interval = interval;
  const timeout = dur("Timeout");
  if (timeout) out.timeout = timeout;
  const start = dur("StartPeriod");
  if (start) out.startPeriod = start;
  const retries = optNum(hc, "Retries");
  if (retries !== undefined && retries !== 0) out.retries = retries;
  if (!ZERO(hc.StartInterval)) throw badRequest("Healthcheck.StartInterval is not supported by berth");
  return out;
}

export function translateCreate(body: Record<string, unknown>, name: string | undefined): Translated {
  const warnings: string[] = [];
  const image = optStr(body, "Image");
  if (!image) throw badRequest("Config.Image is required (no image given)");
  const host = optObj(body, "HostConfig") ?? {};
  const cmd = optStrList(body, "Cmd");
  const entry = body.Entrypoint === undefined || body.Entrypoint === null ? undefined : optStrList(body, "Entrypoint")!;
  // Docker's create never pulls: a missing image is a 404, on which the client pulls
  // (POST /images/create, with its credentials and progress) and creates again.
  const req: CreateRequest = { image, args: cmd ?? [], pull: "never" };
  if (name) req.name = name.replace(/^\//, "");
  if (entry !== undefined) {
    // The engine takes docker's --entrypoint (one program); the rest of a longer entrypoint goes
    // before Cmd, which is the same argv.
    req.entrypoint = entry[0] ?? "";
    req.args = [...entry.slice(1), ...(cmd ?? [])];
  }
  const env = optStrList(body, "Env");
  if (env) req.env = env;
  const wd = optStr(body, "WorkingDir");
  if (wd) req.workdir = wd;
  const user = optStr(body, "User");
  if (user) req.user = user;
  const hostname = optStr(body, "Hostname");
  if (hostname) req.hostname = hostname;
  const domainname = optStr(body, "Domainname");
  if (domainname) req.domainname = domainname;
  req.tty = optBool(body, "Tty") ?? false;
  req.interactive = optBool(body, "OpenStdin") ?? false;
  const labels = optObj(body, "Labels");
  if (labels) req.labels = Object.entries(labels).map(([k, v]) => `${k}=${String(v)}`);
  const stopSignal = optStr(body, "StopSignal");
  if (stopSignal) req.stopSignal = stopSignal;
  const stopTimeout = optNum(body, "StopTimeout");
  if (stopTimeout !== undefined) req.stopTimeout = String(stopTimeout);
  const volumesMap = optObj(body, "Volumes");
  const volumes: string[] = Object.keys(volumesMap ?? {});
  const hc = optObj(body, "Healthcheck");
  if (hc) req.health = healthRequest(hc);
  if (optBool(body, "NetworkDisabled")) req.network = "none";

  // ---- HostConfig ----
  for (const k of REFUSED_HOST) {
    if (!ZERO(host[k])) throw badRequest(`HostConfig.${k} is not supported by berth`);
  }
  for (const [k, v] of Object.entries(host)) {
    if (!HANDLED_HOST.has(k) && !REFUSED_HOST.includes(k) && !ZERO(v)) warnings.push(`HostConfig.${k} is not supported by berth; ignored`);
  }
  for (const [k, v] of Object.entries(body)) {
    if (!HANDLED_CONFIG.has(k) && !ZERO(v)) warnings.push(`${k} is not supported by berth; ignored`);
  }
  volumes.push(...(optStrList(host, "Binds") ?? []));
  const tmpfs: string[] = Object.entries(optObj(host, "Tmpfs") ?? {}).map(([d, o]) => (o ? `${d}:${String(o)}` : d));
  const mounts = host.Mounts;
  if (mounts !== undefined && mounts !== null) {
    if (!Array.isArray(mounts)) throw badRequest("HostConfig.Mounts must be an array");
    for (const m of mounts as Record<string, unknown>[]) {
      const type = optStr(m, "Type") ?? "volume";
      const target = optStr(m, "Target");
      if (!target) throw badRequest("HostConfig.Mounts: Target is required");
      const src = optStr(m, "Source") ?? "";
      const ro = optBool(m, "ReadOnly") ? ":ro" : "";
      if (type === "bind") volumes.push(`${src}:${target}${ro}`);
      else if (type === "volume") volumes.push(src ? `${src}:${target}${ro}` : target);
      else if (type === "tmpfs") {
        const o = optObj(m, "TmpfsOptions") ?? {};
        const opts = [o.SizeBytes ? `size=${Number(o.SizeBytes)}` : "", o.Mode ? `mode=${Number(o.Mode).toString(8)}` : ""].filter(Boolean);
        tmpfs.push(opts.length ? `${target}:${opts.join(",")}` : target);
      } else throw badRequest(`HostConfig.Mounts: mount type ${type} is not supported`);
    }
  }
  if (volumes.length) req.volumes = volumes;
  if (tmpfs.length) req.tmpfs = tmpfs;
  const publish: string[] = [];
  for (const [port, binds] of Object.entries(optObj(host, "PortBindings") ?? {})) {
    const list = Array.isArray(binds) && binds.length ? (binds as Record<string, unknown>[]) : [{}];
    for (const b of list) {
      const ip = typeof b?.HostIp === "string" ? b.HostIp : "";
      const hp = typeof b?.HostPort === "string" ? b.HostPort : "";
      publish.push(ip ? `${ip}:${hp}:${port}` : hp ? `${hp}:${port}` : port);
    }
  }
  if (publish.length) req.publish = publish;
  if (optBool(host, "PublishAllPorts")) req.publishAll = true;
  const mode = optStr(host, "NetworkMode");
  if (mode && mode !== "default") req.network = mode;
  const netCfg = optObj(optObj(body, "NetworkingConfig") ?? {}, "EndpointsConfig");
  if (netCfg && !mode) {
    const names = Object.keys(netCfg);
    if (names.length) req.network = names.join(",");
  }
  // Aliases per network (compose gives each service its name as one): the engine applies them
  // on every network the container joins.
  const aliases = new Set<string>();
  for (const ep of Object.values(netCfg ?? {})) {
    const list = ep && typeof ep === "object" ? (ep as Record<string, unknown>).Aliases : undefined;
    if (Array.isArray(list)) for (const a of list) if (typeof a === "string" && a) aliases.add(a);
  }
  if (aliases.size) req.networkAliases = [...aliases];
  // a fixed address per network: EndpointsConfig[NET].IPAMConfig.IPv4Address (docker run --ip, compose ipv4_address)
  const ips: Record<string, string> = {};
  for (const [net, ep] of Object.entries(netCfg ?? {})) {
    const ipam = ep && typeof ep === "object" ? (ep as Record<string, unknown>).IPAMConfig : undefined;
    const v4 = ipam && typeof ipam === "object" ? (ipam as Record<string, unknown>).IPv4Address : undefined;
    if (typeof v4 === "string" && v4) ips[net] = v4;
  }
  if (Object.keys(ips).length) req.ips = ips;
  const restart = optObj(host, "RestartPolicy");
  if (restart) {
    const n = optStr(restart, "Name") ?? "";
    const max = optNum(restart, "MaximumRetryCount") ?? 0;
    if (n) req.restart = n === "on-failure" && max ? `${n}:${max}` : n;
  }
  if (optBool(host, "AutoRemove")) req.rm = true;
  req.memory = bytes(optNum(host, "Memory"));
  const swap = optNum(host, "MemorySwap");
  if (swap !== undefined && swap !== 0) req.memorySwap = String(swap);
  const nano = optNum(host, "NanoCpus");
  if (nano) req.cpus = String(nano / 1e9);
  const shares = optNum(host, "CpuShares");
  if (shares) req.cpuShares = String(shares);
  const pids = optNum(host, "PidsLimit");
  if (pids !== undefined && pids !== 0) req.pidsLimit = String(pids);
  const capAdd = optStrList(host, "CapAdd");
  if (capAdd) req.capAdd = capAdd;
  const capDrop = optStrList(host, "CapDrop");
  if (capDrop) req.capDrop = capDrop;
  if (optBool(host, "Privileged")) req.privileged = true;
  const secOpt = optStrList(host, "SecurityOpt");
  if (secOpt) req.securityOpt = secOpt;
  if (optBool(host, "Init")) req.init = true;
  if (optBool(host, "ReadonlyRootfs")) req.readOnly = true;
  const sysctls = optObj(host, "Sysctls");
  if (sysctls) req.sysctls = Object.entries(sysctls).map(([k, v]) => `${k}=${String(v)}`);
  const extraHosts = optStrList(host, "ExtraHosts");
  if (extraHosts) req.addHosts = extraHosts;
  const dns = optStrList(host, "Dns");
  if (dns?.length) req.dns = dns;
  const log = optObj(host, "LogConfig");
  if (log) {
    const type = optStr(log, "Type");
    if (type && type !== "json-file" && type !== "local" && type !== "k8s-file") warnings.push(`log driver ${type} is not supported; the container's log is berth's own`);
    const cfg = optObj(log, "Config") ?? {};
    const opts = Object.entries(cfg).filter(([k]) => k === "max-size").map(([k, v]) => `${k}=${String(v)}`);
    if (opts.length) req.logOpts = opts;
  }
  if (req.memory === undefined) delete req.memory;
  const cs = host.ConsoleSize;
  const consoleSize = Array.isArray(cs) && cs.length === 2 && cs.every((n) => Number.isInteger(n) && n > 0 && n < 65536)
    ? { height: cs[0] as number, width: cs[1] as number } : undefined;
  return { req, warnings, ...(consoleSize ? { consoleSize } : {}) };
}
