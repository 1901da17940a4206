// The Dockerfile grammar: parser directives (`# escape=`, `# syntax=`), comments, line
// continuations, heredocs (`RUN <<EOF`), instruction flags (`--from=x`) and the JSON (exec) form.
// Parsing is syntax only: variables are expanded by the builder, which knows what is in scope.

export interface Heredoc {
  name: string;
  content: string;
  /** `<<"EOF"` or `<<'EOF'`: the body is taken literally (no expansion by the shell). */
  quoted: boolean;
}

export interface Instruction {
  /** Upper-case keyword: RUN, COPY, … */
  keyword: string;
  /** 1-based line of the keyword. */
  line: number;
  /** The arguments after the flags, continuation lines joined (heredoc bodies not included). */
  args: string;
  /** `--name=value` flags before the arguments (`--link` alone: "true"; repeated `--mount`s joined by "\n"). */
  flags: Record<string, string>;
  /** The JSON (exec) form's strings, when the arguments are a JSON array of strings. */
  json: string[] | null;
  heredocs: Heredoc[];
  /** As written (flags included, one line), for messages and history. */
  text: string;
}

export interface Dockerfile {
  instructions: Instruction[];
  escape: string;
  /** Notes for the user (an ignored `# syntax=` directive). */
  notes: string[];
}

export class DockerfileError extends Error {}

const KEYWORDS = new Set([
  "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG",
  "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
]);
/** Instructions whose arguments may start heredocs. */
const HEREDOC_KEYWORDS = new Set(["RUN", "COPY", "ADD"]);

export function parseDockerfile(source: string): Dockerfile {
  const lines = source.replace(/^\uFEFF/, "").split(/\r?\n/);
  let escape = "\\";
  const notes: string[] = [];
  let i = 0;
  // Parser directives: `# key=value` lines at the very top, before any comment, blank line or instruction.
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$/.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (seen.has(key)) throw new DockerfileError(`line ${i + 1}: only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === "escape") {
      if (m[2] !== "\\" && m[2] !== "`") throw new DockerfileError(`line ${i + 1}: invalid escape token '${m[2]}' does not match ` + "` or \\");
      escape = m[2]!;
    } else if (key === "syntax") {
      notes.push(`the syntax directive (${m[2]}) is ignored: berth builds with its own Dockerfile frontend`);
    } else break; // an unknown directive is a comment, and ends the directives
  }
  const continued = new RegExp(`${escape === "\\" ? "\\\\" : "`"}\\s*$`);
  const instructions: Instruction[] = [];
  while (i < lines.length) {
    const first = lines[i]!;
    if (/^\s*(#.*)?$/.test(first)) { i++; continue; }
    const line = i + 1;
    let text = first.trimStart();
    // Continuation lines: an escape at the end joins the next line; comment lines inside are dropped.
    while (continued.test(text) && i + 1 < lines.length) {
      text = text.replace(continued, "");
      i++;
      while (i < lines.length && /^\s*#/.test(lines[i]!)) i++;
      if (i < lines.length) text += lines[i]!;
    }
    if (continued.test(text)) text = text.replace(continued, "");
    i++;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    if (!KEYWORDS.has(keyword)) throw new DockerfileError(`line ${line}: unknown instruction: ${m[1]}`);
    const { flags, rest } = splitFlags(keyword, m[2]!);
    const heredocs: Heredoc[] = [];
    if (HEREDOC_KEYWORDS.has(keyword) && !rest.startsWith("[")) {
      for (const h of rest.matchAll(/<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)) {
        const strip = h[1] === "-";
        const body: string[] = [];
        let closed = false;
        while (i < lines.length) {
          const l = strip ? lines[i]!.replace(/^\t+/, "") : lines[i]!;
          i++;
          if (l === h[3]) { closed = true; break; }
          body.push(l);
        }
        if (!closed) throw new DockerfileError(`line ${line}: heredoc <<${h[3]} is not closed by a line "${h[3]}"`);
        heredocs.push({ name: h[3]!, content: body.length ? body.join("\n") + "\n" : "", quoted: h[2] !== "" });
      }
    }
    instructions.push({ keyword, line, args: rest, flags, json: jsonForm(rest), heredocs, text: text.trim() });
  }
  return { instructions, escape, notes };
}

/** Leading `--name=value` / `--name` words. Only instructions that take flags have them. */
function splitFlags(keyword: string, args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  if (!["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"].includes(keyword)) return { flags, rest: args.trim() };
  let rest = args.trim();
  for (;;) {
    const m = /^--([a-zA-Z][a-zA-Z0-9-]*)(?:=("[^"]*"|\S*))?(?:\s+|$)/.exec(rest);
    if (!m) break;
    const v = m[2] === undefined ? "true" : m[2].replace(/^"(.*)"$/, "$1");
    // RUN may have several --mount flags: kept in order, one per line (a flag is one line)
    flags[m[1]!] = m[1] === "mount" && flags.mount !== undefined ? `${flags.mount}\n${v}` : v;
    rest = rest.slice(m[0].length);
  }
  return { flags, rest: rest.trim() };
}

/** The exec form: a JSON array of strings; anything else is the shell form. */
export function jsonForm(args: string): string[] | null {
  const t = args.trim();
  if (!t.startsWith("[")) return null;
  try {
    const v = JSON.parse(t) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  } catch {
    // not JSON: the shell form
  }
  return null;
}

/**
 * Splits shell-form arguments into words as the Dockerfile does (whitespace separates; quotes
 * group and are removed; the escape character escapes). Variables are left for expandWord.
 */
export function splitWords(s: string, escape = "\\"): string[] {
  const out: string[] = [];
  let cur = "", quote: string | null = null, any = false;
  for (let k = 0; k < s.length; k++) {
    const ch = s[k]!;
    if (quote) {
      if (ch === quote) {
        if (quote === "'") cur += "'"; // ends the literal text expandWord keeps as is
        quote = null;
      } else if (ch === escape && quote === '"' && k + 1 < s.length) cur += ch + s[++k];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
      if (ch === "'") cur += "\u0000'"; // marks single-quoted text: no expansion in it
    } else if (ch === escape && k + 1 < s.length) {
      cur += ch + s[++k];
    } else if (/\s/.test(ch)) {
      if (cur || any) out.push(cur);
      cur = "";
      any = false;
    } else cur += ch;
  }
  if (quote) throw new DockerfileError(`unterminated quote in ${JSON.stringify(s)}`);
  if (cur || any) out.push(cur);
  return out;
}

/**
 * Expands $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} in one word (from splitWords), and
 * removes escapes. Text that was single-quoted stays as it is.
 */
export function expandWord(word: string, vars: ReadonlyMap<string, string>, escape = "\\"): string {
  let out = "";
  let literal = false;
  for (let k = 0; k < word.length; k++) {
    const ch = word[k]!;
    if (ch === "\u0000" && word[k + 1] === "'") { literal = !literal; k++; continue; }
    if (literal) {
      if (ch === "'") { literal = false; continue; }
      out += ch;
      continue;
    }
    if (ch === escape && k + 1 < word.length) { out += word[++k]; continue; }
    if (ch !== "$") { out += ch; continue; }
    const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}/.exec(word.slice(k));
    if (braced) {
      const v = vars.get(braced[1]!);
      const op = braced[2];
      const alt = braced[3] !== undefined ? expandWord(braced[3], vars, escape) : "";
      if (op === ":-") out += v ? v : alt;
      else if (op === "-") out += v !== undefined ? v : alt;
      else if (op === ":+") out += v ? alt : "";
      else if (op === "+") out += v !== undefined ? alt : "";
      else out += v ?? "";
      k += braced[0].length - 1;
      continue;
    }
    const plain = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(word.slice(k));
    if (plain) {
      out += vars.get(plain[1]!) ?? "";
      k += plain[0].length - 1;
      continue;
    }
    out += ch;
  }
  return out;
}

/** Words of shell-form arguments, each expanded. */
export function expandWords(args: string, vars: ReadonlyMap<string, string>, escape = "\\"): string[] {
  return splitWords(args, escape).map((w) => expandWord(w, vars, escape));
}

/** KEY=VALUE pairs (ENV, LABEL, ARG), or the legacy `ENV KEY value…` form. */
export function keyValues(keyword: string, args: string, vars: ReadonlyMap<string, string>, escape = "\\"): Array<[string, string]> {
  const words = splitWords(args, escape);
  if (words.length && !words[0]!.includes("=") && keyword !== "ARG") {
    if (words.length < 2) throw new DockerfileError(`${keyword} requires at least one argument`);
    const key = words[0]!;
    const value = args.trim().slice(key.length).trim();
    return [[key, expandWord(value, vars, escape)]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq === 0) throw new DockerfileError(`${keyword}: names can not be blank (${JSON.stringify(w)})`);
    if (eq < 0) {
      if (keyword === "ARG") return [w, "\u0000unset"] as [string, string];
      throw new DockerfileError(`${keyword}: expected KEY=VALUE, got ${JSON.stringify(w)}`);
    }
    return [w.slice(0, eq), expandWord(w.slice(eq + 1), vars, escape)] as [string, string];
  });
}
