// Mount option strings (as in config.json and fstab) turned into the numbers mount(2) takes.
import { MS } from "../sys/libc.ts";

export interface ParsedMountOptions {
  flags: number;       // MS_* set on the mount itself
  clear: number;       // MS_* explicitly cleared (rw, suid, …) — matters for bind remounts
  propagation: number; // MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (+MS_REC)
  bind: boolean;
  recursive: boolean;  // rbind
  data: string[];      // filesystem-specific options (mode=755, size=…)
}

const SET: Record<string, number> = {
  ro: MS.RDONLY, nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC, sync: MS.SYNCHRONOUS, remount: MS.REMOUNT,
  mand: MS.MANDLOCK, dirsync: MS.DIRSYNC, noatime: MS.NOATIME, nodiratime: MS.NODIRATIME, relatime: MS.RELATIME,
  strictatime: MS.STRICTATIME, nosymfollow: MS.NOSYMFOLLOW, lazytime: MS.LAZYTIME, silent: MS.SILENT,
};
const CLEAR: Record<string, number> = {
  rw: MS.RDONLY, suid: MS.NOSUID, dev: MS.NODEV, exec: MS.NOEXEC, async: MS.SYNCHRONOUS, nomand: MS.MANDLOCK,
  atime: MS.NOATIME, diratime: MS.NODIRATIME, norelatime: MS.RELATIME, nostrictatime: MS.STRICTATIME, symfollow: MS.NOSYMFOLLOW,
  loud: MS.SILENT,
};
export const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};
// Options the runtime understands but that need no flag here.
const IGNORED = new Set(["defaults"]);
// Recursive read-only & co. need mount_setattr(AT_RECURSIVE); refuse rather than pretend.
const UNSUPPORTED = new Set(["rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime", "rdiratime",
  "rrelatime", "rnorelatime", "rnoatime", "ratime", "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow", "idmap", "ridmap", "tmpcopyup"]);

export function parseMountOptions(options: readonly string[] = [], where = "mount"): ParsedMountOptions {
  const out: ParsedMountOptions = { flags: 0, clear: 0, propagation: 0, bind: false, recursive: false, data: [] };
  for (const opt of options) {
    if (opt === "bind") out.bind = true;
    else if (opt === "rbind") { out.bind = true; out.recursive = true; }
    else if (opt in SET) { out.flags |= SET[opt]!; out.clear &= ~SET[opt]!; }
    else if (opt in CLEAR) { out.flags &= ~CLEAR[opt]!; out.clear |= CLEAR[opt]!; }
    else if (opt in PROPAGATION) out.propagation = PROPAGATION[opt]!;
    else if (IGNORED.has(opt)) continue;
    else if (UNSUPPORTED.has(opt)) throw new Error(`${where}: mount option "${opt}" is not supported by berth-runtime yet`);
    else out.data.push(opt);
  }
  return out;
}

export function propagationFlags(name: string | undefined, where: string): number {
  if (name === undefined || name === "") return 0;
  const v = PROPAGATION[name];
  if (v === undefined) throw new Error(`${where}: unknown propagation "${name}"; use one of ${Object.keys(PROPAGATION).join(", ")}`);
  return v;
}
