// Shared by the build tests: a context directory made of files, and a build's output read per step.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** DIR/NAME holding these files (path → content; a Dockerfile among them). */
export function makeContext(dir: string, name: string, files: Record<string, string>): string {
  const ctx = join(dir, name);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(ctx, p, ".."), { recursive: true });
    writeFileSync(join(ctx, p), content);
  }
  return ctx;
}

/** The lines after each "Step N/M" line, per step. */
export function steps(out: string): string[][] {
  const res: string[][] = [];
  for (const line of out.split("\n")) {
    if (/^Step \d+\/\d+ : /.test(line)) res.push([line]);
    else if (res.length) res[res.length - 1]!.push(line);
  }
  return res;
}
