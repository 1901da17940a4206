// Which sysctls a container may set: only those that belong to a kernel namespace the container
// has of its own; anything else would change the host (runc refuses the same way). One rule for
// the runtime's plan and the engine's --sysctl, so a container is refused when it is created.
import type { NamespaceType } from "../oci/spec.ts";

const IPC_SYSCTLS = new Set(["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
  "kernel.shmmni", "kernel.shm_rmid_forced"]);

/** A name that stays inside /proc/sys: words, dots, dashes and slashes, no "..". */
export function validSysctlName(key: string): boolean {
  return /^[\w.\-/]+$/.test(key) && !key.includes("..");
}

/** The namespace a sysctl belongs to, or undefined when it is host-wide. */
export function sysctlNamespace(key: string): NamespaceType | undefined {
  const k = key.replaceAll("/", ".");
  return k.startsWith("net.") ? "network"
    : IPC_SYSCTLS.has(k) || k.startsWith("fs.mqueue.") ? "ipc"
    : k === "kernel.hostname" || k === "kernel.domainname" ? "uts" : undefined;
}
