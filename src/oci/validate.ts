// Parses config.json into a Spec, checking what the runtime relies on. Every problem is an
// OciConfigError whose message names the field and says what is expected.
import type { Spec, NamespaceType } from "./spec.ts";

export class OciConfigError extends Error {}

const NAMESPACE_TYPES: readonly NamespaceType[] = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"];

function fail(msg: string): never {
  throw new OciConfigError(`config.json: ${msg}`);
}

/** For checks shared with other sources than config.json: the field names its source. */
function bad(msg: string): never {
  throw new OciConfigError(msg);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkStrings(v: unknown, field: string): void {
  if (v === undefined) return;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) fail(`${field} must be an array of strings`);
}

function checkUint(v: unknown, field: string): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) fail(`${field} must be a non-negative integer, got ${JSON.stringify(v)}`);
}

/** The largest uid or gid the kernel takes: ids are 32-bit, and (uid_t)-1 = 4294967295 means
 *  "leave unchanged" to setresuid, so a process asked to run as it would stay root. */
export const MAX_ID = 0xffff_fffe;

function checkId(v: unknown, field: string): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_ID) bad(`${field} must be an integer from 0 to ${MAX_ID}, got ${JSON.stringify(v)}`);
}

/** An id map entry: both ranges must fit in 32 bits without wrapping (the kernel refuses them). */
function checkIdMap(m: unknown, field: string): void {
  if (!isObject(m)) bad(`${field} must be an object with containerID, hostID and size`);
  checkId(m.containerID, `${field}.containerID`);
  checkId(m.hostID, `${field}.hostID`);
  const size = m.size;
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1) bad(`${field}.size must be a positive integer, got ${JSON.stringify(size)}`);
  for (const key of ["containerID", "hostID"] as const) {
    const first = (m[key] as number | undefined) ?? 0;
    if (first + size - 1 > MAX_ID) bad(`${field}: ${key} ${first} + size ${size} runs past the largest id ${MAX_ID}`);
  }
}

/** process.user, from config.json or an exec's process: `field` names where it came from. */
export function checkProcessUser(user: unknown, field: string): void {
  if (!isObject(user)) bad(`${field} must be an object with uid and gid`);
  checkId(user.uid, `${field}.uid`);
  checkId(user.gid, `${field}.gid`);
  // Any uint32, as runc passes it on (the kernel keeps the permission bits).
  if (user.umask !== undefined && (typeof user.umask !== "number" || !Number.isInteger(user.umask) || user.umask < 0 || user.umask > 0xffff_ffff)) bad(`${field}.umask must be a non-negative 32-bit integer, got ${JSON.stringify(user.umask)}`);
  if (user.additionalGids !== undefined) {
    if (!Array.isArray(user.additionalGids)) bad(`${field}.additionalGids must be an array`);
    user.additionalGids.forEach((g, i) => checkId(g, `${field}.additionalGids[${i}]`));
  }
}

/** The path of the first string (or key) holding a NUL byte: the kernel takes paths, arguments,
 *  environment and names as C strings, so such a value can never be what the config meant. */
function nulAt(v: unknown, path: string): string | undefined {
  if (typeof v === "string") return v.includes("\0") ? path : undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const at = nulAt(v[i], `${path}[${i}]`);
      if (at) return at;
    }
  } else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      const key = path ? `${path}.${k}` : k;
      if (k.includes("\0")) return key;
      const at = nulAt(x, key);
      if (at) return at;
    }
  }
  return undefined;
}

/** Refuses a JSON document (config.json, an exec --process file) with a NUL byte in any string. */
export function refuseNul(doc: unknown, what: string, prefix = ""): void {
  const at = nulAt(doc, prefix);
  if (at) throw new OciConfigError(`${what}: ${JSON.stringify(at)} contains a NUL byte, which no path, argument, variable or name can hold`);
}

/** Accepts runtime-spec 1.x (the version this runtime implements). */
export function checkOciVersion(version: unknown): void {
  if (typeof version !== "string" || !/^1\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) {
    fail(`unsupported ociVersion ${JSON.stringify(version)}; berth-runtime implements runtime-spec 1.x (e.g. "1.2.0")`);
  }
}

export function parseSpec(text: string): Spec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    fail(`invalid JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw)) fail("the top level must be a JSON object");
  checkOciVersion(raw.ociVersion);
  refuseNul(raw, "config.json");
  const spec = raw as unknown as Spec;

  if (spec.root !== undefined) {
    if (!isObject(spec.root) || typeof spec.root.path !== "string" || !spec.root.path) fail("root.path must be a non-empty string");
  }
  const p = spec.process;
  if (p !== undefined) {
    if (!isObject(p)) fail("process must be an object");
    checkStrings(p.args, "process.args");
    checkStrings(p.env, "process.env");
    if (typeof p.cwd !== "string" || !p.cwd.startsWith("/")) fail(`process.cwd must be an absolute path, got ${JSON.stringify(p.cwd)}`);
    checkProcessUser(p.user, "config.json: process.user");
    if (p.env?.some((e) => !e.includes("="))) fail(`process.env entries must look like KEY=VALUE, got ${JSON.stringify(p.env.find((e) => !e.includes("=")))}`);
    if (p.rlimits !== undefined) {
      if (!Array.isArray(p.rlimits)) fail("process.rlimits must be an array");
      const seen = new Set<string>();
      for (const r of p.rlimits) {
        if (!isObject(r) || typeof r.type !== "string") fail("each process.rlimits entry needs a type");
        if (seen.has(r.type)) fail(`process.rlimits has ${r.type} twice`);
        seen.add(r.type);
        checkUint(r.soft, `process.rlimits ${r.type}.soft`);
        checkUint(r.hard, `process.rlimits ${r.type}.hard`);
        if (r.soft > r.hard) fail(`process.rlimits ${r.type}: soft limit ${r.soft} is above the hard limit ${r.hard}`);
      }
    }
    if (p.consoleSize !== undefined && (!isObject(p.consoleSize) || typeof p.consoleSize.height !== "number" || typeof p.consoleSize.width !== "number")) {
      fail("process.consoleSize needs numeric height and width");
    }
    if (p.oomScoreAdj !== undefined && (!Number.isInteger(p.oomScoreAdj) || p.oomScoreAdj < -1000 || p.oomScoreAdj > 1000)) {
      fail(`process.oomScoreAdj must be an integer from -1000 to 1000, got ${p.oomScoreAdj}`);
    }
  }
  if (spec.mounts !== undefined) {
    if (!Array.isArray(spec.mounts)) fail("mounts must be an array");
    spec.mounts.forEach((m, i) => {
      if (!isObject(m) || typeof m.destination !== "string" || !m.destination) fail(`mounts[${i}].destination must be a non-empty string`);
      checkStrings(m.options, `mounts[${i}].options`);
    });
  }
  const linux = spec.linux;
  if (linux !== undefined) {
    if (!isObject(linux)) fail("linux must be an object");
    if (linux.namespaces !== undefined) {
      if (!Array.isArray(linux.namespaces)) fail("linux.namespaces must be an array");
      const seen = new Set<string>();
      for (const ns of linux.namespaces) {
        if (!isObject(ns) || !NAMESPACE_TYPES.includes(ns.type as NamespaceType)) {
          fail(`linux.namespaces: unknown type ${JSON.stringify(isObject(ns) ? ns.type : ns)}; expected one of ${NAMESPACE_TYPES.join(", ")}`);
        }
        const type = ns.type as string;
        if (seen.has(type)) fail(`linux.namespaces lists ${type} twice`);
        seen.add(type);
        // An empty path is no path (a new namespace), as runc reads it.
        if (ns.path !== undefined && ns.path !== "" && (typeof ns.path !== "string" || !ns.path.startsWith("/"))) fail(`linux.namespaces ${ns.type}.path must be an absolute path`);
      }
    }
    for (const key of ["uidMappings", "gidMappings"] as const) {
      const maps = linux[key];
      if (maps === undefined) continue;
      if (!Array.isArray(maps)) fail(`linux.${key} must be an array`);
      maps.forEach((m, i) => checkIdMap(m, `config.json: linux.${key}[${i}]`));
    }
    if (linux.devices !== undefined) {
      if (!Array.isArray(linux.devices)) fail("linux.devices must be an array");
      linux.devices.forEach((d, i) => {
        if (!isObject(d)) fail(`linux.devices[${i}] must be an object`);
        checkId(d.uid, `config.json: linux.devices[${i}].uid`);
        checkId(d.gid, `config.json: linux.devices[${i}].gid`);
        checkUint(d.major, `linux.devices[${i}].major`);
        checkUint(d.minor, `linux.devices[${i}].minor`);
        if (d.fileMode !== undefined && (typeof d.fileMode !== "number" || !Number.isInteger(d.fileMode) || d.fileMode < 0 || d.fileMode > 0o7777)) fail(`linux.devices[${i}].fileMode must be a permission mode from 0 to 0o7777, got ${JSON.stringify(d.fileMode)}`);
      });
    }
    if (linux.sysctl !== undefined && (!isObject(linux.sysctl) || Object.values(linux.sysctl).some((v) => typeof v !== "string"))) {
      fail("linux.sysctl must map names to string values");
    }
    checkStrings(linux.maskedPaths, "linux.maskedPaths");
    checkStrings(linux.readonlyPaths, "linux.readonlyPaths");
  }
  if (spec.hooks !== undefined) {
    if (!isObject(spec.hooks)) fail("hooks must be an object");
    for (const [stage, list] of Object.entries(spec.hooks)) {
      if (!["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"].includes(stage)) fail(`hooks: unknown stage ${stage}`);
      if (!Array.isArray(list)) fail(`hooks.${stage} must be an array`);
      list.forEach((h: unknown, i: number) => {
        if (!isObject(h) || typeof h.path !== "string" || !h.path.startsWith("/")) fail(`hooks.${stage}[${i}].path must be an absolute path`);
        checkStrings(h.args, `hooks.${stage}[${i}].args`);
        checkStrings(h.env, `hooks.${stage}[${i}].env`);
        if (h.timeout !== undefined && (typeof h.timeout !== "number" || !Number.isInteger(h.timeout) || h.timeout <= 0)) fail(`hooks.${stage}[${i}].timeout must be a positive integer`);
      });
    }
  }
  return spec;
}

/** Container IDs as runc accepts them: letters, digits, _ + - . (not "." or ".."). */
export function checkContainerId(id: string): void {
  if (!id) throw new OciConfigError("container ID must not be empty");
  if (id.length > 1024 || !/^[\w+\-.]+$/.test(id) || id === "." || id === "..") {
    throw new OciConfigError(`invalid container ID ${JSON.stringify(id)}: use letters, digits, '_', '+', '-' and '.'`);
  }
}
