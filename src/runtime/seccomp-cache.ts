// A seccomp profile's plan records, kept per profile under the runtime root: converting Docker's
// profile into ~300 records costs TypeScript 1-2 ms per container, and libseccomp needs 10-20 ms
// to compile them for three architectures (native/init/seccomp.c). Both results depend only on
// the profile, so both are cached in @seccomp/, named by KEY = sha256(converter + profile):
//   KEY.plan  the records (written here, atomically), which the plan includes by reference;
//   KEY.bpf   the compiled program (written by the C core on first use).
import { closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Seccomp } from "../oci/spec.ts";
import { encodePlan, type PlanRecord } from "./plan-encoding.ts";
import { seccompRecords } from "../security/seccomp.ts";

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
  // From source (tests, development): the files that decide the records' bytes.
  const h = new Bun.CryptoHasher("sha256");
  for (const f of ["../security/seccomp.ts", "./seccomp-cache.ts", "./plan-encoding.ts"]) h.update(readFileSync(join(import.meta.dir, f)));
  return (converterId = h.digest("hex"));
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
  const path = join(cacheDir, `${key}.plan`);
  if (!includeValid(path, key)) {
    const records: PlanRecord[] = [["included", key], ...seccompRecords(seccomp), ["seccomp_cache", join(cacheDir, `${key}.bpf`), key]];
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, encodePlan(records), { mode: 0o600 });
    renameSync(tmp, path);
  }
  return [["include", path, key]];
}
