// scripts/conformance.sh turns runtime-tools' TAP output into PASS / FAIL / SKIP. These tests feed
// its `rescore` command TAP files shaped like the suite's real output and check each verdict.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const script = resolve(import.meta.dir, "../../scripts/conformance.sh");
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "berth-conformance-test-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes one TAP file per case (with the exit line the harness appends) and rescoring them all. */
function verdicts(cases: Record<string, { tap: string; exit?: number }>): Record<string, string> {
  for (const [name, c] of Object.entries(cases)) {
    writeFileSync(join(dir, `${name}.tap`), `${c.tap}\n# conformance.sh: exit ${c.exit ?? 0}\n`);
  }
  const proc = Bun.spawnSync(["bash", script, "rescore", dir], { stdout: "pipe", stderr: "pipe" });
  expect(proc.stderr.toString()).toBe("");
  expect(proc.exitCode).toBe(0);
  const out: Record<string, string> = {};
  for (const line of proc.stdout.toString().trim().split("\n")) {
    const [name, verdict] = line.split(" ");
    out[name!] = verdict!;
  }
  return out;
}

const errorBlock = (msg: string): string => `  ---\n  {\n    "error": "${msg}"\n  }\n  ...`;

describe("conformance.sh verdicts", () => {
  test("test points all ok is PASS; one not ok is FAIL; a TODO not ok does not count", () => {
    expect(
      verdicts({
        allOk: { tap: "TAP version 13\nok 1 - a\nok 2 - b\n1..2" },
        oneNotOk: { tap: "TAP version 13\nok 1 - a\nnot ok 2 - b\n1..2" },
        todo: { tap: "TAP version 13\nok 1 - a\nnot ok 2 - b # TODO later\n1..2" },
      }),
    ).toEqual({ allOk: "PASS", oneNotOk: "FAIL", todo: "PASS" });
  });

  test("a non-zero exit is FAIL even when every printed point is ok", () => {
    expect(verdicts({ fatal: { tap: "TAP version 13\nok 1 - a\nexit status 1", exit: 1 } })).toEqual({ fatal: "FAIL" });
  });

  test("every point skipped is SKIP, some skipped is PASS", () => {
    expect(
      verdicts({
        allSkip: { tap: "TAP version 13\n1..1\nok 1 # SKIP linux-specific" },
        someSkip: { tap: "TAP version 13\nok 1 - a\nok 2 # SKIP not set\n1..2" },
      }),
    ).toEqual({ allSkip: "SKIP", someSkip: "PASS" });
  });

  test("lifecycle tests: 1..0 with a loose error is FAIL, 1..0 alone is PASS", () => {
    expect(
      verdicts({
        hookOrder: { tap: `TAP version 13\n${errorBlock("Hooks MUST be called in the listed order")}\n1..0` },
        hookFailed: {
          tap: `TAP version 13\nfailed to create the container\nruntime: hook failed\n${errorBlock("if any poststart hook fails, the runtime MUST log a warning")}\n1..0`,
        },
        clean: { tap: "TAP version 13\n1..0" },
        silent: { tap: "" },
      }),
    ).toEqual({ hookOrder: "FAIL", hookFailed: "FAIL", clean: "PASS", silent: "PASS" });
  });

  test("an error diagnostic that belongs to an ok point (an expected error) is PASS", () => {
    const tap = [
      "TAP version 13",
      "ok 1 - state MUST generate an error if it is not provided the ID of a container",
      "Refer to: https://example.invalid/runtime.md#query-state",
      errorBlock("exit status 1"),
      "ok 2 - state MUST return the state",
      "1..2",
    ].join("\n");
    expect(verdicts({ expectedError: { tap } })).toEqual({ expectedError: "PASS" });
  });

  test("a loose error after a point's own diagnostic is FAIL", () => {
    const tap = ["TAP version 13", "ok 1 - a", "  ---\n  {\n    \"actual\": 1\n  }\n  ...", errorBlock("lifecycle failed"), "1..1"].join("\n");
    expect(verdicts({ late: { tap } })).toEqual({ late: "FAIL" });
  });
});

describe("conformance.sh usage", () => {
  test("--help prints the commands", () => {
    const proc = Bun.spawnSync(["bash", script, "--help"], { stdout: "pipe" });
    expect(proc.exitCode).toBe(0);
    const help = proc.stdout.toString();
    for (const word of ["check", "rootfs", "--compare", "rescore OUTDIR", "snapshot", "RUNTIME", "SUITE"]) expect(help).toContain(word);
  });

  test("running without a built suite says where the suite is built (runtime-tools' own Makefile)", () => {
    const proc = Bun.spawnSync(["bash", script, "run"], { stdout: "pipe", stderr: "pipe", env: { ...process.env, SUITE: join(dir, "none") } });
    expect(proc.exitCode).toBe(2);
    expect(proc.stderr.toString()).toContain("own Makefile");
  });

  test("an unknown option is refused", () => {
    const proc = Bun.spawnSync(["bash", script, "--frobnicate"], { stdout: "pipe", stderr: "pipe" });
    expect(proc.exitCode).toBe(2);
    expect(proc.stderr.toString()).toContain("unknown option --frobnicate");
  });
});
