// A seccomp profile's plan records, kept per profile under the runtime root: converting Docker's
// profile into ~300 records costs TypeScript 1-2 ms per container, and libseccomp needs 10-20 ms
// to compile them for three architectures (native/init/seccomp.c). Both results depend only on
// the profile, so both are cached in @seccomp/, named by KEY = sha256(converter + profile):
//   BUILD-KEY.plan  the records (written here, atomically), which the plan includes by reference;
//   BUILD-KEY.bpf   the compiled program (written by the C core on first use).
// The default profile itself (resolved for a capability set, architecture and kernel) is kept
// there too, as BUILD-default-KEY.json: resolving it costs a cold process ~0.5 ms. BUILD names
// the converter: a new build's first write removes the files of other builds.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { isRunning } from "../sys/proc.ts";
import type { Seccomp } from "../oci/spec.ts";
import { encodePlan, type PlanRecord } from "../sys/plan-encoding.ts";
import { seccompRecords } from "../security/seccomp.ts";
import { defaultSeccompFor, hostForSeccomp } from "../security/default-profile.ts";

/** Set by scripts/build.mjs for compiled executables: a hash of the sources they were built from. */
declare const BERTH_BUILD_ID: string | undefined;

/** The cache lives beside the containers' state dirs under a name no container ID can have. */
export function seccompCacheDir(runtimeRoot: string): string {
  return join(runtimeRoot, "@seccomp");
}

let converterId: string | undefined;

/** What turns a profile into records: a changed converter must not reuse an old entry. */
function converter(): string {
  if (converterId) return converterId;
  if (typeof BERTH_BUILD_ID === "string") return (converterId = BERTH_BUILD_ID);
  // From source (tests, development): the files that decide the cached files' bytes.
  const h = new Bun.CryptoHasher("sha256");
  for (const f of ["../security/seccomp.ts", "./seccomp-cache.ts", "../sys/plan-encoding.ts", "../security/default-profile.ts",
    "../security/default-seccomp.json", "../security/capabilities.ts"]) h.update(readFileSync(join(import.meta.dir, f)));
  return (converterId = h.digest("hex"));
}

/** The prefix of this build's cache files (BUILD above). */
function buildTag(): string {
  return `${converter().slice(0, 12)}-`;
}

/** Where the cache keeps KEY's file of this kind. */
export function cacheFile(cacheDir: string, key: string, kind: "plan" | "bpf" | "default"): string {
  return join(cacheDir, kind === "default" ? `${buildTag()}default-${key}.json` : `${buildTag()}${key}.${kind}`);
}

export function seccompKey(seccomp: Seccomp): string {
  return new Bun.CryptoHasher("sha256").update(converter()).update("\n").update(JSON.stringify(seccomp)).digest("hex");
}

/** The bytes an include file for KEY starts with (the C core checks the same record). */
function includeHead(key: string): string {
  return `included\x001\x00${key}\x00`;
}

function includeValid(path: string, key: string): boolean {
  const want = includeHead(key);
  const buf = Buffer.alloc(want.length);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return false;
  }
  try {
    return readSync(fd, buf, 0, buf.length, 0) === buf.length && buf.toString("latin1") === want;
  } finally {
    closeSync(fd);
  }
}

/**
 * The plan records for a container's seccomp profile. `cacheDir` unset: the records themselves
 * (nothing cached). Set: one `include` of the profile's records file, written the first time
 * this profile is seen (a bad profile throws here, so only a valid one is ever cached).
 */
export function seccompPlanRecords(seccomp: Seccomp, cacheDir: string | undefined): PlanRecord[] {
  if (!cacheDir) return seccompRecords(seccomp);
  const key = seccompKey(seccomp);
  const path = cacheFile(cacheDir, key, "plan");
  if (!includeValid(path, key)) {
    writeAtomically(path, encodePlan([["included", key], ...seccompRecords(seccomp), ["seccomp_cache", cacheFile(cacheDir, key, "bpf"), key]]));
  }
  return [["include", path, key]];
}

/** Writes a cache file whole or not at all (0600, in the 0700 cache dir). A write happens on a
 *  miss only, so it also clears out what other builds left (keeping the cache to one build's). */
function writeAtomically(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true }); // a full disk: no half-written file stays behind
    throw e;
  }
  const mine = buildTag();
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(mine) && /\.(plan|bpf|json)$/.test(name)) rmSync(join(dir, name), { force: true });
    // what a berth killed between write and rename left (a live writer's stays)
    const writer = /\.(\d+)\.tmp$/.exec(name);
    if (writer && !isRunning(Number(writer[1]))) rmSync(join(dir, name), { force: true });
  }
}

/** defaultSeccompFor(capabilities) on this host, read back from the cache when it was resolved before. */
export function cachedDefaultSeccomp(capabilities: readonly string[], cacheDir: string): Seccomp {
  const host = hostForSeccomp();
  const key = new Bun.CryptoHasher("sha256").update(`${converter()}\ndefault\n${[...capabilities].sort().join(",")}\n${host.arch}\n${host.kernel}`).digest("hex");
  const path = cacheFile(cacheDir, key, "default");
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Seccomp;
  } catch { /* not resolved yet (or damaged): resolve it again */ }
  const seccomp = defaultSeccompFor(capabilities, host);
  writeAtomically(path, JSON.stringify(seccomp));
  return seccomp;
}
