// Layer inspection (what dive shows, plus diff between images): per-layer changes, the merged
// tree with the layer that last touched each path, an efficiency score and wasted bytes.
//
// Efficiency, as dive computes it: every path a layer adds, changes or deletes is one
// "occurrence" sized by its bytes (a deletion is sized by what it removed). For each path take
// the smallest occurrence and the sum of all of them; score = Σ smallest / Σ sum (1 = nothing
// duplicated). Wasted bytes: bytes stored in some layer that the final image cannot see because
// a later layer overwrote or deleted them.
import * as fs from "node:fs";
import * as path from "node:path";
import { CryptoHasher } from "bun";
import { readXattrs } from "../storage/ffi.ts";
import { isOpaqueDir, isOverlayWhiteout } from "../storage/pack.ts";
import { imageHistory } from "./inspect.ts";
import { familiarName } from "./reference.ts";
import type { ImageRecord, ImageStore } from "./store.ts";

export type EntryType = "file" | "dir" | "symlink" | "char" | "block" | "fifo" | "socket";

export interface FileInfo {
  type: EntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  target?: string;
}

interface LayerEntry extends FileInfo {
  path: string;       // "/etc/passwd"
  whiteout: boolean;
  opaque: boolean;
  abs: string;
}

export interface TreeEntry extends FileInfo {
  path: string;
  layer: number;      // index (0 = bottom) of the layer that last changed it
}

export interface LayerReport {
  index: number;
  digest: string;
  diffId: string;
  chainId: string;
  blobSize: number;
  size: number;              // bytes of file content in the layer
  createdBy: string;
  added: number;
  modified: number;
  removed: number;
  addedBytes: number;
  modifiedBytes: number;
  removedBytes: number;
  changes?: Array<{ kind: "A" | "M" | "D"; path: string; size: number }>;
}

export interface Inefficiency {
  path: string;
  count: number;
  cumulativeBytes: number;
  wastedBytes: number;
}

export interface ImageAnalysis {
  id: string;
  names: string[];
  layers: LayerReport[];
  totalBytes: number;        // Σ of all occurrences
  finalBytes: number;        // bytes visible in the merged image
  wastedBytes: number;
  efficiency: number;        // 0..1
  inefficiencies: Inefficiency[];
}

function typeOf(st: fs.Stats): EntryType {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  return "socket";
}

/** The entries of one unpacked layer, parents before children. */
function readLayer(dir: string): LayerEntry[] {
  const out: LayerEntry[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = `${rel}/${name}`;
      const abs = path.join(dir, r);
      const st = fs.lstatSync(abs);
      const whiteout = isOverlayWhiteout(st);
      const type = typeOf(st);
      out.push({
        path: r, abs, whiteout, type,
        size: type === "file" ? st.size : 0,
        mode: st.mode & 0o7777, uid: st.uid, gid: st.gid,
        opaque: type === "dir" && isOpaqueDir(readXattrs(abs)),
        ...(type === "symlink" ? { target: fs.readlinkSync(abs) } : {}),
      });
      if (type === "dir") walk(r);
    }
  };
  walk("");
  return out;
}

interface Merged {
  tree: Map<string, TreeEntry & { abs: string }>;
  layers: LayerReport[];
  occurrences: Map<string, number[]>;
  wasted: Map<string, number>;
}

function removeSubtree(tree: Merged["tree"], p: string): { count: number; bytes: number; removed: Array<TreeEntry & { abs: string }> } {
  let count = 0, bytes = 0;
  const removed: Array<TreeEntry & { abs: string }> = [];
  const prefix = p + "/";
  for (const [k, v] of tree) {
    if (k === p || k.startsWith(prefix)) {
      tree.delete(k);
      removed.push(v);
      if (v.type !== "dir") count++;
      bytes += v.size;
    }
  }
  return { count, bytes, removed };
}

function merge(store: ImageStore, img: ImageRecord, upTo = img.layers.length - 1, detail = false): Merged {
  const tree: Merged["tree"] = new Map();
  const occurrences = new Map<string, number[]>();
  const wasted = new Map<string, number>();
  const history = imageHistory(store, img).reverse().filter((h) => !h.emptyLayer);
  const layers: LayerReport[] = [];
  const occur = (p: string, size: number) => {
    const o = occurrences.get(p);
    if (o) o.push(size);
    else occurrences.set(p, [size]);
  };
  const waste = (v: { path: string; size: number }) => {
    if (v.size > 0) wasted.set(v.path, (wasted.get(v.path) ?? 0) + v.size);
  };
  for (let i = 0; i <= upTo && i < img.layers.length; i++) {
    const l = img.layers[i]!;
    const entries = readLayer(store.snapshots.diffDir(l.chainId));
    const rep: LayerReport = {
      index: i, digest: l.digest, diffId: l.diffId, chainId: l.chainId, blobSize: l.size, size: 0,
      createdBy: history[i]?.createdBy ?? "",
      added: 0, modified: 0, removed: 0, addedBytes: 0, modifiedBytes: 0, removedBytes: 0,
      ...(detail ? { changes: [] } : {}),
    };
    for (const e of entries) {
      if (e.whiteout) {
        const r = removeSubtree(tree, e.path);
        for (const v of r.removed) waste(v);
        if (r.removed.length) {
          rep.removed += Math.max(r.count, 1);
          rep.removedBytes += r.bytes;
          occur(e.path, r.bytes);
          rep.changes?.push({ kind: "D", path: e.path, size: r.bytes });
        }
        continue;
      }
      rep.size += e.size;
      const prev = tree.get(e.path);
      if (e.opaque && prev) {
        // an opaque directory hides everything beneath it from lower layers
        for (const [k, v] of tree) {
          if (k.startsWith(e.path + "/")) {
            tree.delete(k);
            waste(v);
            if (v.type !== "dir") {
              rep.removed++;
              rep.removedBytes += v.size;
              occur(k, v.size);
              rep.changes?.push({ kind: "D", path: k, size: v.size });
            }
          }
        }
      }
      if (prev && prev.type === "dir" && e.type !== "dir") for (const v of removeSubtree(tree, e.path).removed) waste(v);
      else if (prev) waste(prev);
      if (e.type !== "dir") {
        occur(e.path, e.size);
        if (prev) {
          rep.modified++;
          rep.modifiedBytes += e.size;
        } else {
          rep.added++;
          rep.addedBytes += e.size;
        }
        rep.changes?.push({ kind: prev ? "M" : "A", path: e.path, size: e.size });
      } else if (!prev) {
        rep.changes?.push({ kind: "A", path: e.path, size: 0 });
      }
      const { abs, whiteout: _w, opaque: _o, ...info } = e;
      tree.set(e.path, { ...info, abs, layer: i });
    }
    layers.push(rep);
  }
  return { tree, layers, occurrences, wasted };
}

export function analyzeImage(store: ImageStore, img: ImageRecord, opts: { changes?: boolean } = {}): ImageAnalysis {
  const m = merge(store, img, img.layers.length - 1, opts.changes ?? false);
  let sumMin = 0, sumAll = 0;
  const ineff: Inefficiency[] = [];
  for (const [p, sizes] of m.occurrences) {
    const all = sizes.reduce((a, b) => a + b, 0);
    sumAll += all;
    sumMin += Math.min(...sizes);
    if (sizes.length > 1) ineff.push({ path: p, count: sizes.length, cumulativeBytes: all, wastedBytes: m.wasted.get(p) ?? 0 });
  }
  let wastedBytes = 0;
  for (const w of m.wasted.values()) wastedBytes += w;
  for (const [p, w] of m.wasted) if (!m.occurrences.has(p) || m.occurrences.get(p)!.length === 1) ineff.push({ path: p, count: 1, cumulativeBytes: w, wastedBytes: w });
  ineff.sort((a, b) => b.wastedBytes - a.wastedBytes || b.cumulativeBytes - a.cumulativeBytes || (a.path < b.path ? -1 : 1));
  let finalBytes = 0;
  for (const v of m.tree.values()) finalBytes += v.size;
  return {
    id: img.id,
    names: img.names.map(familiarName),
    layers: m.layers,
    totalBytes: sumAll,
    finalBytes,
    wastedBytes,
    efficiency: sumAll === 0 ? 1 : sumMin / sumAll,
    inefficiencies: ineff,
  };
}

/** The merged tree up to layer `upTo` (default: all), each entry with the layer that last changed it. */
export function imageTree(store: ImageStore, img: ImageRecord, upTo?: number): TreeEntry[] {
  if (upTo !== undefined && (upTo < 0 || upTo >= img.layers.length)) throw new Error(`--layer ${upTo}: the image has layers 0..${img.layers.length - 1}`);
  const m = merge(store, img, upTo ?? img.layers.length - 1);
  return [...m.tree.values()].map(({ abs: _a, ...e }) => e).sort((a, b) => (a.path < b.path ? -1 : 1));
}

export interface ImageDiff {
  a: string;
  b: string;
  added: TreeEntry[];
  removed: TreeEntry[];
  changed: Array<{ path: string; a: TreeEntry; b: TreeEntry; what: string[] }>;
  addedBytes: number;
  removedBytes: number;
}

function fileHash(p: string): string {
  const h = new CryptoHasher("sha256");
  h.update(fs.readFileSync(p));
  return h.digest("hex");
}

/** What changes from image A to image B, file by file. */
export function diffImages(store: ImageStore, a: ImageRecord, b: ImageRecord): ImageDiff {
  const ma = merge(store, a).tree, mb = merge(store, b).tree;
  const out: ImageDiff = { a: a.id, b: b.id, added: [], removed: [], changed: [], addedBytes: 0, removedBytes: 0 };
  const strip = ({ abs: _x, ...e }: TreeEntry & { abs: string }): TreeEntry => e;
  for (const [p, eb] of mb) {
    const ea = ma.get(p);
    if (!ea) {
      out.added.push(strip(eb));
      out.addedBytes += eb.size;
      continue;
    }
    // same snapshot below and at this position: identical without looking
    if (a.chainIds[ea.layer] === b.chainIds[eb.layer]) continue;
    const what: string[] = [];
    if (ea.type !== eb.type) what.push("type");
    else {
      if (ea.mode !== eb.mode) what.push("mode");
      if (ea.uid !== eb.uid || ea.gid !== eb.gid) what.push("owner");
      if (ea.target !== eb.target) what.push("target");
      if (ea.type === "file" && (ea.size !== eb.size || fileHash(ea.abs) !== fileHash(eb.abs))) what.push("content");
    }
    if (what.length) out.changed.push({ path: p, a: strip(ea), b: strip(eb), what });
  }
  for (const [p, ea] of ma) {
    if (!mb.has(p)) {
      out.removed.push(strip(ea));
      out.removedBytes += ea.size;
    }
  }
  const byPath = (x: { path: string }, y: { path: string }) => (x.path < y.path ? -1 : 1);
  out.added.sort(byPath);
  out.removed.sort(byPath);
  out.changed.sort(byPath);
  return out;
}
