// docker's base mounts of every container, as data: spec.ts builds the spec's mounts from them,
// and cp's view of a container's tree (container-fs.ts) reads them without loading the spec builder.
import type { Mount } from "../oci/spec.ts";
import type { ContainerConfig } from "./types.ts";

/** docker's /dev/shm size without --shm-size: 64 MiB. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** The kernel file systems and tmpfs every container gets (/dev/shm sized by --shm-size) (berth cp reads this list too: they
 *  exist only while the container runs). */
export function baseMounts(cfg: ContainerConfig): Mount[] {
  const sysOpts = ["nosuid", "noexec", "nodev", cfg.privileged ? "rw" : "ro"];
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: sysOpts },
    { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${cfg.shmSize ?? DEFAULT_SHM_SIZE}`] },
  ];
}
