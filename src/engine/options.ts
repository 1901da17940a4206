// Parsing and checking flag values the way docker does, with its error shapes:
// sizes (-m 64m), CPUs (--cpus 1.5), restart policies, -v/--tmpfs specs, env files, labels.
import { readFileSync, statSync } from "node:fs";
import { isAbsolute, normalize } from "node:path";
import { UsageError } from "./errors.ts";
import { signalNumber } from "../runtime/signals.ts";
import { parsePortSpec, type PortRequest } from "../network/ports.ts";
import type { BindMount, DeviceMapping, DeviceRate, DeviceRule, PortPublish, RestartPolicy, Ulimit } from "./types.ts";

function invalid(value: string, flag: string, why: string): UsageError {
  return new UsageError(`invalid argument "${value}" for "${flag}" flag: ${why}\nSee 'berth run --help'.`);
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** 64m, 1g, 512k, 1024 (bytes), 1.5g; docker's RAMInBytes. */
export function parseSize(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(value.trim());
  if (!m) throw invalid(value, flag, `invalid size: '${value}'`);
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw invalid(value, flag, `invalid size: '${value}' is out of range`);
  return bytes;
}

/** undefined for 0: docker's "no limit". */
export function parseMemory(value: string): number | undefined {
  const bytes = parseSize(value, "-m, --memory");
  if (bytes === 0) return undefined;
  if (bytes < 6 * 1024 * 1024) throw new UsageError(`Minimum memory limit allowed is 6MB (got ${value})`);
  return bytes;
}

/** -1 = unlimited swap; undefined for 0 (docker: not set). */
export function parseMemorySwap(value: string): number | undefined {
  if (value.trim() === "-1") return -1;
  return parseSize(value, "--memory-swap") || undefined;
}

export function parseCpus(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw invalid(value, "--cpus", "failed to parse " + JSON.stringify(value) + " as a number");
  const host = (require("node:os") as typeof import("node:os")).availableParallelism(); // node:os only when --cpus is given
  if (n <= 0 || n > host) throw new UsageError(`Range of CPUs is from 0.01 to ${host}.00, as there are only ${host} CPUs available (got --cpus ${value})`);
  if (n < 0.01) throw new UsageError(`--cpus ${value} is below the minimum of 0.01`);
  return n;
}

export function parseInteger(value: string, flag: string, min: number): number {
  if (!/^-?\d+$/.test(value.trim())) throw invalid(value, flag, `strconv.ParseInt: parsing "${value}": invalid syntax`);
  const n = Number(value);
  // Beyond 2^53 a number is no longer exact (and prints as 1e+21): docker's "out of range".
  if (!Number.isSafeInteger(n)) throw invalid(value, flag, `strconv.ParseInt: parsing "${value}": value out of range`);
  if (n < min) throw invalid(value, flag, `must be at least ${min}`);
  return n;
}

export function parseRestart(value: string): RestartPolicy {
  const at = value.indexOf(":");
  const name = at < 0 ? value : value.slice(0, at);
  const count = at < 0 ? undefined : value.slice(at + 1);
  if (name === "" && count !== undefined) throw new UsageError(`invalid restart policy format: no policy provided before colon`);
  switch (name) {
    case "":
    case "no":
      if (count !== undefined) throw new UsageError(`invalid restart policy "${value}": maximum retry count cannot be used with restart policy 'no'`);
      return { name: "no", maximumRetryCount: 0 };
    case "always":
    case "unless-stopped":
      if (count !== undefined) throw new UsageError(`invalid restart policy "${value}": maximum retry count cannot be used with restart policy '${name}'`);
      return { name, maximumRetryCount: 0 };
    case "on-failure": {
      if (count !== undefined && !/^\d+$/.test(count)) throw new UsageError(`invalid restart policy "${value}": maximum retry count must be a non-negative integer`);
      const n = count === undefined ? 0 : Number(count);
      if (!Number.isSafeInteger(n)) throw new UsageError(`invalid restart policy "${value}": maximum retry count is out of range`);
      return { name, maximumRetryCount: n };
    }
    default:
      throw new UsageError(`invalid restart policy "${value}": use no, always, unless-stopped or on-failure[:N]`);
  }
}

/** Container paths must be absolute and not "/" itself. */
export function containerPath(p: string, spec: string): string {
  if (!isAbsolute(p)) throw new UsageError(`invalid volume specification: '${spec}': the container path must be absolute`);
  const n = normalize(p);
  if (n === "/") throw new UsageError(`invalid volume specification: '${spec}': the container path cannot be '/'`);
  return n.replace(/\/+$/, "");
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

const PROPAGATIONS = ["private", "rprivate", "shared", "rshared", "slave", "rslave"] as const;

export function validVolumeName(name: string): boolean {
  return VOLUME_NAME.test(name);
}

/**
 * -v HOST:CTR[:ro|rw], -v NAME:CTR[:ro|rw], -v CTR (anonymous volume). Bind sources must exist
 * (docker would silently create a missing directory; a typo then mounts an empty dir).
 */
export function parseVolumeSpec(spec: string, exists: (p: string) => boolean): BindMount {
  const parts = spec.split(":");
  if (parts.length === 1) return { kind: "volume", source: "", destination: containerPath(parts[0]!, spec), readOnly: false };
  if (parts.length > 3) throw new UsageError(`invalid volume specification: '${spec}': use HOST:CONTAINER[:ro] or NAME:CONTAINER[:ro]`);
  const [src, dst, mode = "rw"] = parts as [string, string, string?];
  const modes = mode.split(",");
  for (const m of modes) {
    if (!["ro", "rw", "z", "Z", "private", "rprivate", "shared", "rshared", "slave", "rslave", "nocopy"].includes(m)) {
      throw new UsageError(`invalid volume specification: '${spec}': unknown mode '${m}' (use ro or rw)`);
    }
  }
  const readOnly = modes.includes("ro");
  const destination = containerPath(dst, spec);
  const propagation = modes.find((m): m is NonNullable<BindMount["propagation"]> => (PROPAGATIONS as readonly string[]).includes(m));
  if (src.startsWith("/") || src.startsWith(".")) {
    const source = normalize(src.startsWith(".") ? `${process.cwd()}/${src}` : src);
    if (!exists(source)) throw new UsageError(`invalid mount config for type "bind": bind source path does not exist: ${source}`);
    if (modes.includes("nocopy")) throw new UsageError(`invalid volume specification: '${spec}': nocopy applies to volumes, not to a host directory`);
    return { kind: "bind", source, destination, readOnly, ...(propagation ? { propagation } : {}) };
  }
  if (!VOLUME_NAME.test(src)) throw new UsageError(`invalid volume specification: '${spec}': "${src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed; if you intended to pass a host directory, use an absolute path`);
  if (propagation) throw new UsageError(`invalid volume specification: '${spec}': propagation mode '${propagation}' applies to host directories (binds), not to volumes`);
  return { kind: "volume", source: src, destination, readOnly, ...(modes.includes("nocopy") ? { noCopy: true } : {}) };
}

/** --tmpfs /run[:size=64m,mode=1777] */
export function parseTmpfs(spec: string): BindMount {
  const at = spec.indexOf(":");
  const dst = at < 0 ? spec : spec.slice(0, at);
  const opts = at < 0 ? [] : spec.slice(at + 1).split(",").filter(Boolean);
  for (const o of opts) {
    // Sizes as the kernel's memparse reads them (k, m, g, t, p, e in either case; tmpfs also takes %).
    if (!/^(size=\d+([kmgtpe]|%)?|mode=[0-7]{3,4}|uid=\d+|gid=\d+|nr_inodes=\d+[kmgtpe]?|ro|rw|noexec|exec|nosuid|suid|nodev|dev)$/i.test(o)) {
      throw new UsageError(`invalid --tmpfs option "${o}" in "${spec}" (use size=N, mode=OCTAL, uid=, gid=, ro, noexec, nosuid, nodev)`);
    }
    // The kernel takes uid= and gid= as 32-bit ids (and -1 is "no id"): a bigger one fails the mount.
    if (/^(uid|gid)=/i.test(o) && Number(o.slice(4)) >= 2 ** 32 - 1) throw new UsageError(`invalid --tmpfs option "${o}" in "${spec}": ids go up to ${2 ** 32 - 2}`);
  }
  return { kind: "tmpfs", source: "tmpfs", destination: containerPath(dst, spec), readOnly: opts.includes("ro"), options: opts.filter((o) => o !== "ro") };
}

/** KEY=VALUE, or KEY alone to take the caller's value (dropped when the caller has none). */
export function expandEnv(entry: string, hostEnv: Record<string, string | undefined> = process.env): string | null {
  if (entry === "" || entry.startsWith("=")) throw new UsageError(`invalid environment variable: ${entry}`);
  if (entry.includes("\0")) throw new UsageError(`invalid environment variable ${JSON.stringify(entry)}: contains a NUL byte`);
  if (entry.includes("=")) return entry;
  const v = hostEnv[entry];
  return v === undefined ? null : `${entry}=${v}`;
}

const BLANKS = /[ \t]/;

/**
 * The lines of an --env-file or --label-file as docker reads them (opts.parseKeyValueFile): UTF-8
 * only, a leading BOM dropped, blank lines and '#' comments skipped, leading blanks trimmed, and a
 * key that is empty or holds blanks refused. Each line comes back as [key, value or undefined].
 */
function readKeyValueFile(path: string, kind: "env" | "label"): [string, string | undefined][] {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`open ${path}: ${code === "ENOENT" ? "no such file or directory" : code === "EISDIR" ? "is a directory" : (e as Error).message}`);
  }
  const out: [string, string | undefined][] = [];
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const lines = data.toString("latin1").split("\n");
  let offset = 0;
  for (const [i, raw] of lines.entries()) {
    const bytes = data.subarray(offset, offset + raw.length);
    offset += raw.length + 1;
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      throw new UsageError(`${kind} file ${path} contains invalid utf8 bytes at line ${i + 1}`);
    }
    if (text.includes("\0")) throw new UsageError(`${kind} file ${path} contains a NUL byte at line ${i + 1}`);
    if (i === 0) text = text.replace(/^\uFEFF/, "");
    const line = text.replace(/^\s+/, "").replace(/\r$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const at = line.indexOf("=");
    const key = at < 0 ? line : line.slice(0, at);
    if (BLANKS.test(key)) throw new UsageError(`poorly formatted ${kind === "env" ? "environment" : "label"} file ${path} at line ${i + 1}: variable '${key}' contains whitespaces`);
    if (key === "") throw new UsageError(`poorly formatted ${kind === "env" ? "environment" : "label"} file ${path} at line ${i + 1}: no variable name on line '${line}'`);
    out.push([key, at < 0 ? undefined : line.slice(at + 1)]);
  }
  return out;
}

export function readEnvFile(path: string): string[] {
  const out: string[] = [];
  for (const [key, value] of readKeyValueFile(path, "env")) {
    const v = value === undefined ? expandEnv(key.trim()) : `${key}=${value}`;
    if (v !== null) out.push(v);
  }
  return out;
}

/** Env lists merged by key, later entries winning, order of first appearance kept. */
export function mergeEnv(...lists: string[][]): string[] {
  const m = new Map<string, string>();
  for (const list of lists) for (const e of list) {
    const k = e.includes("=") ? e.slice(0, e.indexOf("=")) : e;
    m.set(k, e);
  }
  return [...m.values()];
}

/** -l KEY[=VALUE] and --label-file lines: docker's rules (a key, without blanks; the value may be empty). */
export function parseLabels(labels: string[], files: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (key: string, value: string | undefined, given: string) => {
    const k = key.replace(/^[ \t]+/, "");
    if (k === "") throw new UsageError(`invalid label '${given}': empty name`);
    if (BLANKS.test(k)) throw new UsageError(`label '${k}' contains whitespaces`);
    if (given.includes("\0")) throw new UsageError(`invalid label ${JSON.stringify(given)}: contains a NUL byte`);
    out[k] = value ?? "";
  };
  for (const f of files) for (const [k, v] of readKeyValueFile(f, "label")) add(k, v, v === undefined ? k : `${k}=${v}`);
  for (const l of labels) {
    const at = l.indexOf("=");
    add(at < 0 ? l : l.slice(0, at), at < 0 ? undefined : l.slice(at + 1), l);
  }
  return out;
}

/** One -p value, in docker's whole grammar: the network's parser (network/ports.ts) reads it, this
 *  gives its answer the engine's shape (one entry per container port) and docker's exit status. */
export function parsePublish(spec: string): PortPublish[] {
  let reqs: PortRequest[];
  try {
    reqs = parsePortSpec(spec);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return reqs.map((r) => ({
    hostIp: r.hostIp ?? "0.0.0.0",
    hostPort: r.hostPort ?? r.hostRange?.from ?? 0,
    ...(r.hostRange ? { hostPortEnd: r.hostRange.to } : {}),
    containerPort: r.containerPort,
    proto: r.proto,
  }));
}

/** A stored publish as the network takes it (the inverse of parsePublish's mapping). */
export function portRequestOf(p: PortPublish): PortRequest {
  return {
    hostIp: p.hostIp,
    ...(p.hostPortEnd ? { hostRange: { from: p.hostPort, to: p.hostPortEnd } } : p.hostPort ? { hostPort: p.hostPort } : {}),
    containerPort: p.containerPort,
    proto: p.proto,
  };
}

/** A signal to send, by name (TERM, SIGTERM, RTMIN+3) or number (1-64); the rule is the runtime's. */
export function parseSignal(value: string): number {
  const n = signalNumber(value);
  if (n === undefined || n === 0) throw new UsageError(`invalid signal: ${value}`);
  return n;
}

// ---- docker's resource and device flags ----

/** A host device node: its kind and numbers, or an error in the flag's terms. */
function deviceNode(path: string, flag: string, spec: string, blockOnly: boolean): { type: "c" | "b"; major: number; minor: number; mode: number; uid: number; gid: number } {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw invalid(spec, flag, `no such device: ${path}`);
  }
  const block = st.isBlockDevice();
  if (!block && !(st.isCharacterDevice() && !blockOnly)) throw invalid(spec, flag, `${path} is not a ${blockOnly ? "block device" : "device node"}`);
  const rdev = Number(st.rdev);
  // glibc's dev_t layout; devices here fit in 32 bits (JS shifts are 32-bit).
  return { type: block ? "b" : "c", major: (rdev >>> 8) & 0xfff, minor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00), mode: st.mode & 0o777, uid: st.uid, gid: st.gid };
}

/** --device-read-bps /dev/sda:1mb, --device-write-iops /dev/sda:1000. */
export function parseDeviceRate(spec: string, flag: string, iops: boolean): DeviceRate {
  const at = spec.lastIndexOf(":");
  if (at <= 0) throw invalid(spec, flag, `bad format: use DEVICE:RATE, e.g. /dev/sda:${iops ? "1000" : "1mb"}`);
  const path = spec.slice(0, at), value = spec.slice(at + 1);
  const rate = iops ? parseInteger(value, flag, 0) : parseSize(value, flag);
  const d = deviceNode(path, flag, spec, true);
  return { path, major: d.major, minor: d.minor, rate };
}

const PERMISSIONS = /^[rwm]{1,3}$/;

/** --device HOST[:CONTAINER][:PERMISSIONS] (docker's forms). */
export function parseDevice(spec: string): DeviceMapping {
  const parts = spec.split(":");
  let [host = "", ctr = "", perms = "rwm"] = parts;
  if (parts.length === 2 && PERMISSIONS.test(parts[1]!)) { ctr = ""; perms = parts[1]!; }
  if (parts.length > 3 || host === "") throw invalid(spec, "--device", "use HOST[:CONTAINER][:PERMISSIONS], e.g. /dev/fuse:/dev/fuse:rwm");
  if (!PERMISSIONS.test(perms) || new Set(perms).size !== perms.length) throw invalid(spec, "--device", `invalid permissions "${perms}": letters from "rwm"`);
  if (!isAbsolute(host)) throw invalid(spec, "--device", `the host path ${host} must be absolute`);
  const containerPath = ctr === "" ? host : ctr;
  if (!isAbsolute(containerPath)) throw invalid(spec, "--device", `the container path ${containerPath} must be absolute`);
  const d = deviceNode(host, "--device", spec, false);
  return { hostPath: host, containerPath: normalize(containerPath), permissions: perms, type: d.type, major: d.major, minor: d.minor, fileMode: d.mode, uid: d.uid, gid: d.gid };
}

/** --device-cgroup-rule 'c 42:* rmw' (the devices.allow syntax). */
export function parseDeviceCgroupRule(spec: string): DeviceRule {
  const m = /^([acb]) (\d+|\*):(\d+|\*) ([rwm]{1,3})$/.exec(spec.trim());
  if (!m) throw invalid(spec, "--device-cgroup-rule", `use TYPE MAJOR:MINOR ACCESS, e.g. 'c 42:* rmw' (TYPE a, b or c; * for any number)`);
  const num = (s: string) => (s === "*" ? null : Number(s));
  return { type: m[1] as DeviceRule["type"], major: num(m[2]!), minor: num(m[3]!), access: m[4]! };
}

const ULIMIT_NAMES = ["core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"];

/** --ulimit NAME=SOFT[:HARD] (docker's names; -1 is unlimited). */
export function parseUlimit(spec: string): Ulimit {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw invalid(spec, "--ulimit", "invalid ulimit argument: use NAME=SOFT[:HARD], e.g. nofile=1024:2048");
  const name = spec.slice(0, eq);
  if (!ULIMIT_NAMES.includes(name)) throw invalid(spec, "--ulimit", `invalid ulimit type: ${name} (one of ${ULIMIT_NAMES.join(", ")})`);
  const [softText = "", hardText, extra] = spec.slice(eq + 1).split(":");
  if (extra !== undefined) throw invalid(spec, "--ulimit", "too many limit value arguments: use SOFT[:HARD]");
  const soft = parseInteger(softText, "--ulimit", -1);
  const hard = hardText === undefined ? soft : parseInteger(hardText, "--ulimit", -1);
  const inf = (n: number) => (n === -1 ? Infinity : n);
  if (inf(soft) > inf(hard)) throw invalid(spec, "--ulimit", `ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { name, soft, hard };
}

/** --cgroup-parent: a cgroupfs path; a relative one is relative to the root cgroup (docker's
 *  "the cgroup of the init process"), so it is stored absolute and means the same to every command. */
export function parseCgroupParent(value: string): string {
  if (/^[^/]*:[^/]*:[^/]*$/.test(value) || value.endsWith(".slice")) {
    throw new UsageError(`--cgroup-parent ${value}: a systemd slice needs the systemd cgroup driver; berth manages cgroupfs paths (give a path like /mygroup)`);
  }
  const segments = value.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) throw new UsageError(`--cgroup-parent ${value}: ".." could leave the cgroup hierarchy; give a path without it`);
  if (segments.length === 0) throw new UsageError(`--cgroup-parent ${JSON.stringify(value)}: give a cgroup path such as /mygroup`);
  if (/[\0\n]/.test(value)) throw new UsageError(`--cgroup-parent ${JSON.stringify(value)} contains a NUL or newline`);
  return "/" + segments.join("/");
}

/**
 * --mount type=bind|volume|tmpfs,src=…,dst=…[,readonly][,bind-propagation=…][,volume-nocopy]
 * [,tmpfs-size=…][,tmpfs-mode=…]: docker's CSV form, its keys and its errors.
 */
export function parseMount(spec: string, exists: (p: string) => boolean): BindMount {
  const fields = new Map<string, string | undefined>();
  for (const field of spec.split(",")) {
    if (field === "") continue;
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    fields.set(key, eq < 0 ? undefined : field.slice(eq + 1));
  }
  const bad = (why: string) => new UsageError(`invalid argument "${spec}" for "--mount" flag: ${why}`);
  const boolOf = (key: string): boolean => {
    const v = fields.get(key);
    if (v === undefined || ["true", "1"].includes(v.toLowerCase())) return true;
    if (["false", "0"].includes(v.toLowerCase())) return false;
    throw bad(`invalid value for ${key}: ${v}`);
  };
  const type = fields.get("type") ?? "volume";
  if (!["bind", "volume", "tmpfs"].includes(type)) throw bad(`unsupported mount type ${JSON.stringify(type)} (use bind, volume or tmpfs)`);
  const known = new Set(["type", "src", "source", "dst", "destination", "target", "readonly", "ro", "bind-propagation", "volume-nocopy", "tmpfs-size", "tmpfs-mode", "consistency"]);
  for (const key of fields.keys()) if (!known.has(key)) throw bad(`unexpected key '${key}' in '${spec}'`);
  const source = fields.get("src") ?? fields.get("source") ?? "";
  const target = fields.get("dst") ?? fields.get("destination") ?? fields.get("target");
  if (!target) throw new UsageError("invalid mount config: target is required");
  const destination = containerPath(target, spec);
  const readOnly = (fields.has("readonly") && boolOf("readonly")) || (fields.has("ro") && boolOf("ro"));
  const only = (keys: string[], forType: string) => {
    for (const k of keys) if (fields.has(k) && type !== forType) throw bad(`cannot mix '${k}' with a ${type} mount (it is a ${forType} option)`);
  };
  only(["bind-propagation"], "bind");
  only(["volume-nocopy"], "volume");
  only(["tmpfs-size", "tmpfs-mode"], "tmpfs");
  if (type === "tmpfs") {
    if (source !== "") throw new UsageError("invalid mount config for type \"tmpfs\": field Source must not be specified");
    const options: string[] = [];
    const size = fields.get("tmpfs-size");
    if (size !== undefined) options.push(`size=${parseSize(size, "--mount tmpfs-size")}`);
    const mode = fields.get("tmpfs-mode");
    if (mode !== undefined) {
      if (!/^[0-7]{1,4}$/.test(mode)) throw bad(`invalid tmpfs-mode ${mode}: an octal mode such as 1777`);
      options.push(`mode=${mode}`);
    }
    return { kind: "tmpfs", source: "tmpfs", destination, readOnly, options };
  }
  if (type === "bind") {
    if (source === "") throw new UsageError("invalid mount config for type \"bind\": field Source must not be empty");
    if (!isAbsolute(source)) throw new UsageError(`invalid mount config for type "bind": invalid mount path: '${source}' mount path must be absolute`);
    const src = normalize(source);
    if (!exists(src)) throw new UsageError(`invalid mount config for type "bind": bind source path does not exist: ${src}`);
    const propagation = fields.get("bind-propagation");
    if (propagation !== undefined && !(PROPAGATIONS as readonly string[]).includes(propagation)) throw bad(`invalid bind-propagation ${propagation} (one of ${PROPAGATIONS.join(", ")})`);
    return { kind: "bind", source: src, destination, readOnly, ...(propagation ? { propagation: propagation as BindMount["propagation"] } : {}) };
  }
  if (source !== "" && !validVolumeName(source)) throw new UsageError(`invalid mount config for type "volume": invalid volume name "${source}": only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed`);
  return { kind: "volume", source, destination, readOnly, ...(fields.has("volume-nocopy") && boolOf("volume-nocopy") ? { noCopy: true } : {}) };
}

/** --detach-keys "ctrl-p,ctrl-q": docker's key names (a-z, ctrl-@ … ctrl-_, and ',' etc.) as bytes. */
export function parseDetachKeys(value: string): number[] {
  const out: number[] = [];
  for (const key of value.split(",")) {
    const k = key.trim();
    if (k.length === 1) { out.push(k.charCodeAt(0)); continue; }
    const m = /^ctrl-([a-z@\[\\\]^_])$/i.exec(k);
    if (!m) throw new UsageError(`Invalid detach keys (${value}) provided: use a list like "ctrl-p,ctrl-q" (a letter, or ctrl- with a letter or one of @[\\]^_)`);
    out.push(m[1]!.toUpperCase().charCodeAt(0) & 0x1f);
  }
  if (out.length === 0) throw new UsageError(`Invalid detach keys (${value}) provided`);
  return out;
}
