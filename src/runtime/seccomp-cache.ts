// The seccomp records of a plan plus where the C core caches the compiled program (libseccomp
// needs 10-20 ms to build Docker's profile for three architectures; see native/init/seccomp.c).
import { join } from "node:path";
import type { Seccomp } from "../oci/spec.ts";
import type { PlanRecord } from "./plan-encoding.ts";
import { seccompRecords } from "../security/seccomp.ts";

/** The cache lives beside the containers' state dirs under a name no container ID can have. */
export function seccompCacheDir(runtimeRoot: string): string {
  return join(runtimeRoot, "@seccomp");
}

/** `cacheDir` unset: no cache (the program is built every time). */
export function seccompPlanRecords(seccomp: Seccomp, cacheDir: string | undefined): PlanRecord[] {
  const records = seccompRecords(seccomp);
  if (!cacheDir) return records;
  // Keyed by everything the program is built from; the C side also checks libseccomp's version.
  const key = new Bun.CryptoHasher("sha256").update(JSON.stringify(records)).digest("hex");
  return [...records, ["seccomp_cache", join(cacheDir, `${key}.bpf`), key]];
}
