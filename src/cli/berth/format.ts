// Output helpers shared by the berth commands: aligned tables (docker's tabwriter look), the
// --format template subset people use ({{.Field}}, {{json .}}, {{json .Field}}, "table …"),
// human sizes and durations.

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

function lookup(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split(".").filter(Boolean)) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return "<no value>";
  if (typeof v === "object") return Array.isArray(v) ? `[${v.map(show).join(" ")}]` : `map[${Object.entries(v as object).map(([k, x]) => `${k}:${show(x)}`).join(" ")}]`;
  return String(v);
}

/** Renders a Go-template-like format for one object. */
export function renderTemplate(format: string, obj: Record<string, unknown>): string {
  const text = format.replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  return text.replace(/\{\{\s*(.*?)\s*\}\}/g, (_m, expr: string) => {
    const json = /^json\s+(\.\S*)$/.exec(expr);
    if (json) return JSON.stringify(json[1] === "." ? obj : lookup(obj, json[1]!.slice(1)) ?? null);
    const label = /^\.Label\s+"([^"]*)"$/.exec(expr);
    if (label) return String((obj.LabelsMap as Record<string, string> | undefined)?.[label[1]!] ?? "");
    const upper = /^upper\s+(\.\S*)$/.exec(expr);
    if (upper) return show(lookup(obj, upper[1]!.slice(1))).toUpperCase();
    const lower = /^lower\s+(\.\S*)$/.exec(expr);
    if (lower) return show(lookup(obj, lower[1]!.slice(1))).toLowerCase();
    if (expr.startsWith(".")) return show(lookup(obj, expr.slice(1)));
    return `{{${expr}}}`;
  });
}

/** Rows through a --format: "table X" prints a header from the field names, like docker. */
export function formatRows(format: string, objs: Record<string, unknown>[]): string {
  if (format === "json") return objs.map((o) => JSON.stringify(o)).join("\n") + (objs.length ? "\n" : "");
  if (format.startsWith("table")) {
    const tpl = format.slice(5).trim() || "";
    const cols = tpl.replace(/\\t/g, "\t").split("\t");
    const header = cols.map((c) => {
      const m = /\{\{\s*\.(\w+)\s*\}\}/.exec(c);
      return m ? m[1]!.replace(/([a-z])([A-Z])/g, "$1 $2").toUpperCase() : c;
    });
    return table(header, objs.map((o) => cols.map((c) => renderTemplate(c, o))));
  }
  return objs.map((o) => renderTemplate(format, o) + "\n").join("");
}

export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 3 : v < 100 ? 2 : 1).replace(/\.?0+$/, "")}${units[i]}`;
}

/** Binary units, as docker stats prints memory: 1.5MiB, 64MiB. */
export function binarySize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(2).replace(/\.?0+$/, "")}${units[i]}`;
}

/** "5 seconds", "About a minute", "2 hours" — docker's HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  const d = Math.round(h / 24);
  if (d < 14) return `${d} days`;
  if (d < 60) return `${Math.round(d / 7)} weeks`;
  if (d < 730) return `${Math.round(d / 30)} months`;
  return `${Math.round(d / 365)} years`;
}

export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
}
