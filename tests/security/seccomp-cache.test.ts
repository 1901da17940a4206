// A seccomp profile's plan records (@seccomp/KEY.plan, included by the plan) and its compiled
// program (@seccomp/KEY.bpf) are cached per profile under the runtime root: a second container
// with the same profile converts and compiles nothing, a different profile gets its own entries,
// and a damaged or foreign cache file is rebuilt, never trusted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RUNTIME, Sandbox, answer, hardenedSpec } from "./container.ts";
import { fixtures, removeFixtures, underPlan } from "./helpers.ts";
import { encodePlan } from "../../src/sys/plan-encoding.ts";
import { cacheFile, cachedDefaultSeccomp, seccompKey, seccompPlanRecords } from "../../src/runtime/seccomp-cache.ts";
import { seccompRecords } from "../../src/security/seccomp.ts";
import { defaultSeccompFor } from "../../src/security/default-profile.ts";
import { DEFAULT_CAPABILITIES } from "../../src/security/capabilities.ts";

const EPERM = "errno EPERM 1";
let sb: Sandbox;

beforeAll(() => {
  if (!existsSync(RUNTIME)) throw new Error(`runtime under test not found: ${RUNTIME}`);
  fixtures();
  sb = new Sandbox();
}, 120_000);
afterAll(() => {
  sb?.cleanup();
  removeFixtures();
});

const cacheDir = () => join(sb.state, "@seccomp");
/** Cache files are named BUILD-KEY.EXT. */
const keyOf = (file: string) => file.split("/").pop()!.replace(/\.(bpf|plan)$/, "").split("-").pop()!;
const cacheFiles = (ext = ".bpf") => (existsSync(cacheDir()) ? readdirSync(cacheDir()).filter((f) => f.endsWith(ext)) : []);

describe.if(RUNTIME.includes("berth"))("seccomp program cache", () => {
  test("the first container writes it, the next one uses it, and the filter still holds", () => {
    expect(answer(sb.run(hardenedSpec(sb, ["/bin/probe", "keyctl"])))).toBe(EPERM);
    const files = cacheFiles();
    expect(files.length).toBe(1);
    const file = join(cacheDir(), files[0]!);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(cacheDir()).mode & 0o777).toBe(0o700);
    const head = readFileSync(file).subarray(0, 200).toString("latin1").split("\n")[0]!;
    expect(head).toMatch(new RegExp(`^berth-seccomp 2 ${keyOf(files[0]!)} libseccomp \\d+\\.\\d+\\.\\d+ flags \\d+ notify 0 len \\d+$`));
    const before = statSync(file).mtimeMs;
    // Same profile: the cached program is used (the file is not rewritten) and still refuses keyctl.
    expect(answer(sb.run(hardenedSpec(sb, ["/bin/probe", "keyctl"])))).toBe(EPERM);
    expect(statSync(file).mtimeMs).toBe(before);
    expect(answer(sb.run(hardenedSpec(sb, ["/bin/probe", "add_key"])))).toBe(EPERM);
  });

  test("another profile gets its own entry", () => {
    const spec = hardenedSpec(sb, ["/bin/probe", "keyctl"]);
    spec.linux!.seccomp!.syscalls!.push({ names: ["keyctl"], action: "SCMP_ACT_ALLOW" });
    expect(answer(sb.run(spec))).not.toBe(EPERM);
    expect(cacheFiles().length).toBe(2);
  });

  test("a damaged or foreign cache file is rebuilt, not trusted", () => {
    const own = new Sandbox(); // a cache of its own: exactly the two programs below
    try {
      const dir = join(own.state, "@seccomp");
      const spec = hardenedSpec(own, ["/bin/probe", "keyctl"]);
      own.run(spec);
      const allowAll = hardenedSpec(own, ["/bin/probe", "keyctl"]);
      allowAll.linux!.seccomp = { defaultAction: "SCMP_ACT_ALLOW" };
      own.run(allowAll);
      const files = readdirSync(dir).filter((f) => f.endsWith(".bpf")).map((f) => join(dir, f));
      expect(files.length).toBe(2);
      const strict = files.find((f) => readFileSync(f).length > 1000)!;
      const permissive = files.find((f) => f !== strict)!;
      // Swap in the allow-all program under the strict profile's name (its header names another key).
      writeFileSync(strict, readFileSync(permissive));
      expect(answer(own.run(spec))).toBe(EPERM);
      expect(readFileSync(strict).toString("latin1")).toContain(keyOf(strict));
      // Garbage: rebuilt as well.
      writeFileSync(strict, "not a program\n");
      expect(answer(own.run(spec))).toBe(EPERM);
      expect(readFileSync(strict).length).toBeGreaterThan(1000);
    } finally {
      own.cleanup();
    }
  });

  test("the profile's records are written once, included by every plan, and a swapped or damaged file is rewritten", () => {
    const own = new Sandbox(); // a cache of its own, so the files are this test's two profiles
    try {
      const dir = join(own.state, "@seccomp");
      const planFiles = () => readdirSync(dir).filter((f) => f.endsWith(".plan")).map((f) => join(dir, f));
      const spec = hardenedSpec(own, ["/bin/probe", "keyctl"]);
      expect(answer(own.run(spec))).toBe(EPERM);
      const [file] = planFiles();
      const key = keyOf(file!);
      expect(statSync(file!).mode & 0o777).toBe(0o600);
      expect(readFileSync(file!).subarray(0, 12 + key.length).toString("latin1")).toBe(`included\x001\x00${key}\x00`);
      const before = statSync(file!).mtimeMs;
      expect(answer(own.run(spec))).toBe(EPERM);
      expect(statSync(file!).mtimeMs).toBe(before);
      // Another profile's records under this name: their first record names the other key, so rewritten.
      const allowAll = hardenedSpec(own, ["/bin/probe", "keyctl"]);
      allowAll.linux!.seccomp = { defaultAction: "SCMP_ACT_ALLOW" };
      expect(answer(own.run(allowAll))).not.toBe(EPERM);
      const other = planFiles().find((f) => f !== file)!;
      writeFileSync(file!, readFileSync(other));
      expect(answer(own.run(spec))).toBe(EPERM);
      writeFileSync(file!, "garbage");
      expect(answer(own.run(spec))).toBe(EPERM);
      expect(readFileSync(file!).length).toBeGreaterThan(1000);
    } finally {
      own.cleanup();
    }
  });
});

describe("the cache files: plan includes (checked by the C core), the default profile, other builds' files", () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-include-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const strict = defaultSeccompFor([...DEFAULT_CAPABILITIES]);

  test("seccompPlanRecords gives one include whose records hold the profile", () => {
    const plan = seccompPlanRecords(strict, dir);
    expect(plan).toEqual([["include", cacheFile(dir, seccompKey(strict), "plan"), seccompKey(strict)]]);
    expect(underPlan(plan, ["keyctl"]).stdout.trim()).toBe(EPERM);
    expect(existsSync(cacheFile(dir, seccompKey(strict), "bpf"))).toBe(true);
  });

  test("a file that was not written for the include's key is refused, so nothing runs unfiltered", () => {
    const path = join(dir, "foreign.plan");
    writeFileSync(path, encodePlan([["included", "b".repeat(64)], ["seccomp_default", "allow", 0]]));
    const r = underPlan([["include", path, "a".repeat(64)]], ["keyctl"]);
    expect(r.exitCode).toBe(120);
    expect(r.stderr).toContain(`plan include ${path} was not written for key ${"a".repeat(64)}`);
  });

  test("an included file may not include another", () => {
    const inner = join(dir, "inner.plan"), outer = join(dir, "outer.plan");
    writeFileSync(inner, encodePlan([["included", "c".repeat(64)], ...seccompRecords(strict)]));
    writeFileSync(outer, encodePlan([["included", "d".repeat(64)], ["include", inner, "c".repeat(64)]]));
    const r = underPlan([["include", outer, "d".repeat(64)]], ["keyctl"]);
    expect(r.exitCode).toBe(120);
    expect(r.stderr).toContain("includes another file");
  });

  test("the default profile is resolved once per capability set; a damaged copy is resolved again", () => {
    const caps = [...DEFAULT_CAPABILITIES];
    const first = cachedDefaultSeccomp(caps, dir);
    expect(first).toEqual(defaultSeccompFor(caps));
    const file = readdirSync(dir).find((f) => f.includes("-default-") && f.endsWith(".json"))!;
    const before = statSync(join(dir, file)).mtimeMs;
    expect(cachedDefaultSeccomp(caps, dir)).toEqual(first);
    expect(statSync(join(dir, file)).mtimeMs).toBe(before);
    // Another capability set is another entry.
    expect(cachedDefaultSeccomp([...caps, "CAP_SYS_ADMIN"], dir)).toEqual(defaultSeccompFor([...caps, "CAP_SYS_ADMIN"]));
    writeFileSync(join(dir, file), "{not json");
    expect(cachedDefaultSeccomp(caps, dir)).toEqual(first);
  });

  test("a new entry clears out the files other builds left", () => {
    for (const stale of ["0123456789ab-" + "e".repeat(64) + ".plan", "0123456789ab-" + "e".repeat(64) + ".bpf", "0123456789ab-default-" + "e".repeat(64) + ".json"]) {
      writeFileSync(join(dir, stale), "old");
    }
    seccompPlanRecords({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [{ names: ["getpid"], action: "SCMP_ACT_ALLOW" }] }, dir);
    expect(readdirSync(dir).filter((f) => f.startsWith("0123456789ab-"))).toEqual([]);
    expect(existsSync(cacheFile(dir, seccompKey(strict), "plan"))).toBe(true);
  });
});
