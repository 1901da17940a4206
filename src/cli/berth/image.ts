// `berth load|save|import|images|rmi|tag|history` and `berth image inspect|prune|layers|tree|diff|ls|rm`.
// Docker's names and flags where docker has them. Progress goes to a terminal only.
import { openEngineImages } from "../../engine/images.ts";
import { UsageError } from "../../engine/errors.ts";
import { archiveImporter, DEFAULT_ROOT, familiarName, type ImageStore, type ImportResult, rootfsImporter, saveImages, type SaveFormat } from "../../image/index.ts";
import { imageHistory, inspectImage, unpackedSize } from "../../image/inspect.ts";
import { analyzeImage, diffImages, imageTree } from "../../image/layers.ts";
import { addImageFilter, ImageFilterError, type ImageListEntry, type ImageListOptions, listImages } from "../../image/list.ts";
import type { Progress } from "../../image/archive.ts";
import { type CommandSpec, type FlagSpec, type Parsed, bool, int, list, runParsed, str } from "./args.ts";
import { writeArchive } from "./archive-out.ts";
import { stdio } from "./io.ts";

export interface ImageCommandContext {
  root?: string; // store root (default $BERTH_ROOT or /var/lib/berth)
}

const USAGE: Record<string, string> = {
  image: `Usage: berth image COMMAND

Commands:
  ls / images [-q] [--digests] [--no-trunc] [--format FMT] [-f dangling=…|reference=…] [REPO[:TAG]]
  pull [-a] [-q] [--platform P] NAME[:TAG|@DIGEST]   download an image from a registry
  push [-q] NAME[:TAG]            upload an image to a registry
  load [-i FILE] [-q]             load a docker-archive or OCI layout (tar, dir, or stdin)
  save [-o FILE] [--format docker|oci] IMAGE…   write images as an archive (stdout without -o)
  import FILE|DIR|- [REF] [-c CHANGE…] [-m MSG]  make an image from a root filesystem
  tag SOURCE TARGET               add a name
  rm / rmi [-f] IMAGE…            remove images (by name: untag)
  inspect IMAGE…                  docker-compatible JSON
  history [--no-trunc] [-q] [--format FMT] IMAGE   the steps that built the image
  prune [-a] [-f]                 remove dangling (with -a: all unused) images, free their data
  layers IMAGE [--json]           per layer: digest, size, instruction, files added/modified/removed, efficiency
  tree IMAGE [--layer N] [--json] merged tree, each entry marked by the layer that last changed it
  diff A B [--json]               what changes from image A to image B`,
};

function storeRoot(ctx: ImageCommandContext): string {
  return ctx.root ?? process.env.BERTH_ROOT ?? DEFAULT_ROOT;
}

// ---- formatting helpers ----

export function humanSize(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0, v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v}B` : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)}${units[i]}`;
}

export function ago(iso: string | null): string {
  if (!iso) return "N/A";
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (!Number.isFinite(s)) return "N/A";
  if (s < 60) return "Less than a minute ago";
  const steps: Array<[number, string]> = [[60, "minute"], [3600, "hour"], [86400, "day"], [604800, "week"], [2629800, "month"], [31557600, "year"]];
  let pick: [number, string] = steps[0]!;
  for (const st of steps) if (s >= st[0]) pick = st;
  const n = Math.floor(s / pick[0]);
  return n === 1 ? `${pick[1] === "hour" ? "An" : "A"} ${pick[1]} ago` : `${n} ${pick[1]}s ago`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 3))).join("").trimEnd()).join("\n");
}

function field(obj: unknown, dotted: string): unknown {
  let v: unknown = obj;
  for (const k of dotted.split(".").filter(Boolean)) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

function plain(v: unknown): string {
  if (v === undefined || v === null) return "<no value>";
  if (Array.isArray(v)) return `[${v.map(plain).join(" ")}]`;
  if (typeof v === "object") return `map[${Object.entries(v as object).map(([k, x]) => `${k}:${plain(x)}`).join(" ")}]`;
  return String(v);
}

/** docker's --format for the common cases: {{.Field}}, {{.A.B}}, {{json .}}, {{json .A.B}}, a "table " prefix. */
export function goTemplate(fmt: string, obj: Record<string, unknown>): string {
  const body = fmt.startsWith("table ") ? fmt.slice(6) : fmt;
  if (body === "json" || body.trim() === "{{json .}}") return JSON.stringify(obj);
  return body
    .replace(/\{\{\s*json\s+\.([\w.]*)\s*\}\}/g, (_, k: string) => JSON.stringify(field(obj, k) ?? null))
    .replace(/\{\{\s*\.([\w.]+)\s*\}\}/g, (_, k: string) => plain(field(obj, k)))
    .replace(/\\t/g, "\t")
    .replace(/\\n/g, "\n");
}

function shortId(d: string, noTrunc = false): string {
  return noTrunc ? d : d.slice(7, 19);
}

/** One image verb: its table (usage without the verb's name) and what it does with the store. */
interface ImageVerb {
  spec: CommandSpec;
  run(store: ImageStore, p: Parsed): number | Promise<number>;
}

function verb<const F extends readonly FlagSpec[]>(usage: string, summary: string, flags: F, args: { minArgs?: number; maxArgs?: number },
  run: (store: ImageStore, p: Parsed<F[number]>) => number | Promise<number>): ImageVerb {
  return { spec: { name: "", usage, summary, flags, ...args }, run };
}

function makeProgress(label: string): { progress: Progress | undefined; done: () => void } {
  if (!process.stderr.isTTY) return { progress: undefined, done: () => {} };
  let last = 0;
  const progress: Progress = ({ bytes, layers }) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    process.stderr.write(`\r${label}: ${humanSize(bytes)} read, ${layers} layer${layers === 1 ? "" : "s"}\u001b[K`);
  };
  return { progress, done: () => process.stderr.write("\r\u001b[K") };
}

function print(s: string): void {
  process.stdout.write(s.endsWith("\n") ? s : s + "\n");
}

/** As docker: the tags the archive named, or the image ID when it named none. */
function loadedLines(loaded: ImportResult["loaded"]): string[] {
  return loaded.flatMap(({ image, names }) => (names.length ? names.map((n) => `Loaded image: ${familiarName(n)}`) : [`Loaded image ID: ${image.id}`]));
}

// ---- verbs ----

const LOAD = verb("[OPTIONS]", "Load an image from a docker-archive or OCI layout (tar, directory, or STDIN)", [
  str("input", "i", "Read from tar archive file or OCI layout directory, instead of STDIN", { default: "-" }), bool("quiet", "q", "Suppress the load output"),
], { maxArgs: 0 }, async (store, a) => {
  const input = a.get("input");
  if (input === "-" && process.stdin.isTTY) throw new UsageError("requested load from stdin, but stdin is a terminal; use -i FILE or pipe an archive");
  const p = a.get("quiet") ? { progress: undefined, done: () => {} } : makeProgress("Loading");
  try {
    const r = await archiveImporter(input).run(store, { progress: p.progress });
    p.done();
    for (const l of loadedLines(r.loaded)) print(l);
  } finally {
    p.done();
  }
  return 0;
});

const SAVE = verb("[OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar archive (streamed to STDOUT by default)", [
  str("output", "o", "Write to a file, instead of STDOUT"), str("format", undefined, "Archive format: docker or oci", { default: "docker" }),
], { minArgs: 1 }, async (store, a) => {
  const positionals = a.args;
  const output = a.get("output");
  const format = a.get("format") as SaveFormat;
  if (format !== "docker" && format !== "oci") throw new UsageError(`--format ${format}: use docker or oci`);
  const images = positionals.map((r) => store.require(r));
  const unique = [...new Map(images.map((i) => [i.id, i])).values()];
  const p = output && output !== "-" ? makeProgress("Saving") : { progress: undefined, done: () => {} };
  async function* counted(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    let bytes = 0;
    for await (const c of chunks) {
      bytes += c.length;
      p.progress?.({ bytes, layers: unique.reduce((a, i) => a + i.layers.length, 0) });
      yield c;
    }
  }
  try {
    await writeArchive(counted(saveImages(store, unique, format, positionals)), output);
  } finally {
    p.done();
  }
  return 0;
});

const IMPORT = verb("[OPTIONS] FILE|DIR|- [REPOSITORY[:TAG]]", "Import the contents of a tarball or directory to create a filesystem image", [
  list("change", "c", "Apply Dockerfile instruction to the created image"), str("message", "m", "Set commit message for imported image"), bool("quiet", "q", "Print only the image ID"),
], { minArgs: 1, maxArgs: 2 }, async (store, a) => {
  const [source, ref] = a.args as [string, string?];
  if (source === "-" && process.stdin.isTTY) throw new UsageError("import from stdin, but stdin is a terminal; pipe a tar or give FILE|DIR");
  const message = a.get("message");
  const p = a.get("quiet") ? { progress: undefined, done: () => {} } : makeProgress("Importing");
  try {
    const r = await rootfsImporter(source).run(store, { names: ref ? [ref] : [], changes: a.get("change"), ...(message ? { message } : {}), progress: p.progress });
    p.done();
    print(r.images[0]!.id);
  } finally {
    p.done();
  }
  return 0;
});

interface ImageRow {
  Repository: string; Tag: string; Digest: string; ID: string; CreatedSince: string; CreatedAt: string; Size: string;
  [k: string]: unknown;
}

function imageRows(store: ImageStore, entries: ImageListEntry[], noTrunc: boolean): ImageRow[] {
  const sizes = new Map<string, number>();
  return entries.map(({ image: img, repository, tag }) => ({
    Repository: repository, Tag: tag, Digest: img.digest, ID: shortId(img.id, noTrunc), CreatedSince: ago(img.created), CreatedAt: img.created ?? "",
    Size: humanSize(sizes.get(img.id) ?? sizes.set(img.id, unpackedSize(store, img)).get(img.id)!),
  }));
}

const IMAGES = verb("[OPTIONS] [REPOSITORY[:TAG]]", "List images", [
  bool("all", "a", "Show all images (default hides intermediate images)"), bool("digests", undefined, "Show digests"), list("filter", "f", "Filter output based on conditions provided (dangling=true|false, reference=PATTERN)"),
  str("format", undefined, "Format output using a custom template"), bool("no-trunc", undefined, "Don't truncate output"), bool("quiet", "q", "Only show image IDs"),
], { maxArgs: 1 }, (store, a) => {
  let opts: ImageListOptions = { ...(a.args[0] ? { repository: a.args[0] } : {}), all: a.get("all") };
  for (const f of a.get("filter")) opts = addImageFilter(opts, f);
  const rows = imageRows(store, listImages(store, opts), a.get("no-trunc"));
  if (a.get("quiet")) {
    for (const id of new Set(rows.map((r) => r.ID))) print(id);
    return 0;
  }
  const format = a.get("format");
  if (format) {
    for (const r of rows) print(goTemplate(format, r));
    return 0;
  }
  const digests = a.get("digests");
  const head = ["REPOSITORY", "TAG", ...(digests ? ["DIGEST"] : []), "IMAGE ID", "CREATED", "SIZE"];
  print(table([head, ...rows.map((r) => [r.Repository, r.Tag, ...(digests ? [r.Digest] : []), r.ID, r.CreatedSince, r.Size])]));
  return 0;
});

const RMI = verb("[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", [
  bool("force", "f", "Force removal of the image"), bool("no-prune", undefined, "Do not delete untagged parents"),
], { minArgs: 1 }, async (store, a) => {
  let status = 0;
  for (const ref of a.args) {
    try {
      const r = await store.remove(ref, { force: a.get("force"), prune: !a.get("no-prune") });
      for (const u of r.untagged) print(`Untagged: ${u}`);
      for (const d of r.deleted) print(`Deleted: ${d}`);
    } catch (e) {
      process.stderr.write(`Error response from berth: ${(e as Error).message}\n`);
      status = 1;
    }
  }
  return status;
});

const TAG = verb("SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", [], { minArgs: 2, maxArgs: 2 }, (store, a) => {
  store.tag(a.args[0]!, a.args[1]!);
  return 0;
});

const INSPECT = verb("[OPTIONS] IMAGE [IMAGE...]", "Display detailed information on one or more images", [
  str("format", "f", "Format output using a custom template"),
], { minArgs: 1 }, (store, a) => {
  const out: Record<string, unknown>[] = [];
  let status = 0;
  for (const ref of a.args) {
    const img = store.resolve(ref);
    if (!img) {
      process.stderr.write(`Error: No such image: ${ref}\n`);
      status = 1;
      continue;
    }
    out.push(inspectImage(store, img));
  }
  const format = a.get("format");
  if (format) for (const o of out) print(goTemplate(format, o));
  else print(JSON.stringify(out, null, 4));
  return status;
});

const HISTORY = verb("[OPTIONS] IMAGE", "Show the history of an image", [
  str("format", undefined, "Format output using a custom template"), bool("human", "H", "Print sizes and dates in human readable format", { default: true }),
  bool("no-trunc", undefined, "Don't truncate output"), bool("quiet", "q", "Only show image IDs"),
], { minArgs: 1, maxArgs: 1 }, (store, a) => {
  const img = store.require(a.args[0]!);
  const noTrunc = a.get("no-trunc");
  const rows = imageHistory(store, img).map((h) => ({
    ID: h.id === "<missing>" ? h.id : shortId(h.id, noTrunc),
    CreatedSince: ago(h.created),
    CreatedAt: h.created ?? "",
    CreatedBy: noTrunc || h.createdBy.length <= 45 ? h.createdBy : h.createdBy.slice(0, 44) + "…",
    Size: humanSize(h.size),
    Comment: h.comment,
  }));
  if (a.get("quiet")) {
    for (const r of rows) print(r.ID);
    return 0;
  }
  const format = a.get("format");
  if (format) {
    for (const r of rows) print(goTemplate(format, r));
    return 0;
  }
  print(table([["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], ...rows.map((r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment])]));
  return 0;
});

const PRUNE = verb("[OPTIONS]", "Remove dangling images (with -a: every image no container uses), and free their data", [
  bool("all", "a", "Remove all unused images, not just dangling ones"), bool("force", "f", "Do not prompt for confirmation"),
], { maxArgs: 0 }, async (store, a) => {
  const all = a.get("all");
  if (!a.get("force") && process.stdin.isTTY) {
    process.stderr.write(`WARNING! This will remove all ${all ? "images without at least one container associated to them" : "dangling images"}.\nAre you sure you want to continue? [y/N] `);
    const answer = (await new Promise<string>((res) => process.stdin.once("data", (d) => res(String(d))))).trim();
    process.stdin.pause();
    if (!/^y(es)?$/i.test(answer)) return 0;
  }
  const r = await store.prune({ all });
  if (r.deleted.length) {
    print("Deleted Images:");
    for (const d of r.deleted) print(`deleted: ${d}`);
    print("");
  }
  print(`Total reclaimed space: ${humanSize(r.reclaimedBytes)}`);
  return 0;
});

const LAYERS = verb("IMAGE [OPTIONS]", "Per layer: digest, size, instruction, files added/modified/removed; wasted bytes and efficiency (like dive)", [
  bool("json", undefined, "Print the analysis as JSON"), bool("files", undefined, "List each layer's changed files"),
  int("top", undefined, "Show this many of the most wasteful paths", { default: 10 }),
], { minArgs: 1, maxArgs: 1 }, (store, opts) => {
  const img = store.require(opts.args[0]!);
  const json = opts.get("json"), files = opts.get("files");
  const a = analyzeImage(store, img, { changes: json || files });
  if (json) {
    print(JSON.stringify(a, null, 2));
    return 0;
  }
  print(`Image: ${a.names[0] ?? a.id}  (${a.id})`);
  print(table([
    ["#", "DIGEST", "SIZE", "ADDED", "MODIFIED", "REMOVED", "CREATED BY"],
    ...a.layers.map((l) => [
      String(l.index), l.digest.slice(7, 19), humanSize(l.size),
      `${l.added} (${humanSize(l.addedBytes)})`, `${l.modified} (${humanSize(l.modifiedBytes)})`, `${l.removed} (${humanSize(l.removedBytes)})`,
      l.createdBy.length > 60 ? l.createdBy.slice(0, 59) + "…" : l.createdBy,
    ]),
  ]));
  if (files) {
    for (const l of a.layers) {
      print(`\nLayer ${l.index} (${l.digest.slice(7, 19)}):`);
      for (const c of l.changes ?? []) print(`  ${c.kind} ${c.path}${c.size ? ` (${humanSize(c.size)})` : ""}`);
    }
  }
  print("");
  print(`Efficiency score: ${(a.efficiency * 100).toFixed(1)} %`);
  print(`Wasted bytes:     ${humanSize(a.wastedBytes)} (${a.wastedBytes} bytes stored in layers but hidden by later ones)`);
  const top = opts.get("top");
  if (a.inefficiencies.length) {
    print("");
    print(table([["COUNT", "WASTED", "TOTAL", "PATH"], ...a.inefficiencies.slice(0, top).map((i) => [String(i.count), humanSize(i.wastedBytes), humanSize(i.cumulativeBytes), i.path])]));
  }
  return 0;
});

function modeString(type: string, mode: number): string {
  const t = { dir: "d", symlink: "l", char: "c", block: "b", fifo: "p", socket: "s", file: "-" }[type] ?? "?";
  const bits = "rwxrwxrwx".split("").map((c, i) => (mode & (1 << (8 - i)) ? c : "-"));
  if (mode & 0o4000) bits[2] = bits[2] === "x" ? "s" : "S";
  if (mode & 0o2000) bits[5] = bits[5] === "x" ? "s" : "S";
  if (mode & 0o1000) bits[8] = bits[8] === "x" ? "t" : "T";
  return t + bits.join("");
}

const TREE = verb("IMAGE [OPTIONS]", "The merged tree, each entry marked by the layer that last changed it", [
  int("layer", undefined, "Show the tree as of layer N", "N"), bool("json", undefined, "Print the tree as JSON"),
], { minArgs: 1, maxArgs: 1 }, (store, a) => {
  const img = store.require(a.args[0]!);
  const tree = imageTree(store, img, a.get("layer"));
  if (a.get("json")) {
    print(JSON.stringify(tree, null, 2));
    return 0;
  }
  const lines = tree.map((e) => `L${e.layer}  ${modeString(e.type, e.mode)} ${`${e.uid}:${e.gid}`.padEnd(11)} ${humanSize(e.size).padStart(8)}  ${e.path}${e.target ? ` -> ${e.target}` : ""}`);
  print(lines.join("\n"));
  return 0;
});

const DIFF = verb("IMAGE_A IMAGE_B [OPTIONS]", "What changes from image A to image B", [bool("json", undefined, "Print the differences as JSON")], { minArgs: 2, maxArgs: 2 }, (store, a) => {
  const d = diffImages(store, store.require(a.args[0]!), store.require(a.args[1]!));
  if (a.get("json")) {
    print(JSON.stringify(d, null, 2));
    return 0;
  }
  const lines = [
    ...d.added.map((e) => ({ p: e.path, s: `A ${e.path}` })),
    ...d.removed.map((e) => ({ p: e.path, s: `D ${e.path}` })),
    ...d.changed.map((c) => ({ p: c.path, s: `C ${c.path} (${c.what.join(", ")})` })),
  ].sort((x, y) => (x.p < y.p ? -1 : 1));
  for (const l of lines) print(l.s);
  print(`${d.added.length} added (${humanSize(d.addedBytes)}), ${d.removed.length} removed (${humanSize(d.removedBytes)}), ${d.changed.length} changed`);
  return 0;
});

/** A verb by its name: top-level (images, rmi) or under `image` (ls, rm, inspect, …). */
const VERBS: Record<string, ImageVerb> = {
  load: LOAD, save: SAVE, import: IMPORT,
  images: IMAGES, ls: IMAGES, list: IMAGES,
  rmi: RMI, rm: RMI, remove: RMI,
  tag: TAG, inspect: INSPECT, history: HISTORY, prune: PRUNE,
  layers: LAYERS, tree: TREE, diff: DIFF,
};

/**
 * Entry point for the image verbs. `verb` is the top-level word (load, save, import, images,
 * rmi, tag, history) or "image" with the sub-command first in argv (`berth image inspect …`).
 */
export async function imageCommand(verb: string, argv: string[], ctx: ImageCommandContext = {}, group = ""): Promise<number> {
  if (verb === "image") {
    const [sub, ...rest] = argv;
    if (!sub || sub === "--help" || sub === "-h" || sub === "help") {
      print(USAGE.image!);
      return sub ? 0 : 2;
    }
    if (sub === "pull" || sub === "push") return (await import("./registry.ts")).registryCommand(sub, rest, ctx);
    return imageCommand(sub, rest, ctx, "image ");
  }
  const v = VERBS[verb];
  if (!v) {
    process.stderr.write(`berth: unknown image command "${verb}"\n${USAGE.image}\n`);
    return 2;
  }
  // The verb as it was typed (`images` or `image ls`), for its usage line and hints.
  const name = group + verb;
  const spec: CommandSpec = { ...v.spec, name, usage: `${name} ${v.spec.usage}` };
  try {
    // rmi and prune must see the engine's containers, which hold their images.
    return await runParsed(spec, argv, stdio, (p) => v.run(openEngineImages(storeRoot(ctx)), p));
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`berth ${name}: ${err.message}\n`);
    return err instanceof UsageError || err instanceof ImageFilterError ? 2 : 1;
  }
}

if (import.meta.main) {
  // Until bin/berth wires these verbs: bun src/cli/berth/image.ts VERB ARGS…
  const [verb, ...rest] = process.argv.slice(2);
  // No top-level await (bundles may be CommonJS); the interval keeps Bun alive while the command
  // waits on the blob worker, which is unref'd.
  setInterval(() => {}, 1 << 30);
  void imageCommand(verb ?? "image", rest).then((code) => process.exit(code));
}
