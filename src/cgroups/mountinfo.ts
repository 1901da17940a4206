// Where the cgroup hierarchies are mounted, and which cgroup a process is in, read from /proc.
// Parsing is pure (text in, data out) so tests can feed it other machines' layouts.
import { readFileSync } from "node:fs";

export interface CgroupMount {
  /** v1: the controllers this hierarchy carries (e.g. ["cpu","cpuacct"]); v2: []. */
  controllers: string[];
  /** "name=systemd"-style named v1 hierarchy, if any. */
  name?: string;
  version: 1 | 2;
  mountPoint: string;
  /** The path inside the hierarchy that is mounted here ("/" unless in a cgroup namespace or bind mount). */
  root: string;
}

const V1_OPTION_SKIP = new Set(["rw", "ro", "nosuid", "nodev", "noexec", "relatime", "noatime", "xattr", "clone_children", "cpuset_v2_mode", "noprefix"]);

/** Undoes the octal escapes mountinfo uses for spaces, tabs, newlines and backslashes. */
function unescape(field: string): string {
  if (!field.includes("\\")) return field; // the usual case: no regex run per field
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(" ");
    const [fstype, , superOpts = ""] = line.slice(sep + 3).split(" ");
    const root = unescape(pre[3] ?? "/");
    const mountPoint = unescape(pre[4] ?? "");
    if (fstype === "cgroup2") {
      mounts.push({ controllers: [], version: 2, mountPoint, root });
    } else if (fstype === "cgroup") {
      const controllers: string[] = [];
      let name: string | undefined;
      for (const opt of superOpts.split(",")) {
        if (opt.startsWith("name=")) name = opt;
        else if (!V1_OPTION_SKIP.has(opt) && !opt.includes("=")) controllers.push(opt);
      }
      mounts.push({ controllers, name, version: 1, mountPoint, root });
    }
  }
  return mounts;
}

/** One line of /proc/PID/cgroup: hierarchy id, controllers ("" for v2), path. */
export interface ProcCgroup {
  id: number;
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): ProcCgroup[] {
  const out: ProcCgroup[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const first = line.indexOf(":"), second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const ctrl = line.slice(first + 1, second);
    out.push({ id: Number(line.slice(0, first)), controllers: ctrl ? ctrl.split(",") : [], path: line.slice(second + 1) });
  }
  return out;
}

export function readMountinfo(): CgroupMount[] {
  return parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"));
}

export function readProcCgroup(pid: number | "self" = "self"): ProcCgroup[] {
  return parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, "utf8"));
}
