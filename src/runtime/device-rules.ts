// The device cgroup rules a container gets: the config's own, then allowances for the
// devices every container has (as runc adds them) and for the config's linux.devices, so a
// "deny all" config still leaves /dev/null, the pty devices and friends usable. A config with
// no rules at all gets "deny all" first, as runc does (its rule emulator starts as an allow
// list): a container is never left with the host's "a *:* rwm". A device the config's own rules
// name already (docker's --device /dev/x:/dev/x:r gives "c M:N r") keeps the access they give.
import type { Device, DeviceCgroupRule, LinuxResources } from "../oci/spec.ts";

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

export function withDefaultDeviceRules(resources: LinuxResources | undefined, devices: Device[] | undefined): LinuxResources {
  const rules = resources?.devices ?? [DENY_ALL];
  const named = new Set(rules.map((r) => `${r.type ?? "a"} ${r.major ?? "*"}:${r.minor ?? "*"}`));
  const own: DeviceCgroupRule[] = (devices ?? [])
    .filter((d) => d.type !== "p" && !named.has(`${d.type === "b" ? "b" : "c"} ${d.major ?? "*"}:${d.minor ?? "*"}`))
    .map((d) => ({ allow: true, type: d.type === "b" ? "b" : "c", major: d.major ?? null, minor: d.minor ?? null, access: "rwm" }));
  return { ...resources, devices: [...rules, ...ALWAYS_ALLOWED, ...own] };
}
