// docker-compatible views of an image: `image inspect` JSON and `history` rows.
import type { Digest } from "../storage/digest.ts";
import { familiarName } from "./reference.ts";
import type { ImageRecord, ImageStore } from "./store.ts";
import { builtOn } from "./lineage.ts";

export interface HistoryRow {
  id: string;          // config digest for the top row, "<missing>" below (as docker shows for loaded images)
  created: string | null;
  createdBy: string;
  size: number;        // unpacked bytes of the layer this step made (0 for config-only steps)
  comment: string;
  emptyLayer: boolean;
  layer: Digest | null; // diff ID of the layer this step made
}

/** Unpacked size of an image: the sum of its snapshots' file bytes. */
export function unpackedSize(store: ImageStore, img: ImageRecord): number {
  return img.chainIds.reduce((a, c) => a + (store.snapshots.info(c)?.size ?? 0), 0);
}

export function inspectImage(store: ImageStore, img: ImageRecord): Record<string, unknown> {
  const d = img.document;
  const lowers = store.snapshotDirs(img);
  return {
    Id: img.id,
    RepoTags: img.names.map(familiarName),
    RepoDigests: img.repoDigests.map(familiarName),
    Parent: "",
    Comment: d.history?.[d.history.length - 1]?.comment ?? "",
    Created: d.created ?? "",
    DockerVersion: "",
    Author: d.author ?? "",
    Config: {
      Hostname: "", Domainname: "", User: "", AttachStdin: false, AttachStdout: false, AttachStderr: false,
      Tty: false, OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: "", Volumes: null,
      WorkingDir: "", Entrypoint: null, OnBuild: null, Labels: null,
      ...img.config,
    },
    Architecture: d.architecture,
    ...(d.variant ? { Variant: d.variant } : {}),
    Os: d.os,
    Size: unpackedSize(store, img),
    GraphDriver: {
      Name: "overlay",
      Data: { LowerDir: lowers.join(":"), MergedDir: "", UpperDir: "", WorkDir: "" },
    },
    RootFS: { Type: "layers", Layers: d.rootfs.diff_ids },
    Metadata: { LastTagTime: new Date(img.loadedAt).toISOString() },
    Descriptor: { mediaType: img.manifestMediaType, digest: img.digest, size: store.blobs.size(img.digest) },
  };
}

/** Newest first, like `docker history`. Steps with empty_layer made no layer; a step whose image
 *  is in the store (one this image was built on) shows its ID, the others `<missing>`. */
export function imageHistory(store: ImageStore, img: ImageRecord): HistoryRow[] {
  const hist = img.document.history ?? [];
  const rows: HistoryRow[] = [];
  let layer = 0;
  const entries = hist.length ? hist : img.layers.map(() => ({ created_by: "", empty_layer: false }));
  for (const h of entries) {
    const empty = h.empty_layer === true;
    const i = empty ? -1 : layer++;
    const chain = i >= 0 ? img.chainIds[i] : undefined;
    rows.push({
      id: "<missing>",
      created: "created" in h ? (h.created ?? null) : null,
      createdBy: h.created_by ?? "",
      size: chain ? (store.snapshots.info(chain)?.size ?? 0) : 0,
      comment: "comment" in h ? (h.comment ?? "") : "",
      emptyLayer: empty,
      layer: i >= 0 ? (img.document.rootfs.diff_ids[i] ?? null) : null,
    });
  }
  // Steps whose image is still here (a build's intermediate images) show its ID, as docker does.
  for (const other of store.list()) {
    const n = other.document.history?.length ?? 0;
    if (other.id !== img.id && n > 0 && n < rows.length && builtOn(img.document, other.document)) rows[n - 1]!.id = other.id;
  }
  rows.reverse();
  if (rows[0]) rows[0].id = img.id;
  return rows;
}
