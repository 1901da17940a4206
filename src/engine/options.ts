// Parsing and checking flag values the way docker does, with its error shapes:
// sizes (-m 64m), CPUs (--cpus 1.5), restart policies, -v/--tmpfs specs, env files, labels.
import { readFileSync } from "node:fs";
import { isAbsolute, normalize } from "node:path";
import { UsageError } from "./errors.ts";
import type { BindMount, PortPublish, RestartPolicy } from "./types.ts";

function invalid(value: string, flag: string, why: string): UsageError {
  return new UsageError(`invalid argument "${value}" for "${flag}" flag: ${why}\nSee 'berth run --help'.`);
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** 64m, 1g, 512k, 1024 (bytes), 1.5g; docker's RAMInBytes. */
export function parseSize(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(value.trim());
  if (!m) throw invalid(value, flag, `invalid size: '${value}'`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

export function parseMemory(value: string): number {
  const bytes = parseSize(value, "-m, --memory");
  if (bytes < 6 * 1024 * 1024) throw new UsageError(`Minimum memory limit allowed is 6MB (got ${value})`);
  return bytes;
}

/** -1 = unlimited swap. */
export function parseMemorySwap(value: string): number {
  if (value.trim() === "-1") return -1;
  return parseSize(value, "--memory-swap");
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
  if (n < min) throw invalid(value, flag, `must be at least ${min}`);
  return n;
}

export function parseRestart(value: string): RestartPolicy {
  const [name, count] = value.split(":");
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
      const n = count === undefined ? 0 : Number(count);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`invalid restart policy "${value}": maximum retry count must be a non-negative integer`);
      return { name, maximumRetryCount: n };
    }
    default:
      throw new UsageError(`invalid restart policy "${value}": use no, always, unless-stopped or on-failure[:N]`);
  }
}

/** Container paths must be absolute and not "/" itself. */
function containerPath(p: string, spec: string): string {
  if (!isAbsolute(p)) throw new UsageError(`invalid volume specification: '${spec}': the container path must be absolute`);
  const n = normalize(p);
  if (n === "/") throw new UsageError(`invalid volume specification: '${spec}': the container path cannot be '/'`);
  return n.replace(/\/+$/, "");
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

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
  if (src.startsWith("/") || src.startsWith(".")) {
    const source = normalize(src.startsWith(".") ? `${process.cwd()}/${src}` : src);
    if (!exists(source)) throw new UsageError(`invalid mount config for type "bind": bind source path does not exist: ${source}`);
    return { kind: "bind", source, destination, readOnly };
  }
  if (!VOLUME_NAME.test(src)) throw new UsageError(`invalid volume specification: '${spec}': "${src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed; if you intended to pass a host directory, use an absolute path`);
  return { kind: "volume", source: src, destination, readOnly };
}

/** --tmpfs /run[:size=64m,mode=1777] */
export function parseTmpfs(spec: string): BindMount {
  const at = spec.indexOf(":");
  const dst = at < 0 ? spec : spec.slice(0, at);
  const opts = at < 0 ? [] : spec.slice(at + 1).split(",").filter(Boolean);
  for (const o of opts) {
    if (!/^(size=\d+[kmg]?|mode=[0-7]{3,4}|uid=\d+|gid=\d+|nr_inodes=\d+[kmg]?|ro|rw|noexec|exec|nosuid|suid|nodev|dev)$/.test(o)) {
      throw new UsageError(`invalid --tmpfs option "${o}" in "${spec}" (use size=N, mode=OCTAL, uid=, gid=, ro, noexec, nosuid, nodev)`);
    }
  }
  return { kind: "tmpfs", source: "tmpfs", destination: containerPath(dst, spec), readOnly: opts.includes("ro"), options: opts.filter((o) => o !== "ro") };
}

/** KEY=VALUE, or KEY alone to take the caller's value (dropped when the caller has none). */
export function expandEnv(entry: string, hostEnv: Record<string, string | undefined> = process.env): string | null {
  if (entry.includes("=")) {
    if (entry.startsWith("=")) throw new UsageError(`invalid environment variable: ${entry}`);
    return entry;
  }
  const v = hostEnv[entry];
  return v === undefined ? null : `${entry}=${v}`;
}

export function readEnvFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`open ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^\s+/, "").replace(/\r$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const v = expandEnv(line);
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

export function parseLabels(labels: string[], files: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (l: string) => {
    const at = l.indexOf("=");
    if (at === 0) throw new UsageError(`invalid label "${l}": the key is empty`);
    if (at < 0) out[l] = "";
    else out[l.slice(0, at)] = l.slice(at + 1);
  };
  for (const f of files) for (const line of readFileSync(f, "utf8").split("\n")) if (line.trim() && !line.startsWith("#")) add(line.trim());
  for (const l of labels) add(l);
  return out;
}

/** -p [IP:][HOSTPORT:]CONTAINERPORT[/proto] */
export function parsePublish(spec: string): PortPublish {
  const m = /^(?:(?:(\d+\.\d+\.\d+\.\d+):)?(\d*):)?(\d+)(?:\/(tcp|udp))?$/.exec(spec);
  if (!m) throw new UsageError(`invalid publish spec "${spec}": use [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]`);
  const port = (s: string | undefined, dflt: number) => {
    if (s === undefined || s === "") return dflt;
    const n = Number(s);
    if (n < 1 || n > 65535) throw new UsageError(`invalid port ${s} in "${spec}": ports are 1-65535`);
    return n;
  };
  return { hostIp: m[1] ?? "0.0.0.0", hostPort: port(m[2], 0), containerPort: port(m[3], 0), proto: (m[4] as "tcp" | "udp" | undefined) ?? "tcp" };
}

/** Signal by name (TERM, SIGTERM) or number. */
export const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13,
  ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25,
  VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

export function parseSignal(value: string): number {
  const v = value.trim().toUpperCase();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n >= 1 && n <= 64) return n;
  }
  const name = v.startsWith("SIG") ? v.slice(3) : v;
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(name);
  if (rt) return 34 + Number(rt[1] ?? 0);
  const n = SIGNALS[name];
  if (n === undefined) throw new UsageError(`invalid signal: ${value}`);
  return n;
}
