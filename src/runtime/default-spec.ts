// The config.json that `berth-runtime spec` writes: the same shape runc's has, so tutorials
// written for `runc spec` work unchanged (seed 000 edits args and terminal, then runs it).
// Here in runtime/, not in oci/: it takes Berth's hardening defaults from security/, and oci/
// holds only the spec's types and validation (below security).
import { statfsSync } from "node:fs";
import type { Spec } from "../oci/spec.ts";
import { OCI_VERSION } from "../oci/version.ts";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from "../security/defaults.ts";
import { defaultSeccompFor } from "../security/default-profile.ts";

/** True when /sys/fs/cgroup is a cgroup2 filesystem (no v1 hierarchies). */
function unifiedOnly(): boolean {
  try {
    return statfsSync("/sys/fs/cgroup").type === 0x63677270; // CGROUP2_SUPER_MAGIC
  } catch {
    return false;
  }
}

/** runc's `spec` defaults; `seccomp` adds Berth's default profile (Docker-equivalent). */
export function defaultSpec(opts: { rootless?: boolean; uid?: number; gid?: number; seccomp?: boolean } = {}): Spec {
  const caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "berth",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
      { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
      { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
      { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      // A cgroup namespace only where cgroup v2 is the whole hierarchy, as runc's spec does: on v1
      // and hybrid hosts runc's suite (and tools written for runc) add one themselves when wanted.
      namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, ...(unifiedOnly() ? [{ type: "cgroup" as const }] : [])],
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  if (opts.seccomp) spec.linux!.seccomp = defaultSeccompFor(caps);
  if (opts.rootless) {
    const uid = opts.uid ?? process.getuid?.() ?? 0;
    const gid = opts.gid ?? process.getgid?.() ?? 0;
    spec.linux!.namespaces = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, ...(unifiedOnly() ? [{ type: "cgroup" as const }] : []), { type: "user" }];
    spec.linux!.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
    spec.linux!.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
    delete spec.linux!.resources;
    // Without a network namespace of its own a rootless container cannot mount sysfs: bind it.
    spec.mounts = spec.mounts!.filter((m) => m.type !== "cgroup").map((m) =>
      m.destination === "/sys" ? { destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"] } : m,
    );
    spec.mounts = spec.mounts.map((m) => (m.destination === "/dev/pts" ? { ...m, options: m.options!.filter((o) => o !== "gid=5") } : m));
  }
  return spec;
}
