// What berth-runtime's short commands load. containerd's shim runs start, delete (twice), state
// and kill once or more per container; each is a fresh process, so every module they import is
// start-up time: node:fs and node:path (~1.5 ms), libc.ts's seventeen ffi trampolines (~3 ms),
// the cgroup package (reads the host's mounts). Those are reached only through require() when
// the command needs them (a live group, a hook's failure report), never by a static import.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");

/** Static, value-level imports of a file (`import type` and `import { type X }`-only lines load nothing). */
function valueImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)([^;]*?)\s+from\s+"([^"]+)"/gms)) {
    const names = m[1]!;
    // `import { type A, type B } from` loads nothing either.
    if (/^\{[^}]*\}$/.test(names.trim()) && names.slice(1, -1).split(",").every((n) => !n.trim() || /^type\s/.test(n.trim()))) continue;
    out.push(m[2]!);
  }
  for (const m of text.matchAll(/^import\s+"([^"]+)"/gm)) out.push(m[1]!);
  return out;
}

/** Every module a file loads at import time, transitively: source files relative to src/, and builtins. */
function loaded(entry: string): Set<string> {
  const seen = new Set<string>();
  const walk = (file: string) => {
    const key = relative(SRC, file);
    if (seen.has(key)) return;
    seen.add(key);
    for (const spec of valueImports(file)) {
      if (spec.startsWith(".")) walk(resolve(dirname(file), spec));
      else seen.add(spec);
    }
  };
  walk(resolve(SRC, entry));
  return seen;
}

describe("berth-runtime's short commands load no more than they need", () => {
  for (const command of ["start", "delete", "kill", "state"]) {
    test(command, () => {
      const mods = new Set([...loaded("cli/runtime/main.ts"), ...loaded(`cli/runtime/${command}.ts`)]);
      expect(mods.has("runtime/state-store.ts")).toBe(true); // the walk did reach the runtime
      const heavy = [...mods].filter((m) =>
        m === "node:fs" || m === "node:path" || m === "sys/libc.ts" || m === "runtime/native.ts" ||
        (m.startsWith("cgroups/") && m !== "cgroups/empty-groups.ts"));
      expect(heavy).toEqual([]);
    });
  }
});
