// Mount option strings (as in config.json and fstab) turned into the numbers mount(2) takes.
import { MOUNT_ATTR, MS } from "../sys/libc.ts";

export interface ParsedMountOptions {
  flags: number;       // MS_* set on the mount itself
  clear: number;       // MS_* explicitly cleared (rw, suid, …) — matters for bind remounts
  propagation: number; // MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (+MS_REC)
  bind: boolean;
  recursive: boolean;  // rbind
  data: string[];      // filesystem-specific options (mode=755, size=…)
  /** The recursive options (rro, rnosuid, …): mount_setattr(AT_RECURSIVE) attributes set and
   *  cleared on the mount and everything under it, once it is made. */
  recursiveSet: number;
  recursiveClear: number;
  /** tmpcopyup: a tmpfs starts with a copy of what the directory under it held. */
  copyUp: boolean;
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
// The recursive options (runc's, runtime-spec's "mount options"): what each sets or clears with
// mount_setattr(AT_RECURSIVE) on the whole tree of the mount, submounts of an rbind included.
const RECURSIVE_SET: Record<string, number> = {
  rro: MOUNT_ATTR.RDONLY, rnosuid: MOUNT_ATTR.NOSUID, rnodev: MOUNT_ATTR.NODEV, rnoexec: MOUNT_ATTR.NOEXEC,
  rnodiratime: MOUNT_ATTR.NODIRATIME, rnosymfollow: MOUNT_ATTR.NOSYMFOLLOW,
};
const RECURSIVE_CLEAR: Record<string, number> = {
  rrw: MOUNT_ATTR.RDONLY, rsuid: MOUNT_ATTR.NOSUID, rdev: MOUNT_ATTR.NODEV, rexec: MOUNT_ATTR.NOEXEC,
  rdiratime: MOUNT_ATTR.NODIRATIME, rsymfollow: MOUNT_ATTR.NOSYMFOLLOW,
};
// The atime mode is one value (the kernel takes it only with all of _ATIME cleared): the last
// option wins; the "no" forms go back to the kernel's default, relatime.
const RECURSIVE_ATIME: Record<string, number> = {
  rrelatime: MOUNT_ATTR.RELATIME, rnoatime: MOUNT_ATTR.NOATIME, rstrictatime: MOUNT_ATTR.STRICTATIME,
  rnorelatime: MOUNT_ATTR.RELATIME, ratime: MOUNT_ATTR.RELATIME, rnostrictatime: MOUNT_ATTR.RELATIME,
};
export const RECURSIVE_OPTIONS = [...Object.keys(RECURSIVE_SET), ...Object.keys(RECURSIVE_CLEAR), ...Object.keys(RECURSIVE_ATIME)];
// Refused rather than pretended.
const UNSUPPORTED = new Set(["idmap", "ridmap"]);

export function parseMountOptions(options: readonly string[] = [], where = "mount"): ParsedMountOptions {
  const out: ParsedMountOptions = { flags: 0, clear: 0, propagation: 0, bind: false, recursive: false, data: [], recursiveSet: 0, recursiveClear: 0, copyUp: false };
  for (const opt of options) {
    if (opt === "bind") out.bind = true;
    else if (opt === "rbind") { out.bind = true; out.recursive = true; }
    else if (opt in SET) { out.flags |= SET[opt]!; out.clear &= ~SET[opt]!; }
    else if (opt in CLEAR) { out.flags &= ~CLEAR[opt]!; out.clear |= CLEAR[opt]!; }
    else if (opt in PROPAGATION) out.propagation = PROPAGATION[opt]!;
    else if (opt === "tmpcopyup") out.copyUp = true;
    else if (opt in RECURSIVE_SET) { out.recursiveSet |= RECURSIVE_SET[opt]!; out.recursiveClear &= ~RECURSIVE_SET[opt]!; }
    else if (opt in RECURSIVE_CLEAR) { out.recursiveClear |= RECURSIVE_CLEAR[opt]!; out.recursiveSet &= ~RECURSIVE_CLEAR[opt]!; }
    else if (opt in RECURSIVE_ATIME) {
      out.recursiveSet = (out.recursiveSet & ~MOUNT_ATTR._ATIME) | RECURSIVE_ATIME[opt]!;
      out.recursiveClear |= MOUNT_ATTR._ATIME;
    } else if (IGNORED.has(opt)) continue;
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
