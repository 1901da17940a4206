// The compiled seccomp program is cached per profile under the runtime root (@seccomp/KEY.bpf):
// a second container with the same profile loads it instead of running libseccomp, a different
// profile gets its own entry, and a damaged or foreign cache file is rebuilt, never trusted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RUNTIME, Sandbox, answer, hardenedSpec } from "./container.ts";
import { fixtures, removeFixtures } from "./helpers.ts";

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
const cacheFiles = () => (existsSync(cacheDir()) ? readdirSync(cacheDir()).filter((f) => f.endsWith(".bpf")) : []);

describe.if(RUNTIME.includes("berth"))("seccomp program cache", () => {
  test("the first container writes it, the next one uses it, and the filter still holds", () => {
    expect(answer(sb.run(hardenedSpec(sb, ["/bin/probe", "keyctl"])))).toBe(EPERM);
    const files = cacheFiles();
    expect(files.length).toBe(1);
    const file = join(cacheDir(), files[0]!);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(cacheDir()).mode & 0o777).toBe(0o700);
    const head = readFileSync(file).subarray(0, 200).toString("latin1").split("\n")[0]!;
    expect(head).toMatch(new RegExp(`^berth-seccomp 1 ${files[0]!.replace(".bpf", "")} libseccomp \\d+\\.\\d+\\.\\d+ flags \\d+ notify 0 len \\d+$`));
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
    const spec = hardenedSpec(sb, ["/bin/probe", "keyctl"]);
    sb.run(spec);
    const allowAll = hardenedSpec(sb, ["/bin/probe", "keyctl"]);
    allowAll.linux!.seccomp = { defaultAction: "SCMP_ACT_ALLOW" };
    sb.run(allowAll);
    const files = cacheFiles().map((f) => join(cacheDir(), f));
    const bytes = files.map((f) => readFileSync(f));
    const strict = files.find((_, i) => bytes[i]!.toString("latin1").includes(" len ") && bytes[i]!.length > 1000)!;
    const permissive = files.find((f) => f !== strict && readFileSync(f).length < 1000)!;
    // Swap in the allow-all program under the strict profile's name (its header names another key).
    writeFileSync(strict, readFileSync(permissive));
    expect(answer(sb.run(spec))).toBe(EPERM);
    expect(readFileSync(strict).toString("latin1")).toContain(strict.split("/").pop()!.replace(".bpf", ""));
    // Garbage: rebuilt as well.
    writeFileSync(strict, "not a program\n");
    expect(answer(sb.run(spec))).toBe(EPERM);
    expect(readFileSync(strict).length).toBeGreaterThan(1000);
  });
});
