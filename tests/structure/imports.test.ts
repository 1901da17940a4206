// The shape of src/: folders import only downward through the layers below, and no files import
// each other in a circle. Every import counts, type-only ones too (`import type`, `typeof
// import("…")`): a type that comes from above still makes the lower folder depend on the upper.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { circles } from "./graph.ts";

/** The layers, lowest first. A folder may import its own files and any folder of a lower layer;
 *  never a folder of its own layer (sideways) or of a higher one. A new folder under src/ must be
 *  added here. */
const LAYERS: readonly (readonly string[])[] = [
  ["oci", "sys"], // the spec's types and validation; shared libc calls, the plan's wire format
  ["security", "cgroups", "storage", "network"],
  ["runtime", "image"],
  ["engine"],
  ["build"], // the builder: a library over the engine that the API's POST /build, compose and the CLI call
  ["api", "compose"],
  ["cli"],
];

const SRC = resolve(import.meta.dir, "../../src");
const LAYER_OF = new Map(LAYERS.flatMap((folders, layer) => folders.map((f) => [f, layer] as const)));

/** The specifiers a TypeScript file imports: `from "x"` (import and export), `import "x"`,
 *  `import("x")` (also in types), `require("x")`. Comments, strings, template literals and
 *  regular expressions are skipped, so text that only looks like an import does not count. */
function importSpecifiers(text: string): string[] {
  type Token = { kind: "word" | "string" | "punct"; value: string };
  const tokens: Token[] = [];
  const braces: ("code" | "template")[] = []; // what each open `{` returns to when it closes
  let i = 0;
  const last = () => tokens[tokens.length - 1];
  // After these a `/` starts a regular expression; after a value (word, string, `)` `]` `}`) it divides.
  const regexAfterWord = new Set(["return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "yield", "await", "instanceof"]);
  const regexMayStart = () => {
    const t = last();
    if (!t) return true;
    if (t.kind === "string") return false;
    if (t.kind === "word") return regexAfterWord.has(t.value);
    return !(t.value === ")" || t.value === "]" || t.value === "}");
  };
  /** Skips a template literal's text from i (just after "`" or "}"); stops after the closing "`"
   *  or after "${" (pushing "template" so the matching "}" comes back here). */
  const skipTemplate = () => {
    while (i < text.length) {
      const c = text[i]!;
      if (c === "\\") { i += 2; continue; }
      if (c === "`") { i++; tokens.push({ kind: "string", value: "`template`" }); return; }
      if (c === "$" && text[i + 1] === "{") { i += 2; braces.push("template"); return; }
      i++;
    }
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === "/" && text[i + 1] === "/") { i = text.indexOf("\n", i); if (i < 0) break; continue; }
    if (c === "/" && text[i + 1] === "*") { i = text.indexOf("*/", i + 2); if (i < 0) break; i += 2; continue; }
    if (c === '"' || c === "'") {
      let j = i + 1, value = "";
      while (j < text.length && text[j] !== c) {
        if (text[j] === "\\") { value += text[j + 1]; j += 2; } else value += text[j++];
      }
      tokens.push({ kind: "string", value });
      i = j + 1;
      continue;
    }
    if (c === "`") { i++; skipTemplate(); continue; }
    if (c === "/" && regexMayStart()) {
      let j = i + 1, inClass = false;
      while (j < text.length && (inClass || text[j] !== "/") && text[j] !== "\n") {
        if (text[j] === "\\") j++;
        else if (text[j] === "[") inClass = true;
        else if (text[j] === "]") inClass = false;
        j++;
      }
      i = j + 1;
      while (/[a-z]/.test(text[i] ?? "")) i++;
      tokens.push({ kind: "string", value: "/regex/" });
      continue;
    }
    if (/[\w$]/.test(c)) {
      let j = i;
      while (j < text.length && /[\w$]/.test(text[j]!)) j++;
      tokens.push({ kind: "word", value: text.slice(i, j) });
      i = j;
      continue;
    }
    if (/\s/.test(c)) { i++; continue; }
    if (c === "{") braces.push("code");
    if (c === "}" && braces.pop() === "template") { i++; skipTemplate(); continue; }
    tokens.push({ kind: "punct", value: c });
    i++;
  }
  const found: string[] = [];
  tokens.forEach((t, k) => {
    const next = tokens[k + 1], after = tokens[k + 2];
    if (t.kind !== "word") return;
    if ((t.value === "from" || t.value === "import") && next?.kind === "string") found.push(next.value);
    else if ((t.value === "import" || t.value === "require") && next?.value === "(" && after?.kind === "string") found.push(after.value);
  });
  return found;
}

/** src/-relative path of every source file. */
function sourceFiles(): string[] {
  return readdirSync(SRC, { recursive: true }).map(String).filter((f) => /\.(ts|mts|cts|js|mjs)$/.test(f)).sort();
}

/** The src/ file a relative specifier names (with the extension-less and folder forms Bun accepts). */
function resolveImport(from: string, specifier: string): string {
  const base = resolve(SRC, dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(SRC, candidate);
  }
  throw new Error(`${from}: import ${JSON.stringify(specifier)} names no file`);
}

/** file → the src/ files it imports (specifiers that are not relative are packages or node:/bun:). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    const specifiers = importSpecifiers(readFileSync(join(SRC, file), "utf8")).filter((s) => s.startsWith("."));
    graph.set(file, [...new Set(specifiers.map((s) => resolveImport(file, s)))]);
  }
  return graph;
}

const folderOf = (file: string) => (file.includes("/") ? file.slice(0, file.indexOf("/")) : ".");

/** Every import that does not run downward, as "from -> to (why)". */
function layerViolations(graph: Map<string, string[]>): string[] {
  const out: string[] = [];
  for (const [file, targets] of graph) {
    const from = folderOf(file);
    for (const target of targets) {
      const to = folderOf(target);
      if (to === from) continue;
      if (target.startsWith("..")) { out.push(`${file} -> ${target} (outside src/)`); continue; }
      const a = LAYER_OF.get(from), b = LAYER_OF.get(to);
      if (a === undefined || b === undefined) out.push(`${file} -> ${target} (folder ${a === undefined ? from : to} is not in LAYERS)`);
      else if (b > a) out.push(`${file} -> ${target} (upward: ${from} is below ${to})`);
      else if (b === a) out.push(`${file} -> ${target} (sideways: ${from} and ${to} are one layer)`);
    }
  }
  return out;
}

describe("src/ structure", () => {
  test("the import scanner finds every form and nothing in comments or strings", () => {
    const text = [
      `import { a } from "./a.ts";`,
      `import type { B } from '../b.ts';`,
      `import {\n  c,\n  type C,\n} from "./c.ts";`,
      `export * from "./d.ts";`,
      `export type { E } from "./e.ts";`,
      `import "./f.ts";`,
      `type G = typeof import("./g.ts");`,
      `const h = require("./h.ts");`,
      `const i = await import("./i.ts");`,
      `// import { x } from "./comment.ts";`,
      `/* require("./block.ts") */`,
      `const s = "import x from './string.ts'";`,
      "const t = `from \"./template.ts\" ${require(\"./in-template.ts\")} ${{ k: `from \"./nested.ts\"` }.k}`;",
      `const r = /from "\\.\\/regex.ts"/.test(s) ? 1 / 2 : 3 / 4;`,
      `import { j } from "./j.ts";`,
    ].join("\n");
    expect(importSpecifiers(text)).toEqual(["./a.ts", "../b.ts", "./c.ts", "./d.ts", "./e.ts", "./f.ts", "./g.ts", "./h.ts", "./i.ts", "./in-template.ts", "./j.ts"]);
  });

  test("the checks catch an upward import, a sideways one and a circle", () => {
    const graph = new Map([
      ["oci/spec.ts", ["security/x.ts"]],
      ["security/x.ts", ["oci/spec.ts", "network/y.ts"]],
      ["network/y.ts", []],
      ["engine/a.ts", ["engine/b.ts", "runtime/z.ts"]],
      ["engine/b.ts", ["engine/c.ts"]],
      ["engine/c.ts", ["engine/a.ts"]],
      ["runtime/z.ts", []],
    ]);
    expect(layerViolations(graph)).toEqual([
      "oci/spec.ts -> security/x.ts (upward: oci is below security)",
      "security/x.ts -> network/y.ts (sideways: security and network are one layer)",
    ]);
    expect(circles(graph).sort()).toEqual([
      "engine/a.ts -> engine/b.ts -> engine/c.ts -> engine/a.ts",
      "oci/spec.ts -> security/x.ts -> oci/spec.ts",
    ]);
  });

  const graph = importGraph();

  test("every folder of src/ is in the layer table", () => {
    const folders = [...new Set([...graph.keys()].map(folderOf))];
    expect(folders.filter((f) => !LAYER_OF.has(f))).toEqual([]);
    // The scanner is not vacuous on the real tree.
    expect([...graph.values()].flat().length).toBeGreaterThan(300);
  });

  test("folders import only downward", () => {
    expect(layerViolations(graph)).toEqual([]);
  });

  test("no import circle between files", () => {
    expect(circles(graph)).toEqual([]);
  });
});
