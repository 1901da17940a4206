// The shape of native/: within each program (init, monitor), no .c files use each other in a
// circle. A file uses another when it refers to a function or variable the other defines; the
// compiler says which (each file compiled alone, its symbols read with nm), so nothing here
// guesses at C syntax.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { circles } from "./graph.ts";

const NATIVE = resolve(import.meta.dir, "../../native");
const work = mkdtempSync(join(tmpdir(), "berth-structure-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(argv: string[]): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed:\n${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** .c file → the other .c files of the same program whose symbols it uses. */
function symbolGraph(program: string): Map<string, string[]> {
  const files = readdirSync(join(NATIVE, program)).filter((f) => f.endsWith(".c")).sort();
  const defines = new Map<string, string>(); // symbol → file
  const uses = new Map<string, string[]>(); // file → undefined symbols
  for (const file of files) {
    const object = join(work, `${program}-${file}.o`);
    run(["cc", "-std=gnu11", "-D_GNU_SOURCE", "-c", "-o", object, join(NATIVE, program, file)]);
    const undefined_: string[] = [];
    for (const line of run(["nm", object]).split("\n")) {
      const fields = line.trim().split(/\s+/);
      if (fields.length === 2 && fields[0] === "U") undefined_.push(fields[1]!);
      else if (fields.length === 3 && /^[A-Z]$/.test(fields[1]!) && fields[1] !== "U") defines.set(fields[2]!, file);
    }
    uses.set(file, undefined_);
  }
  return new Map(files.map((file) => [file, [...new Set(uses.get(file)!.flatMap((s) => defines.get(s) ?? []))].filter((f) => f !== file)]));
}

describe("native/ structure", () => {
  for (const program of ["init", "monitor"]) {
    test(`no circle between the .c files of native/${program}`, () => {
      const graph = symbolGraph(program);
      expect([...graph.values()].flat().length).toBeGreaterThan(5); // nm was read, not skipped
      expect(circles(graph)).toEqual([]);
    });
  }
});
