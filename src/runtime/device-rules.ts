// The device cgroup rules a container gets: the config's own, then allowances for the
// devices every container has (as runc adds them), so a "deny all" config still leaves
// /dev/null, the pty devices and friends usable. The config's linux.devices are made as nodes but
// not allowed by themselves: as in runc, access is what linux.resources.devices grants (runc's
// dev.bats: a /dev/kmsg node under "deny all" cannot be opened). A config with
// no rules at all gets "deny all" first, as runc does (its rule emulator starts as an allow
// list): a container is never left with the host's "a *:* rwm".
import type { DeviceCgroupRule, LinuxResources } from "../oci/spec.ts";

const ALWAYS_ALLOWED: DeviceCgroupRule[] = [
  { allow: true, type: "c", major: null, minor: null, access: "m" }, // mknod of any char device (access still denied)
  { allow: true, type: "b", major: null, minor: null, access: "m" },
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },    // null
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" },    // zero
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" },    // full
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" },    // random
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" },    // urandom
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" },    // tty
  { allow: true, type: "c", major: 5, minor: 1, access: "rwm" },    // console
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" },    // ptmx
  { allow: true, type: "c", major: 136, minor: null, access: "rwm" }, // pty slaves
];

const DENY_ALL: DeviceCgroupRule = { allow: false, access: "rwm" };

export function withDefaultDeviceRules(resources: LinuxResources | undefined): LinuxResources {
  const rules = resources?.devices ?? [DENY_ALL];
  return { ...resources, devices: [...rules, ...ALWAYS_ALLOWED] };
}

/**
 * Access letters other than r, w and m: runc's rule emulator reads an access string letter by
 * letter and keeps only those three (runc's own suite writes "rwa"), so a config runc runs is
 * not refused here either: the other letters are dropped, with a warning. A rule with none of
 * the three is left as it is, for the cgroup layer to refuse.
 */
export function withKnownDeviceAccess(resources: LinuxResources, warn: (msg: string) => void): LinuxResources {
  if (!resources.devices?.some((d) => d.access !== undefined && /[^rwm]/.test(d.access))) return resources;
  const devices = resources.devices.map((d, i) => {
    if (d.access === undefined || !/[^rwm]/.test(d.access)) return d;
    const kept = [..."rwm"].filter((l) => d.access!.includes(l)).join("");
    if (!kept) return d;
    warn(`linux.resources.devices[${i}].access: ${JSON.stringify(d.access)} has letters other than r, w, m; using ${JSON.stringify(kept)} (as runc)`);
    return { ...d, access: kept };
  });
  return { ...resources, devices };
}
