// --pid, --ipc, --uts and --cgroupns as docker takes them, parsed once when the container is
// created (no engine needed: config.ts and spec.ts use this); namespaces.ts applies them.
import type { Namespace } from "../oci/spec.ts";
import { UsageError } from "./errors.ts";
import type { JoinedNamespace, NamespaceModes } from "./types.ts";

export const PRIVATE_NAMESPACES: NamespaceModes = { pid: "private", ipc: "private", uts: "private", cgroup: "private" };

export interface NamespaceRequest {
  pid?: string;
  ipc?: string;
  uts?: string;
  cgroupns?: string;
}

function joined(value: string, flag: string): JoinedNamespace | undefined {
  if (!value.startsWith("container:")) return undefined;
  if (value === "container:") throw new UsageError(`--${flag} container: needs a container name or id, e.g. --${flag} container:web`);
  return value as JoinedNamespace;
}

/** The flags as typed → the modes (docker's words for a value it does not know). */
export function parseNamespaceModes(req: NamespaceRequest): NamespaceModes {
  const pid = req.pid ?? "";
  const ipc = req.ipc ?? "";
  const uts = req.uts ?? "";
  const cgroupns = req.cgroupns ?? "";
  const modes: NamespaceModes = { ...PRIVATE_NAMESPACES };
  if (pid === "host") modes.pid = "host";
  else if (pid !== "" && pid !== "private") modes.pid = joined(pid, "pid") ?? bad("pid", pid, "host, container:NAME");
  if (ipc === "" || ipc === "private") modes.ipc = "private";
  else if (ipc === "shareable" || ipc === "none" || ipc === "host") modes.ipc = ipc;
  else modes.ipc = joined(ipc, "ipc") ?? bad("ipc", ipc, "private, shareable, none, host, container:NAME");
  if (uts === "host") modes.uts = "host";
  else if (uts !== "" && uts !== "private") bad("uts", uts, "host");
  if (cgroupns === "host") modes.cgroup = "host";
  else if (cgroupns !== "" && cgroupns !== "private") throw new UsageError(`invalid argument "${cgroupns}" for "--cgroupns" flag: invalid cgroup namespace mode: use "host" or "private"`);
  return modes;
}

function bad(flag: string, value: string, known: string): never {
  throw new UsageError(`invalid --${flag}: ${value} (use ${known})`);
}

/** docker's conflicts between the modes and the other options (sysctls: config-checks.ts). */
export function checkNamespaceConflicts(modes: NamespaceModes, req: { hostname?: string; domainname?: string }): void {
  if (modes.uts === "host" && req.hostname) throw new UsageError("conflicting options: hostname and the UTS mode");
  if (modes.uts === "host" && req.domainname) throw new UsageError("conflicting options: domainname and the UTS mode");
}

export interface NamespaceSpec {
  /** pid, ipc, uts and cgroup entries for linux.namespaces (absent: the host's). */
  namespaces: Namespace[];
  /** What to bind at /dev/shm instead of a tmpfs of its own; null: no /dev/shm (ipc none). */
  shm?: string | null;
}

