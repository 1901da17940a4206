// Compose's variable syntax in every string value: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, and $$ for a literal $. Defaults and
// alternatives may hold variables themselves. Keys are never interpolated (as docker compose).

export type Env = Record<string, string | undefined>;

export class InterpolationError extends Error {}

/** The end of a ${...} group that starts at `open` (the index of "{"), nested groups included. */
function closing(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === "{") depth++;
    else if (s[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

export function interpolateString(s: string, env: Env, where: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== "$") { out += ch; continue; }
    const next = s[i + 1];
    if (next === "$") { out += "$"; i++; continue; }
    if (next === "{") {
      const end = closing(s, i + 1);
      if (end < 0) throw new InterpolationError(`invalid interpolation format for ${where}: "${s}"; you may need to escape any $ with another $`);
      out += expand(s.slice(i + 2, end), env, where, s);
      i = end;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
    if (!m) { out += ch; continue; }
    out += env[m[0]] ?? "";
    i += m[0].length;
  }
  return out;
}

function expand(body: string, env: Env, where: string, whole: string): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  if (!m) throw new InterpolationError(`invalid interpolation format for ${where}: "${whole}"; you may need to escape any $ with another $`);
  const [, name, op, rest = ""] = m as unknown as [string, string, string | undefined, string | undefined];
  const value = env[name];
  const unsetOrEmpty = value === undefined || value === "";
  switch (op) {
    case undefined: return value ?? "";
    case ":-": return unsetOrEmpty ? interpolateString(rest, env, where) : value;
    case "-": return value === undefined ? interpolateString(rest, env, where) : value;
    case ":?":
    case "?":
      if (op === ":?" ? unsetOrEmpty : value === undefined) {
        const msg = interpolateString(rest, env, where);
        throw new InterpolationError(`error while interpolating ${where}: required variable ${name} is missing a value${msg ? `: ${msg}` : ""}`);
      }
      return value!;
    case ":+": return unsetOrEmpty ? "" : interpolateString(rest, env, where);
    case "+": return value === undefined ? "" : interpolateString(rest, env, where);
    default: return value ?? "";
  }
}

/** Every string value of a parsed YAML document, interpolated; `path` names the key in errors. */
export function interpolate(value: unknown, env: Env, path: string[] = []): unknown {
  if (typeof value === "string") return interpolateString(value, env, path.join(".") || "the file");
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, [...path, String(i)]));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env, [...path, k]);
    return out;
  }
  return value;
}

/** A .env file (docker compose's dotenv dialect): KEY=VALUE lines, `export `, quotes, # comments. */
export function parseDotEnv(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*([\s\S]*))?$/.exec(line);
    if (!m) throw new InterpolationError(`${file}:${n + 1}: unexpected character in variable name: ${JSON.stringify(raw)} (use KEY=VALUE)`);
    let v = m[2];
    if (v === undefined) return; // a bare KEY: taken from the environment, if there
    if ((v.startsWith('"') && v.endsWith('"') && v.length >= 2)) v = v.slice(1, -1).replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
    else if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, "");
    out[m[1]!] = v;
  });
  return out;
}
