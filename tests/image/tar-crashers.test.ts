// The fuzzer's findings (tests/image/fixtures/tar-crashers, see its README): every one, fed to
// its target (TarReader, import or load), to the importers and to the reader alone in 7-byte
// chunks, must end in a clean error naming what is wrong, or in a load — within the per-case
// time limit (not a hang), with the child process alive (not a crash), no JS engine error
// (TypeError, RangeError…), nothing left in the store and nothing written outside it.
// scripts/fuzz-archives.ts --replay does the running.
import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";

const repo = path.resolve(import.meta.dir, "../..");
const corpus = path.join(import.meta.dir, "fixtures/tar-crashers");

interface Replayed { file: string; target: string; outcome: string; errorClass?: string; message?: string }

test("every archive the fuzzer found fails cleanly (or loads), in bounded time, leaving nothing behind", () => {
  const files = fs.readdirSync(corpus).filter((f) => f.endsWith(".tar"));
  expect(files.length).toBeGreaterThan(20);
  const r = Bun.spawnSync([process.execPath, path.join(repo, "scripts/fuzz-archives.ts"), "--replay", corpus, "--json", "--timeout", "30000"], { stdout: "pipe", stderr: "pipe" });
  const results = JSON.parse(r.stdout.toString()) as Replayed[];
  for (const f of files) expect(results.filter((x) => x.file === f).map((x) => x.target).sort()).toEqual(["import", "load", "tar"].concat(f.startsWith("tar-") ? ["tar"] : []));
  const bad = results.filter((x) => x.outcome !== "ok" && x.outcome !== "error");
  expect(bad).toEqual([]);
  for (const x of results.filter((y) => y.outcome === "error")) {
    expect(x.message?.length ?? 0).toBeGreaterThan(10);
    expect(["TypeError", "RangeError", "SyntaxError", "ReferenceError"]).not.toContain(x.errorClass);
  }
  expect(r.exitCode).toBe(0);
}, 600_000);
