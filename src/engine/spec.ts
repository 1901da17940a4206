// The OCI runtime spec for a container, derived from its ContainerConfig at each start: docker's
// defaults (mounts, namespaces, capabilities, seccomp, masked paths) fitted to this host
// (rlimits never above the caller's hard limits), then the user's flags on top.
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import type { Device, LinuxResources, Mount, Namespace, Spec } from "../oci/spec.ts";
import { OCI_VERSION } from "../oci/version.ts";
import { defaultCapabilities } from "../security/capabilities.ts";
import { CAPABILITY_NAMES, capabilitiesFromMask } from "../security/capabilities.ts";
import { defaultSeccompFor } from "../security/default-profile.ts";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, defaultRlimits } from "../security/defaults.ts";
import type { Seccomp } from "../oci/spec.ts";
import { swapAccounting } from "../cgroups/features.ts";
import type { ContainerConfig } from "./types.ts";
import { resolveUser } from "./users.ts";
import { mergeEnv } from "./options.ts";
import { commandOf, INIT_IN_CONTAINER } from "./command.ts";
import { baseMounts } from "./base-mounts.ts";

export { commandOf };

export const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** A host binary usable as --init (docker ships tini as docker-init). */
// Static builds first: the binary runs inside the image, which may have no libc.
export const INIT_CANDIDATES = ["/usr/bin/tini-static", "/usr/libexec/docker/docker-init", "/usr/bin/docker-init", "/usr/bin/tini"];

/** --privileged: the host's top-level device nodes (docker gives them all), minus the ones the
 *  runtime makes itself or that belong to the host's terminals. */
export function hostDevices(dir = "/dev"): Device[] {
  const skip = /^(console|ptmx|tty\d*|null|zero|full|random|urandom|fuse)$/;
  const out: Device[] = [];
  for (const name of readdirSync(dir)) {
    if (skip.test(name)) continue;
    let st;
    try {
      st = lstatSync(`${dir}/${name}`);
    } catch {
      continue;
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) continue;
    const rdev = Number(st.rdev);
    out.push({
      type: st.isCharacterDevice() ? "c" : "b", path: `/dev/${name}`,
      // glibc's dev_t layout; devices here fit in 32 bits (JS shifts are 32-bit).
      major: (rdev >>> 8) & 0xfff, minor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00),
      fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid,
    });
  }
  return out;
}

export function hostInitBinary(): string | null {
  return INIT_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export interface SpecContext {
  id: string;
  rootfs: string;
  /** Host files bind-mounted at /etc/hosts, /etc/hostname, /etc/resolv.conf (none: keep the image's). */
  etcFiles?: { hosts: string; hostname: string; resolvConf: string };
  /** Host directory for each volume mount's source, by destination. */
  volumeSources: Map<string, string>;
  /** Join this network namespace; "host" = no namespace of its own. */
  netns: "new" | "host" | { path: string };
  consoleSize?: { height: number; width: number };
  /** Resolves the default seccomp profile for a capability set (default: defaultSeccompFor). */
  defaultSeccomp?: (capabilities: readonly string[]) => Seccomp;
}

const CPU_PERIOD = 100_000;

export function resourcesOf(cfg: ContainerConfig, canLimitSwap = swapAccounting()): LinuxResources | undefined {
  const r = cfg.resources;
  const out: LinuxResources = {};
  if (r.memory !== undefined) {
    out.memory = { limit: r.memory };
    // docker: without --memory-swap the container may use as much swap as memory.
    if (canLimitSwap) out.memory.swap = r.memorySwap ?? r.memory * 2;
  }
  if (r.cpus !== undefined) out.cpu = { ...out.cpu, quota: Math.round(r.cpus * CPU_PERIOD), period: CPU_PERIOD };
  if (r.cpuShares !== undefined) out.cpu = { ...out.cpu, shares: r.cpuShares };
  if (r.pidsLimit !== undefined) out.pids = { limit: r.pidsLimit };
  return Object.keys(out).length ? out : undefined;
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
    out.push({ destination: m.destination, type: "bind", source, options: ["rbind", "rprivate", m.readOnly ? "ro" : "rw"] });
  }
  return out;
}

/** The full argv: --init's binary first, then entrypoint + cmd. */
/** The capabilities this process may hand out: its bounding set (this host lacks CAP_SYS_RESOURCE). */
export function hostCapabilities(status = readFileSync("/proc/self/status", "utf8")): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1];
  return hex ? capabilitiesFromMask(BigInt(`0x${hex}`)) : [...CAPABILITY_NAMES];
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

export function buildSpec(cfg: ContainerConfig, ctx: SpecContext): Spec {
  const user = resolveUser(ctx.rootfs, cfg.user);
  const caps = containerCapabilities(cfg);
  const env = mergeEnv([DEFAULT_PATH, `HOSTNAME=${cfg.hostname}`], cfg.tty ? ["TERM=xterm"] : [], cfg.env);
  if (!env.some((e) => e.startsWith("HOME="))) env.push(`HOME=${user.home}`);
  const namespaces: Namespace[] = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "cgroup" }];
  if (ctx.netns === "new") namespaces.push({ type: "network" });
  else if (ctx.netns !== "host") namespaces.push({ type: "network", path: ctx.netns.path });

  const mounts = baseMounts(cfg);
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

  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: cfg.tty,
      ...(cfg.tty && ctx.consoleSize ? { consoleSize: ctx.consoleSize } : {}),
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) },
      args: commandOf(cfg),
      env,
      cwd: cfg.workingDir || "/",
      capabilities: caps,
      rlimits: defaultRlimits(),
      noNewPrivileges: cfg.noNewPrivileges,
      oomScoreAdj: 0,
    },
    root: { path: ctx.rootfs, readonly: cfg.readOnly },
    hostname: cfg.hostname,
    ...(cfg.domainname ? { domainname: cfg.domainname } : {}),
    mounts,
    linux: {
      namespaces,
      resources,
      ...(cfg.privileged ? { devices: hostDevices() } : {}),
      ...(cfg.sysctls && Object.keys(cfg.sysctls).length ? { sysctl: cfg.sysctls } : {}),
      ...(cfg.privileged ? {} : { maskedPaths: [...DEFAULT_MASKED_PATHS], readonlyPaths: [...DEFAULT_READONLY_PATHS] }),
      ...(seccomp ? { seccomp } : {}),
    },
    annotations: { "berth.container.id": ctx.id },
  };
}
