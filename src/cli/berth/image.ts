// `berth load|save|import|images|rmi|tag|history` and `berth image inspect|prune|layers|tree|diff|ls|rm`.
// Docker's names and flags where docker has them. Progress goes to a terminal only.
import { containerHolders } from "../../engine/store.ts";
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { archiveImporter, DEFAULT_ROOT, familiarName, type ImageRecord, type ImageStore, type ImportResult, openImageStore, rootfsImporter, saveImages, type SaveFormat } from "../../image/index.ts";
import { imageHistory, inspectImage, unpackedSize } from "../../image/inspect.ts";
import { analyzeImage, diffImages, imageTree } from "../../image/layers.ts";
import { splitTaggedName } from "../../image/reference.ts";
import type { Progress } from "../../image/archive.ts";
import { tempPath } from "../../storage/fsutil.ts";
import * as path from "node:path";

export interface ImageCommandContext {
  root?: string; // store root (default $BERTH_ROOT or /var/lib/berth)
}

const USAGE: Record<string, string> = {
  image: `Usage: berth image COMMAND

Commands:
  ls / images [-q] [--digests] [--no-trunc] [--format FMT] [-f dangling=…|reference=…] [REPO[:TAG]]
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

class UsageError extends Error {}

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

async function cmdLoad(store: ImageStore, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { input: { type: "string", short: "i" }, quiet: { type: "boolean", short: "q" } }, allowPositionals: false });
  const input = values.input ?? "-";
  if (input === "-" && process.stdin.isTTY) throw new UsageError("requested load from stdin, but stdin is a terminal; use -i FILE or pipe an archive");
  const p = values.quiet ? { progress: undefined, done: () => {} } : makeProgress("Loading");
  try {
    const r = await archiveImporter(input).run(store, { progress: p.progress });
    p.done();
    for (const l of loadedLines(r.loaded)) print(l);
  } finally {
    p.done();
  }
  return 0;
}

/**
 * Writes a tar stream to FILE (via a temp name, renamed when complete) or to stdout when output
 * is undefined or "-" (refused on a terminal). For `berth export`: writeArchive(exportContainer(rootfs), values.output).
 */
export async function writeArchive(chunks: AsyncIterable<Uint8Array>, output: string | undefined): Promise<void> {
  return writeOut(chunks, output);
}

async function writeOut(chunks: AsyncIterable<Uint8Array>, output: string | undefined): Promise<void> {
  if (output === undefined || output === "-") {
    if (process.stdout.isTTY) throw new UsageError("cowardly refusing to write an archive to a terminal; use -o FILE or redirect stdout");
    for await (const c of chunks) {
      let off = 0;
      while (off < c.length) {
        try {
          off += fs.writeSync(1, c, off);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
          await Bun.sleep(1);
        }
      }
    }
    return;
  }
  // a temp file renamed at the end: a failed save leaves no truncated archive behind
  const abs = path.resolve(output);
  const tmp = tempPath(path.dirname(abs), `.${path.basename(abs)}`);
  const fd = fs.openSync(tmp, "wx", 0o644);
  try {
    for await (const c of chunks) {
      let off = 0;
      while (off < c.length) off += fs.writeSync(fd, c, off);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, abs);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

async function cmdSave(store: ImageStore, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { output: { type: "string", short: "o" }, format: { type: "string" } }, allowPositionals: true });
  if (!positionals.length) throw new UsageError("save needs at least one IMAGE");
  const format = (values.format ?? "docker") as SaveFormat;
  if (format !== "docker" && format !== "oci") throw new UsageError(`--format ${format}: use docker or oci`);
  const images = positionals.map((r) => store.require(r));
  const unique = [...new Map(images.map((i) => [i.id, i])).values()];
  const p = values.output && values.output !== "-" ? makeProgress("Saving") : { progress: undefined, done: () => {} };
  async function* counted(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    let bytes = 0;
    for await (const c of chunks) {
      bytes += c.length;
      p.progress?.({ bytes, layers: unique.reduce((a, i) => a + i.layers.length, 0) });
      yield c;
    }
  }
  try {
    await writeOut(counted(saveImages(store, unique, format, positionals)), values.output);
  } finally {
    p.done();
  }
  return 0;
}

async function cmdImport(store: ImageStore, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { change: { type: "string", short: "c", multiple: true }, message: { type: "string", short: "m" }, quiet: { type: "boolean", short: "q" } },
    allowPositionals: true,
  });
  const [source, ref] = positionals;
  if (!source || positionals.length > 2) throw new UsageError("usage: berth import FILE|DIR|- [REPOSITORY[:TAG]] [-c CHANGE]… [-m MESSAGE]");
  if (source === "-" && process.stdin.isTTY) throw new UsageError("import from stdin, but stdin is a terminal; pipe a tar or give FILE|DIR");
  const p = values.quiet ? { progress: undefined, done: () => {} } : makeProgress("Importing");
  try {
    const r = await rootfsImporter(source).run(store, { names: ref ? [ref] : [], changes: values.change ?? [], ...(values.message ? { message: values.message } : {}), progress: p.progress });
    p.done();
    print(r.images[0]!.id);
  } finally {
    p.done();
  }
  return 0;
}

interface ImageRow {
  Repository: string; Tag: string; Digest: string; ID: string; CreatedSince: string; CreatedAt: string; Size: string;
  [k: string]: unknown;
}

function imageRows(store: ImageStore, images: ImageRecord[], noTrunc: boolean): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const img of images) {
    const base = { ID: shortId(img.id, noTrunc), CreatedSince: ago(img.created), CreatedAt: img.created ?? "", Size: humanSize(unpackedSize(store, img)) };
    if (!img.names.length) rows.push({ Repository: "<none>", Tag: "<none>", Digest: img.digest, ...base });
    for (const n of img.names) {
      const { repository, tag } = splitTaggedName(familiarName(n));
      rows.push({ Repository: repository, Tag: tag, Digest: img.digest, ...base });
    }
  }
  return rows;
}

function cmdImages(store: ImageStore, argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      quiet: { type: "boolean", short: "q" }, digests: { type: "boolean" }, "no-trunc": { type: "boolean" }, format: { type: "string" },
      all: { type: "boolean", short: "a" }, filter: { type: "string", short: "f", multiple: true },
    },
    allowPositionals: true,
  });
  let images = store.list();
  for (const f of values.filter ?? []) {
    const [key, value = ""] = f.split("=", 2) as [string, string?];
    if (key === "dangling") images = images.filter((i) => (i.names.length === 0) === (value === "true"));
    else if (key === "reference") {
      const re = new RegExp(`^${value.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, ".")}$`);
      images = images.filter((i) => i.names.some((n) => re.test(familiarName(n)) || re.test(splitTaggedName(familiarName(n)).repository)));
    } else throw new UsageError(`--filter ${f}: supported filters are dangling=true|false and reference=PATTERN`);
  }
  const filter = positionals[0];
  let rows = imageRows(store, images, values["no-trunc"] ?? false);
  if (filter) {
    const [repo, tag] = filter.includes(":") ? [filter.slice(0, filter.lastIndexOf(":")), filter.slice(filter.lastIndexOf(":") + 1)] : [filter, null];
    rows = rows.filter((r) => (r.Repository === repo || r.Repository === familiarName(`docker.io/${repo}`)) && (tag === null || r.Tag === tag));
    images = images.filter((i) => rows.some((r) => r.ID === shortId(i.id, values["no-trunc"] ?? false)));
  }
  if (values.quiet) {
    for (const id of new Set(rows.map((r) => r.ID))) print(id);
    return 0;
  }
  if (values.format) {
    for (const r of rows) print(goTemplate(values.format, r));
    return 0;
  }
  const head = ["REPOSITORY", "TAG", ...(values.digests ? ["DIGEST"] : []), "IMAGE ID", "CREATED", "SIZE"];
  print(table([head, ...rows.map((r) => [r.Repository, r.Tag, ...(values.digests ? [r.Digest] : []), r.ID, r.CreatedSince, r.Size])]));
  return 0;
}

async function cmdRmi(store: ImageStore, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { force: { type: "boolean", short: "f" }, "no-prune": { type: "boolean" } }, allowPositionals: true });
  if (!positionals.length) throw new UsageError("rmi needs at least one IMAGE");
  let status = 0;
  for (const ref of positionals) {
    try {
      const r = await store.remove(ref, { force: values.force ?? false, prune: !values["no-prune"] });
      for (const u of r.untagged) print(`Untagged: ${u}`);
      for (const d of r.deleted) print(`Deleted: ${d}`);
    } catch (e) {
      process.stderr.write(`Error response from berth: ${(e as Error).message}\n`);
      status = 1;
    }
  }
  return status;
}

function cmdTag(store: ImageStore, argv: string[]): number {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true });
  if (positionals.length !== 2) throw new UsageError("usage: berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]");
  store.tag(positionals[0]!, positionals[1]!);
  return 0;
}

function cmdInspect(store: ImageStore, argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, options: { format: { type: "string", short: "f" } }, allowPositionals: true });
  if (!positionals.length) throw new UsageError("inspect needs at least one IMAGE");
  const out: Record<string, unknown>[] = [];
  let status = 0;
  for (const ref of positionals) {
    const img = store.resolve(ref);
    if (!img) {
      process.stderr.write(`Error: No such image: ${ref}\n`);
      status = 1;
      continue;
    }
    out.push(inspectImage(store, img));
  }
  if (values.format) for (const o of out) print(goTemplate(values.format, o));
  else print(JSON.stringify(out, null, 4));
  return status;
}

function cmdHistory(store: ImageStore, argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { "no-trunc": { type: "boolean" }, quiet: { type: "boolean", short: "q" }, format: { type: "string" }, human: { type: "boolean", short: "H", default: true } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError("usage: berth history IMAGE");
  const img = store.require(positionals[0]!);
  const noTrunc = values["no-trunc"] ?? false;
  const rows = imageHistory(store, img).map((h) => ({
    ID: h.id === "<missing>" ? h.id : shortId(h.id, noTrunc),
    CreatedSince: ago(h.created),
    CreatedAt: h.created ?? "",
    CreatedBy: noTrunc || h.createdBy.length <= 45 ? h.createdBy : h.createdBy.slice(0, 44) + "…",
    Size: humanSize(h.size),
    Comment: h.comment,
  }));
  if (values.quiet) {
    for (const r of rows) print(r.ID);
    return 0;
  }
  if (values.format) {
    for (const r of rows) print(goTemplate(values.format, r));
    return 0;
  }
  print(table([["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], ...rows.map((r) => [r.ID, r.CreatedSince, r.CreatedBy, r.Size, r.Comment])]));
  return 0;
}

async function cmdPrune(store: ImageStore, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { all: { type: "boolean", short: "a" }, force: { type: "boolean", short: "f" } }, allowPositionals: false });
  if (!values.force && process.stdin.isTTY) {
    process.stderr.write(`WARNING! This will remove all ${values.all ? "images without at least one container associated to them" : "dangling images"}.\nAre you sure you want to continue? [y/N] `);
    const answer = (await new Promise<string>((res) => process.stdin.once("data", (d) => res(String(d))))).trim();
    process.stdin.pause();
    if (!/^y(es)?$/i.test(answer)) return 0;
  }
  const r = await store.prune({ all: values.all ?? false });
  if (r.deleted.length) {
    print("Deleted Images:");
    for (const d of r.deleted) print(`deleted: ${d}`);
    print("");
  }
  print(`Total reclaimed space: ${humanSize(r.reclaimedBytes)}`);
  return 0;
}

function cmdLayers(store: ImageStore, argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: "boolean" }, files: { type: "boolean" }, top: { type: "string" } }, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError("usage: berth image layers IMAGE [--json] [--files]");
  const img = store.require(positionals[0]!);
  const a = analyzeImage(store, img, { changes: values.json || values.files });
  if (values.json) {
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
  if (values.files) {
    for (const l of a.layers) {
      print(`\nLayer ${l.index} (${l.digest.slice(7, 19)}):`);
      for (const c of l.changes ?? []) print(`  ${c.kind} ${c.path}${c.size ? ` (${humanSize(c.size)})` : ""}`);
    }
  }
  print("");
  print(`Efficiency score: ${(a.efficiency * 100).toFixed(1)} %`);
  print(`Wasted bytes:     ${humanSize(a.wastedBytes)} (${a.wastedBytes} bytes stored in layers but hidden by later ones)`);
  const top = Number(values.top ?? 10);
  if (a.inefficiencies.length) {
    print("");
    print(table([["COUNT", "WASTED", "TOTAL", "PATH"], ...a.inefficiencies.slice(0, top).map((i) => [String(i.count), humanSize(i.wastedBytes), humanSize(i.cumulativeBytes), i.path])]));
  }
  return 0;
}

function modeString(type: string, mode: number): string {
  const t = { dir: "d", symlink: "l", char: "c", block: "b", fifo: "p", socket: "s", file: "-" }[type] ?? "?";
  const bits = "rwxrwxrwx".split("").map((c, i) => (mode & (1 << (8 - i)) ? c : "-"));
  if (mode & 0o4000) bits[2] = bits[2] === "x" ? "s" : "S";
  if (mode & 0o2000) bits[5] = bits[5] === "x" ? "s" : "S";
  if (mode & 0o1000) bits[8] = bits[8] === "x" ? "t" : "T";
  return t + bits.join("");
}

function cmdTree(store: ImageStore, argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: "boolean" }, layer: { type: "string" } }, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError("usage: berth image tree IMAGE [--layer N] [--json]");
  const img = store.require(positionals[0]!);
  const upTo = values.layer === undefined ? undefined : Number(values.layer);
  if (upTo !== undefined && !Number.isInteger(upTo)) throw new UsageError(`--layer ${values.layer}: give a layer number`);
  const tree = imageTree(store, img, upTo);
  if (values.json) {
    print(JSON.stringify(tree, null, 2));
    return 0;
  }
  const lines = tree.map((e) => `L${e.layer}  ${modeString(e.type, e.mode)} ${`${e.uid}:${e.gid}`.padEnd(11)} ${humanSize(e.size).padStart(8)}  ${e.path}${e.target ? ` -> ${e.target}` : ""}`);
  print(lines.join("\n"));
  return 0;
}

function cmdDiff(store: ImageStore, argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: "boolean" } }, allowPositionals: true });
  if (positionals.length !== 2) throw new UsageError("usage: berth image diff IMAGE_A IMAGE_B [--json]");
  const d = diffImages(store, store.require(positionals[0]!), store.require(positionals[1]!));
  if (values.json) {
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
}

const VERBS: Record<string, (store: ImageStore, argv: string[]) => number | Promise<number>> = {
  load: cmdLoad, save: cmdSave, import: cmdImport,
  images: cmdImages, ls: cmdImages, list: cmdImages,
  rmi: cmdRmi, rm: cmdRmi, remove: cmdRmi,
  tag: cmdTag, inspect: cmdInspect, history: cmdHistory, prune: cmdPrune,
  layers: cmdLayers, tree: cmdTree, diff: cmdDiff,
};

/**
 * Entry point for the image verbs. `verb` is the top-level word (load, save, import, images,
 * rmi, tag, history) or "image" with the sub-command first in argv (`berth image inspect …`).
 */
export async function imageCommand(verb: string, argv: string[], ctx: ImageCommandContext = {}): Promise<number> {
  if (verb === "image") {
    const [sub, ...rest] = argv;
    if (!sub || sub === "--help" || sub === "-h" || sub === "help") {
      print(USAGE.image!);
      return sub ? 0 : 2;
    }
    return imageCommand(sub, rest, ctx);
  }
  const fn = VERBS[verb];
  if (!fn) {
    process.stderr.write(`berth: unknown image command "${verb}"\n${USAGE.image}\n`);
    return 2;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    print(USAGE.image!);
    return 0;
  }
  try {
    // rmi and prune must see the engine's containers, which hold their images.
    const store = openImageStore(storeRoot(ctx), { holders: containerHolders(storeRoot(ctx)) });
    return await fn(store, argv);
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`berth ${verb}: ${err.message}\n`);
    return err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? 2 : 1;
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
