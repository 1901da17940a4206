// `berth commit`: a container's upper dir becomes a new layer on top of its image.
import { packUpperLayer } from "../storage/overlay.ts";
import { applyChanges } from "./changes.ts";
import { commitSingleLayerImage, ingestLayer } from "./importers.ts";
import type { ImageDocument } from "./oci.ts";
import { normalizeTaggedName } from "./reference.ts";
import type { ImageRecord, ImageStore } from "./store.ts";

export interface CommitOptions {
  upper: string;           // the container's overlay upper dir (pause the container first for a consistent copy)
  image: ImageRecord;      // the image the container runs
  ref?: string;            // name for the new image
  changes?: string[];      // Dockerfile-style config changes
  message?: string;
  author?: string;
  /** container config to bake in (e.g. the Cmd it was run with); changes apply on top */
  config?: ImageDocument["config"];
  createdBy?: string;
  /** The upper dir's owner ids as the layer should say them (a user-namespaced container's). */
  mapIds?: (uid: number, gid: number) => [number, number];
  /** Relative paths in upper that are not the container's changes (storage/overlay.ts mountStubs). */
  exclude?: ReadonlySet<string>;
}

export async function commitContainer(store: ImageStore, opts: CommitOptions): Promise<ImageRecord> {
  return store.writeLock(async () => {
    const base = opts.image;
    const layer = await ingestLayer(store, packUpperLayer(opts.upper, { ...(opts.mapIds ? { mapIds: opts.mapIds } : {}), ...(opts.exclude ? { exclude: opts.exclude } : {}) }), undefined, base.manifest.mediaType !== "application/vnd.docker.distribution.manifest.v2+json");
    const now = new Date().toISOString();
    const prev = base.document;
    const document: ImageDocument = {
      ...prev,
      created: now,
      ...(opts.author ? { author: opts.author } : {}),
      config: applyChanges(opts.config ?? prev.config ?? {}, opts.changes ?? []),
      rootfs: { type: "layers", diff_ids: [...prev.rootfs.diff_ids, layer.diffId] },
      history: [
        ...(prev.history ?? []),
        { created: now, created_by: opts.createdBy ?? "berth commit", ...(opts.message ? { comment: opts.message } : {}), ...(opts.author ? { author: opts.author } : {}) },
      ],
    };
    return commitSingleLayerImage(store, document, [layer], opts.ref ? [normalizeTaggedName(opts.ref)] : [], base);
  });
}
