// Relative paths in a service (and in secrets/configs) belong to the file that wrote them: a service
// taken from another file — by `include`, or `extends: {file: …}` — has its paths made absolute
// against that file's directory before it joins the project, whose own relative paths are then
// resolved against the project directory as usual (model.ts).
import { isAbsolute, resolve } from "node:path";

type Raw = Record<string, unknown>;
const isObj = (v: unknown): v is Raw => !!v && typeof v === "object" && !Array.isArray(v);
const abs = (dir: string, p: string) => (isAbsolute(p) || p.startsWith("~") ? p : resolve(dir, p));

/** A short volume's source is a path (a bind) when it starts with "." or "/" (or "~"); else a volume's name. */
function shortVolume(dir: string, v: string): string {
  const at = v.indexOf(":");
  if (at <= 0) return v;
  const source = v.slice(0, at);
  return source.startsWith(".") ? `${resolve(dir, source)}${v.slice(at)}` : v;
}

/** The service with its relative paths made absolute against dir (a new object; the input is kept). */
export function absoluteServicePaths(service: Raw, dir: string): Raw {
  const s: Raw = { ...service };
  if (typeof s.build === "string") s.build = abs(dir, s.build);
  else if (isObj(s.build) && typeof s.build.context === "string") s.build = { ...s.build, context: abs(dir, s.build.context) };
  if (Array.isArray(s.volumes)) {
    s.volumes = s.volumes.map((v) => {
      if (typeof v === "string") return shortVolume(dir, v);
      if (isObj(v) && v.type === "bind" && typeof v.source === "string") return { ...v, source: abs(dir, v.source) };
      return v;
    });
  }
  if (typeof s.env_file === "string") s.env_file = abs(dir, s.env_file);
  else if (Array.isArray(s.env_file)) {
    s.env_file = s.env_file.map((f) => (typeof f === "string" ? abs(dir, f) : isObj(f) && typeof f.path === "string" ? { ...f, path: abs(dir, f.path) } : f));
  }
  if (isObj(s.extends) && typeof s.extends.file === "string") s.extends = { ...s.extends, file: abs(dir, s.extends.file) };
  return s;
}

/** Top-level secrets/configs with their `file:` made absolute against dir. */
export function absoluteFileSources(decls: unknown, dir: string): unknown {
  if (!isObj(decls)) return decls;
  return Object.fromEntries(Object.entries(decls).map(([k, v]) => [k, isObj(v) && typeof v.file === "string" ? { ...v, file: abs(dir, v.file) } : v]));
}
