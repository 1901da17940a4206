// The OCI runtime spec for a container, derived from its ContainerConfig at each start: docker's
// defaults (mounts, namespaces, capabilities, seccomp, masked paths) fitted to this host
// (rlimits never above the caller's hard limits), then the user's flags on top.
import type { Mount, Namespace, Rlimit, Spec } from "../oci/spec.ts";
import { OCI_VERSION } from "../oci/version.ts";
import { defaultCapabilities } from "../security/capabilities.ts";
import { CAPABILITY_NAMES } from "../security/capabilities.ts";
import { defaultSeccompFor } from "../security/default-profile.ts";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, defaultRlimits } from "../security/defaults.ts";
import type { Seccomp } from "../oci/spec.ts";
import type { ContainerConfig } from "./types.ts";
import { resolveUser } from "./users.ts";
import { mergeEnv } from "./options.ts";
import { commandOf, INIT_IN_CONTAINER } from "./command.ts";
import { baseMounts } from "./base-mounts.ts";
import { hostCapabilities, hostDevices, hostInitBinary, INIT_CANDIDATES } from "./host.ts";
import { cgroupsPathOf, resourcesOf } from "./limits.ts";
import { resolveGroupAdd } from "./users.ts";
import type { NamespaceSpec } from "./namespace-modes.ts";

export { commandOf };

export const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface SpecContext {
  id: string;
  rootfs: string;
  /** Host files bind-mounted at /etc/hosts, /etc/hostname, /etc/resolv.conf (none: keep the image's). */
  etcFiles?: { hosts: string; hostname: string; resolvConf: string };
  /** Host directory for each volume mount's source, by destination. */
  volumeSources: Map<string, string>;
  /** Join this network namespace; "host" = no namespace of its own. */
  netns: "new" | "host" | { path: string };
  /** pid, ipc, uts, cgroup namespaces and /dev/shm from --pid/--ipc/--uts/--cgroupns (default: all new). */
  ns?: NamespaceSpec;
  consoleSize?: { height: number; width: number };
  /** Resolves the default seccomp profile for a capability set (default: defaultSeccompFor). */
  defaultSeccomp?: (capabilities: readonly string[]) => Seccomp;
}

function userMounts(cfg: ContainerConfig, ctx: SpecContext): Mount[] {
  const out: Mount[] = [];
  for (const m of cfg.mounts) {
    if (m.kind === "tmpfs") {
      out.push({ destination: m.destination, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", ...(m.readOnly ? ["ro"] : []), ...(m.options ?? [])] });
      continue;
    }
    const source = m.kind === "bind" ? m.source : ctx.volumeSources.get(m.destination);
    if (!source) throw new Error(`internal: no host directory for the volume at ${m.destination}`);
    out.push({ destination: m.destination, type: "bind", source, options: ["rbind", m.propagation ?? "rprivate", m.readOnly ? "ro" : "rw"] });
  }
  return out;
}

function containerCapabilities(cfg: ContainerConfig) {
  const host = new Set(hostCapabilities());
  const fit = (names: readonly string[]) => names.filter((n) => host.has(n));
  if (cfg.privileged) {
    const all = fit(CAPABILITY_NAMES);
    return { bounding: all, effective: [...all], permitted: [...all] };
  }
  const caps = defaultCapabilities(cfg.capAdd, cfg.capDrop);
  // --cap-add ALL means all the host can give; a named capability the host lacks stays an error.
  if (cfg.capAdd.includes("ALL")) return { bounding: fit(caps.bounding ?? []), effective: fit(caps.effective ?? []), permitted: fit(caps.permitted ?? []) };
  return caps;
}

/** /dev/shm per --ipc: a tmpfs of its own (default), a host directory bound (shareable, host,
 *  container:X), or none (--ipc none). */
function withShm(mounts: Mount[], shm: string | null | undefined): Mount[] {
  if (shm === undefined) return mounts;
  const rest = mounts.filter((m) => m.destination !== "/dev/shm");
  if (shm === null) return rest;
  return [...rest, { destination: "/dev/shm", type: "bind", source: shm, options: ["rbind", "rprivate", "nosuid", "noexec", "nodev"] }];
}

/** docker's default rlimits, with each --ulimit replacing the limit of its name. */
function rlimitsOf(cfg: ContainerConfig): Rlimit[] {
  const out = defaultRlimits();
  for (const u of cfg.ulimits ?? []) {
    const type = `RLIMIT_${u.name.toUpperCase()}`;
    const entry = { type, soft: u.soft, hard: u.hard };
    const at = out.findIndex((r) => r.type === type);
    if (at >= 0) out[at] = entry;
    else out.push(entry);
  }
  return out;
}

export function buildSpec(cfg: ContainerConfig, ctx: SpecContext): Spec {
  const user = resolveUser(ctx.rootfs, cfg.user);
  const caps = containerCapabilities(cfg);
  const env = mergeEnv([DEFAULT_PATH, `HOSTNAME=${cfg.hostname}`], cfg.tty ? ["TERM=xterm"] : [], cfg.env);
  if (!env.some((e) => e.startsWith("HOME="))) env.push(`HOME=${user.home}`);
  const namespaces: Namespace[] = [{ type: "mount" }, ...(ctx.ns?.namespaces ?? [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "cgroup" }])];
  if (cfg.userns) namespaces.push({ type: "user" });
  if (ctx.netns === "new") namespaces.push({ type: "network" });
  else if (ctx.netns !== "host") namespaces.push({ type: "network", path: ctx.netns.path });
  // --uts host: the host's name stays; the kernel's is not set (no uts namespace of its own).
  const ownUts = namespaces.some((n) => n.type === "uts");

  const mounts = withShm(baseMounts(cfg), ctx.ns?.shm);
  if (ctx.etcFiles) {
    mounts.push(
      { destination: "/etc/hosts", type: "bind", source: ctx.etcFiles.hosts, options: ["rbind", "rprivate"] },
      { destination: "/etc/hostname", type: "bind", source: ctx.etcFiles.hostname, options: ["rbind", "rprivate"] },
      { destination: "/etc/resolv.conf", type: "bind", source: ctx.etcFiles.resolvConf, options: ["rbind", "rprivate"] },
    );
  }
  if (cfg.init) {
    const init = hostInitBinary();
    if (!init) throw new Error(`--init needs tini on the host (looked for ${INIT_CANDIDATES.join(", ")}); install it: apt-get install tini`);
    mounts.push({ destination: INIT_IN_CONTAINER, type: "bind", source: init, options: ["bind", "ro"] });
  }
  mounts.push(...userMounts(cfg, ctx));

  let seccomp: Seccomp | undefined;
  if (!cfg.privileged && cfg.seccomp !== "unconfined") {
    seccomp = cfg.seccomp === "default" ? (ctx.defaultSeccomp ?? defaultSeccompFor)(caps.bounding ?? []) : (cfg.seccompProfile as Seccomp);
  }
  const resources = resourcesOf(cfg) ?? {};
  // Every container carries a device cgroup (docker's): deny all, and the runtime adds the
  // devices every container has (null, zero, ptys…). Without a rule list the runtime would make
  // no device cgroup at all, and a node made with mknod (or shipped in a layer) would open.
  resources.devices = cfg.privileged ? [{ allow: true, access: "rwm" }] : [{ allow: false, access: "rwm" }];
  // --device and --device-cgroup-rule add to it (the runtime makes each --device node).
  for (const d of cfg.devices ?? []) resources.devices.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions });
  for (const r of cfg.deviceCgroupRules ?? []) resources.devices.push({ allow: true, type: r.type, major: r.major, minor: r.minor, access: r.access });
  const own = (cfg.devices ?? []).map((d) => ({ type: d.type, path: d.containerPath, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid }));
  // With --privileged too, a --device path is made once, as the flag says.
  const devices = [...(cfg.privileged ? hostDevices().filter((h) => !own.some((d) => d.path === h.path)) : []), ...own];
  const gids = [...user.additionalGids, ...resolveGroupAdd(ctx.rootfs, cfg.groupAdd ?? [])].filter((g, i, all) => g !== user.gid && all.indexOf(g) === i);
  const cgroupsPath = cgroupsPathOf(cfg, ctx.id);

  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: cfg.tty,
      ...(cfg.tty && ctx.consoleSize ? { consoleSize: ctx.consoleSize } : {}),
      user: { uid: user.uid, gid: user.gid, ...(gids.length ? { additionalGids: gids } : {}) },
      args: commandOf(cfg),
      env,
      cwd: cfg.workingDir || "/",
      capabilities: caps,
      rlimits: rlimitsOf(cfg),
      noNewPrivileges: cfg.noNewPrivileges,
      oomScoreAdj: cfg.oomScoreAdj ?? 0,
    },
    root: { path: ctx.rootfs, readonly: cfg.readOnly },
    ...(ownUts ? { hostname: cfg.hostname } : {}),
    ...(ownUts && cfg.domainname ? { domainname: cfg.domainname } : {}),
    mounts,
    linux: {
      namespaces,
      ...(cfg.userns ? { uidMappings: cfg.userns.uidMap, gidMappings: cfg.userns.gidMap } : {}),
      resources,
      ...(devices.length ? { devices } : {}),
      ...(cgroupsPath ? { cgroupsPath } : {}),
      ...(cfg.sysctls && Object.keys(cfg.sysctls).length ? { sysctl: cfg.sysctls } : {}),
      ...(cfg.privileged ? {} : { maskedPaths: [...DEFAULT_MASKED_PATHS], readonlyPaths: [...DEFAULT_READONLY_PATHS] }),
      ...(seccomp ? { seccomp } : {}),
    },
    annotations: { "berth.container.id": ctx.id },
  };
}
