// `berth save`: images as a tar stream, byte-identical blobs so a load gives the same digests.
//  - "oci":    an OCI image layout (oci-layout, index.json, blobs/sha256/…)
//  - "docker": the same layout plus docker's manifest.json (what docker 25+ writes), which both
//              old and new `docker load` and every OCI tool read.
import type { Digest } from "../storage/digest.ts";
import { hexOf } from "../storage/digest.ts";
import { type TarEntry, tarHeader, TAR_END, tarPadding } from "../storage/tar.ts";
import { MT } from "./oci.ts";
import { familiarName, splitTaggedName } from "./reference.ts";
import type { ImageRecord, ImageStore } from "./store.ts";

export type SaveFormat = "docker" | "oci";

const enc = new TextEncoder();

function entry(name: string, type: "file" | "dir", size: number): TarEntry {
  // fixed metadata: saving the same images twice gives the same archive
  return { name, type, size, mode: type === "dir" ? 0o755 : 0o644, uid: 0, gid: 0, mtime: 0, linkname: "", devmajor: 0, devminor: 0, xattrs: null };
}

function* smallFile(name: string, data: Uint8Array): Generator<Uint8Array> {
  yield tarHeader(entry(name, "file", data.length));
  yield data;
  yield tarPadding(data.length);
}

export async function* saveImages(store: ImageStore, images: ImageRecord[], format: SaveFormat, requested: string[] = []): AsyncGenerator<Uint8Array> {
  const blobs: Array<{ digest: Digest; size: number }> = [];
  const seen = new Set<string>();
  const add = (digest: Digest, size: number) => {
    if (!seen.has(digest)) {
      seen.add(digest);
      blobs.push({ digest, size });
    }
  };
  for (const img of images) {
    add(img.id, store.blobs.size(img.id));
    add(img.digest, store.blobs.size(img.digest));
    for (const l of img.layers) add(l.digest, l.size);
  }
  yield tarHeader(entry("blobs/", "dir", 0));
  yield tarHeader(entry("blobs/sha256/", "dir", 0));
  for (const b of blobs) {
    const size = store.blobs.size(b.digest);
    yield tarHeader(entry(`blobs/sha256/${hexOf(b.digest)}`, "file", size));
    yield* store.blobs.stream(b.digest); // verified while read: a corrupt blob aborts the save
    yield tarPadding(size);
  }
  // names: those asked for when the user named images, otherwise all of each image's names
  const namesOf = (img: ImageRecord) => {
    const asked = img.names.filter((n) => requested.some((r) => familiarName(n) === r || n === r || familiarName(n) === `${r}:latest`));
    return asked.length ? asked : img.names;
  };
  const index = {
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    manifests: images.flatMap((img) => {
      const desc = { mediaType: img.manifestMediaType, digest: img.digest, size: store.blobs.size(img.digest) };
      const names = namesOf(img);
      if (!names.length) return [desc];
      return names.map((n) => ({ ...desc, annotations: { "io.containerd.image.name": n, "org.opencontainers.image.ref.name": splitTaggedName(n).tag } }));
    }),
  };
  yield* smallFile("index.json", enc.encode(JSON.stringify(index)));
  if (format === "docker") {
    const manifest = images.map((img) => ({
      Config: `blobs/sha256/${hexOf(img.id)}`,
      RepoTags: namesOf(img).map(familiarName),
      Layers: img.layers.map((l) => `blobs/sha256/${hexOf(l.digest)}`),
    }));
    yield* smallFile("manifest.json", enc.encode(JSON.stringify(manifest)));
  }
  yield* smallFile("oci-layout", enc.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
  yield TAR_END;
}
