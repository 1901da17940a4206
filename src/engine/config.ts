// From what the user typed (CreateRequest) and the image's config to a ContainerConfig, applying
// docker's rules: --entrypoint replaces the image's Entrypoint and clears its Cmd; arguments
// after the image replace Cmd; env is image Env, then --env-file, then -e; -w/-u override.
import { existsSync, readFileSync } from "node:fs";
import type { ImageConfig } from "../image/oci.ts";
import { CAPABILITY_NAMES, normalizeCapability } from "../security/capabilities.ts";
import { validHostname } from "../network/files.ts";
import { parseIPv4 } from "../network/cidr.ts";
import { parseNetworkMode, type NetworkMode } from "../network/mode.ts";
import { EngineError, UsageError } from "./errors.ts";
import { checkUserSyntax } from "./users.ts";
import {
  containerPath, expandEnv, mergeEnv, parseCpus, parseInteger, parseLabels, parseMemory, parseMemorySwap, parsePublish, parseRestart,
  parseMount, parseSignal, parseSize, parseTmpfs, parseVolumeSpec, readEnvFile,
} from "./options.ts";
import { checkStartable } from "./config-checks.ts";
import { checkNamespaceConflicts, parseNamespaceModes } from "./namespace-modes.ts";
import { parseUserns } from "./userns.ts";
import { healthConfig, type HealthRequest } from "./health-config.ts";
import type { BindMount, ContainerConfig, NamespaceModes } from "./types.ts";
import { extraLimits, processAndDeviceConfig, type ResourceRequest } from "./resource-flags.ts";

export interface CreateRequest extends ResourceRequest {
  image: string;
  /** --pull: pull the image when it is missing (default), always, or never. */
  pull?: PullPolicy;
  /** --platform OS/ARCH[/VARIANT]: which image of a multi-platform index a pull takes. */
  platform?: string;
  name?: string;
  /** Arguments after IMAGE (replace the image's Cmd when non-empty). */
  args: string[];
  /** --entrypoint: "" clears the image's entrypoint. */
  entrypoint?: string;
  env?: string[];
  envFiles?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  domainname?: string;
  tty?: boolean;
  interactive?: boolean;
  rm?: boolean;
  restart?: string;
  labels?: string[];
  labelFiles?: string[];
  volumes?: string[];
  tmpfs?: string[];
  readOnly?: boolean;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  pidsLimit?: string;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  securityOpt?: string[];
  init?: boolean;
  network?: string;
  /** --network-alias: more names the other members of its user networks resolve to it. */
  networkAliases?: string[];
  /** --ip: the address on the one user network the container joins. */
  ip?: string;
  /** network name → its IPv4 address there (compose's ipv4_address, the API's IPAMConfig). */
  ips?: Record<string, string>;
  publish?: string[];
  stopSignal?: string;
  stopTimeout?: string;
  /** --userns host|auto[:size=N]; --uidmap/--gidmap CTR:HOST:SIZE (userns.ts). */
  userns?: string;
  uidmap?: string[];
  gidmap?: string[];
  /** --pid, --ipc, --uts, --cgroupns (namespaces.ts). */
  pid?: string;
  ipc?: string;
  uts?: string;
  cgroupns?: string;
  sysctls?: string[];
  logMaxBytes?: number;
  /** -P: every exposed port on a random host port. */
  publishAll?: boolean;
  addHosts?: string[];
  dns?: string[];
  /** --log-opt KEY=VALUE (max-size). */
  logOpts?: string[];
  /** --health-cmd/-interval/-timeout/-retries/-start-period, --no-healthcheck (compose: healthcheck). */
  health?: HealthRequest;
  /** --mount type=bind|volume|tmpfs,… (docker's CSV form). */
  mounts?: string[];
  /** --cidfile: write the new container's ID to this file (which must not exist). */
  cidfile?: string;
}

export type PullPolicy = "missing" | "always" | "never";

export interface ImageInfo {
  ref: string;
  id: string;
  config: ImageConfig;
}

const DEFAULT_LOG_MAX = 10 * 1024 * 1024;

function capList(names: string[] | undefined, flag: string): string[] {
  return (names ?? []).map((n) => {
    if (n.toUpperCase() === "ALL") return "ALL";
    try {
      return normalizeCapability(n);
    } catch {
      throw new UsageError(`invalid ${flag} value "${n}": unknown capability; known: ${CAPABILITY_NAMES.map((c) => c.slice(4)).join(", ")}, ALL`);
    }
  });
}

function parseSecurityOpts(opts: string[]): { seccomp: string; seccompProfile?: unknown; noNewPrivileges: boolean } {
  let seccomp = "default";
  let seccompProfile: unknown;
  let noNewPrivileges = false;
  for (const o of opts) {
    const [k, v = ""] = o.includes("=") ? [o.slice(0, o.indexOf("=")), o.slice(o.indexOf("=") + 1)] : o.includes(":") ? [o.slice(0, o.indexOf(":")), o.slice(o.indexOf(":") + 1)] : [o, ""];
    if (k === "no-new-privileges") {
      if (!["", "true", "false"].includes(v)) throw new UsageError(`invalid --security-opt: ${JSON.stringify(o)}: no-new-privileges takes true or false`);
      noNewPrivileges = v !== "false";
    } else if (k === "seccomp") {
      if (v === "unconfined") seccomp = "unconfined";
      else if (v === "" || v === "default") seccomp = "default";
      else {
        let text: string;
        try {
          text = readFileSync(v, "utf8");
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw new UsageError(`opening seccomp profile (${v}) failed: open ${v}: ${code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
        }
        try {
          seccompProfile = JSON.parse(text);
        } catch (e) {
          throw new UsageError(`decoding seccomp profile (${v}) failed: ${(e as Error).message}`);
        }
        seccomp = v;
      }
    } else if (k === "apparmor" || k === "label") {
      // no AppArmor/SELinux on this engine: accepted and ignored, as docker does when they are off
    } else {
      throw new UsageError(`invalid --security-opt: ${JSON.stringify(o)} (use seccomp=FILE|unconfined, no-new-privileges)`);
    }
  }
  return { seccomp, seccompProfile, noNewPrivileges };
}

function sysctlMap(list: string[] | undefined): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  const out: Record<string, string> = {};
  for (const s of list) {
    const at = s.indexOf("=");
    if (at <= 0) throw new UsageError(`invalid --sysctl "${s}": use KEY=VALUE`);
    out[s.slice(0, at)] = s.slice(at + 1);
  }
  return out;
}

export function buildConfig(req: CreateRequest, image: ImageInfo, id: string): ContainerConfig {
  const ic = image.config;
  let entrypoint: string[];
  let cmd: string[];
  if (req.entrypoint !== undefined) {
    entrypoint = req.entrypoint === "" ? [] : [req.entrypoint];
    cmd = req.args;
  } else {
    entrypoint = ic.Entrypoint ?? [];
    cmd = req.args.length > 0 ? req.args : ic.Cmd ?? [];
  }
  if (entrypoint.length === 0 && cmd.length === 0) {
    throw new EngineError("no command specified: the image has no Cmd or Entrypoint; give a command after the image name");
  }
  const userEnv = (req.env ?? []).map((e) => expandEnv(e)).filter((e): e is string => e !== null);
  const fileEnv = (req.envFiles ?? []).flatMap(readEnvFile);
  const env = mergeEnv(ic.Env ?? [], fileEnv, userEnv);

  const mounts: BindMount[] = [];
  for (const v of req.volumes ?? []) mounts.push(parseVolumeSpec(v, existsSync));
  for (const t of req.tmpfs ?? []) mounts.push(parseTmpfs(t));
  for (const m of req.mounts ?? []) mounts.push(parseMount(m, existsSync));
  // The image's VOLUMEs not covered by -v become anonymous volumes, as docker does.
  for (const dest of Object.keys(ic.Volumes ?? {})) {
    const d = imageVolumePath(dest, image.ref);
    if (!mounts.some((m) => m.destination === d)) mounts.push({ kind: "volume", source: "", destination: d, readOnly: false });
  }
  const seen = new Set<string>();
  for (const m of mounts) {
    if (seen.has(m.destination)) throw new UsageError(`Duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
  }

  const restart = parseRestart(req.restart ?? "no");
  if (req.rm && restart.name !== "no") throw new UsageError("Conflicting options: --restart and --rm");
  const memory = req.memory !== undefined ? parseMemory(req.memory) : undefined;
  const memorySwap = req.memorySwap !== undefined ? parseMemorySwap(req.memorySwap) : undefined;
  // docker's rule (the spec would drop a swap limit without a memory limit); that swap is not
  // below memory is the cgroups' rule, checked with the other limits (config-checks.ts).
  if (memorySwap !== undefined && memorySwap !== -1 && memory === undefined) {
    throw new UsageError("You should always set the Memory limit when using Memoryswap limit");
  }
  const network = req.network ?? "bridge";
  const mode = networkMode(network);
  // "" is docker's "not set" for -h, as for -w and -u.
  const hostname = req.hostname || undefined;
  if (hostname !== undefined && !validHostname(hostname)) throw new UsageError(`invalid hostname format: ${hostname}`);
  if (req.domainname && !validHostname(req.domainname)) throw new UsageError(`invalid domainname format: ${req.domainname}`);
  checkNetworkConflicts(mode, { ...req, hostname });
  const ips = staticAddresses(mode, req);
  const namespaces = parseNamespaceModes(req);
  checkNamespaceConflicts(namespaces, { ...req, hostname });
  const user = req.user || ic.User || "";
  checkUserSyntax(user);
  const userns = parseUserns(req);
  if (userns) checkUsernsConflicts(namespaces, req.privileged ?? false);
  const security = parseSecurityOpts(req.securityOpt ?? []);
  const base: ContainerConfig["resources"] = {
    memory,
    memorySwap,
    cpus: req.cpus !== undefined ? parseCpus(req.cpus) : undefined,
    cpuShares: req.cpuShares !== undefined ? parseInteger(req.cpuShares, "-c, --cpu-shares", 2) : undefined,
    pidsLimit: req.pidsLimit !== undefined ? parsePidsLimit(req.pidsLimit) : undefined,
  };
  const resources = { ...base, ...extraLimits(req, base) };
  const stopSignal = req.stopSignal ?? ic.StopSignal ?? "SIGTERM";
  const healthcheck = healthConfig(req.health ?? {}, ic.Healthcheck);
  parseSignal(stopSignal);
  const config: ContainerConfig = {
    image: image.ref,
    imageId: image.id,
    entrypoint,
    cmd,
    env,
    workingDir: req.workdir || ic.WorkingDir || "",
    user,
    hostname: hostname ?? (network === "host" || namespaces.uts === "host" ? hostHostname() : id.slice(0, 12)),
    domainname: req.domainname || undefined,
    tty: req.tty ?? false,
    openStdin: req.interactive ?? false,
    autoRemove: req.rm ?? false,
    restart,
    labels: { ...(ic.Labels ?? {}), ...parseLabels(req.labels ?? [], req.labelFiles ?? []) },
    network,
    ...(req.networkAliases?.length ? { networkAliases: req.networkAliases } : {}),
    ...(Object.keys(ips).length ? { ips } : {}),
    mounts,
    readOnly: req.readOnly ?? false,
    resources,
    capAdd: capList(req.capAdd, "--cap-add"),
    capDrop: capList(req.capDrop, "--cap-drop"),
    privileged: req.privileged ?? false,
    seccomp: security.seccomp,
    seccompProfile: security.seccompProfile,
    noNewPrivileges: security.noNewPrivileges,
    init: req.init ?? false,
    exposedPorts: Object.keys(ic.ExposedPorts ?? {}),
    publish: publishList(req, ic.ExposedPorts),
    stopSignal,
    stopTimeout: req.stopTimeout !== undefined ? parseInteger(req.stopTimeout, "--stop-timeout", -1) : 10,
    logMaxBytes: logMaxBytes(req),
    sysctls: sysctlMap(req.sysctls),
    ...(req.addHosts?.length ? { extraHosts: req.addHosts.map((h) => parseAddHost(h, mode)) } : {}),
    ...(req.dns?.length ? { dns: req.dns.map(checkIp("--dns")) } : {}),
    namespaces,
    ...(userns ? { userns } : {}),
    ...(healthcheck ? { healthcheck } : {}),
    ...processAndDeviceConfig(req),
    ...(req.cidfile ? { cidFile: req.cidfile } : {}),
  };
  checkStartable(config);
  return config;
}

function networkMode(value: string): NetworkMode {
  try {
    return parseNetworkMode(value);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A user namespace of its own cannot mount /proc of a pid namespace, or /dev/mqueue of an ipc
 *  namespace, that another user namespace owns (docker: "cannot share the host's PID namespace
 *  when user namespaces are enabled"); --privileged means the host's root (docker refuses it too). */
function checkUsernsConflicts(modes: NamespaceModes, privileged: boolean): void {
  if (privileged) throw new UsageError("privileged mode is incompatible with user namespaces: use --userns=host with --privileged");
  if (modes.pid !== "private") throw new UsageError(`--pid ${modes.pid} cannot be used with a user namespace of the container's own (its /proc needs a pid namespace it owns): use --userns=host`);
  if (modes.ipc === "host" || modes.ipc.startsWith("container:")) throw new UsageError(`--ipc ${modes.ipc} cannot be used with a user namespace of the container's own (its /dev/mqueue needs an ipc namespace it owns): use --userns=host`);
}

/** docker's rules: a container that joins another's network namespace takes its name, resolver,
 *  hosts file and ports as they are. */
function checkNetworkConflicts(mode: NetworkMode, req: Pick<CreateRequest, "hostname" | "dns" | "addHosts" | "publish" | "publishAll">): void {
  if (mode.kind !== "container") return;
  if (req.hostname) throw new UsageError("conflicting options: hostname and the network mode");
  if (req.dns?.length) throw new UsageError("conflicting options: dns and the network mode");
  if (req.addHosts?.length) throw new UsageError("conflicting options: custom host-to-IP mapping and the network mode");
  if (req.publish?.length || req.publishAll) throw new UsageError("conflicting options: port publishing and the container type network mode");
}


/**
 * --ip and per-network addresses, checked as docker does at create: IPv4, on user networks the
 * container joins (the default bridge hands out its own); whether the address is free and inside
 * the subnet is the network's to say when the container starts.
 */
function staticAddresses(mode: NetworkMode, req: Pick<CreateRequest, "ip" | "ips">): Record<string, string> {
  const ips: Record<string, string> = { ...(req.ips ?? {}) };
  if (req.ip) {
    if (mode.kind !== "bridge" || mode.networks.length !== 1) throw new UsageError("--ip needs exactly one user network (--network NAME)");
    ips[mode.networks[0]!] = req.ip;
  }
  for (const [net, addr] of Object.entries(ips)) {
    try {
      parseIPv4(addr);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (mode.kind !== "bridge" || !mode.networks.includes(net)) throw new UsageError(`address ${addr} for network ${net}: the container does not join that network`);
    if (net === "bridge") throw new UsageError("user specified IP address is supported on user defined networks only");
  }
  return ips;
}

/** An image's VOLUME path, as a mount destination: absolute and not the root itself. */
function imageVolumePath(dest: string, ref: string): string {
  try {
    return containerPath(dest, dest);
  } catch {
    throw new UsageError(`image ${ref} has an invalid VOLUME ${JSON.stringify(dest)}: a volume path must be absolute and not "/"`);
  }
}

function checkIp(flag: string) {
  return (ip: string): string => {
    if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(ip) || ip.split(".").some((o) => Number(o) > 255)) {
      throw new UsageError(`invalid IP address in ${flag}: ${ip}`);
    }
    return ip;
  };
}

/** --add-host NAME:IP (docker also accepts NAME=IP); IP host-gateway is the bridge's gateway. */
function parseAddHost(spec: string, mode: NetworkMode): { ip: string; names: string[] } {
  const at = spec.search(/[:=]/);
  if (at <= 0) throw new UsageError(`invalid --add-host "${spec}": use NAME:IP`);
  const name = spec.slice(0, at), ip = spec.slice(at + 1);
  // A name is one word of the hosts file: a blank or '#' would add names or cut the line.
  if (/[\s#\0]/.test(name)) throw new UsageError(`invalid --add-host "${spec}": the name may not contain blanks or '#'`);
  if (ip === "host-gateway") {
    if (mode.kind !== "bridge") throw new UsageError(`invalid --add-host "${spec}": host-gateway needs a bridge network (this container has --network ${mode.kind})`);
    return { ip, names: [name] };
  }
  return { ip: checkIp("--add-host")(ip), names: [name] };
}

/** -p as given, then (-P) every EXPOSE'd port not published already, on a random host port. */
function publishList(req: CreateRequest, exposed: Record<string, object> | undefined): ContainerConfig["publish"] {
  const out = (req.publish ?? []).flatMap(parsePublish);
  if (req.publishAll) {
    for (const e of Object.keys(exposed ?? {}).flatMap(parsePublish)) {
      if (!out.some((p) => p.containerPort === e.containerPort && p.proto === e.proto)) out.push(e);
    }
  }
  return out;
}

function logMaxBytes(req: CreateRequest): number {
  let max = req.logMaxBytes ?? DEFAULT_LOG_MAX;
  for (const o of req.logOpts ?? []) {
    const [k, v = ""] = o.split("=", 2) as [string, string?];
    if (k === "max-size") max = parseSize(v, "--log-opt max-size");
    else if (k === "max-file") {
      // Accepted for docker compatibility (the monitor keeps one rotated file), but checked like docker.
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`invalid value for log opt max-file: ${JSON.stringify(v)} (a positive integer)`);
    } else throw new UsageError(`unknown log opt '${k}' (berth's monitor supports max-size; it keeps one rotated file)`);
  }
  return max;
}

function parsePidsLimit(v: string): number | undefined {
  const n = parseInteger(v, "--pids-limit", -1);
  return n <= 0 ? undefined : n; // docker: 0 or -1 = unlimited
}

function hostHostname(): string {
  try {
    return readFileSync("/proc/sys/kernel/hostname", "utf8").trim();
  } catch {
    return "localhost";
  }
}

