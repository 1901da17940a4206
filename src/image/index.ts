// The image store's public surface for the engine and the CLI.
export { openImageStore, closeImageStore, ImageStore, DEFAULT_ROOT, type ImageRecord, type LayerRecord, type RemoveResult, type StoreOptions, type HolderSource } from "./store.ts";
export { archiveImporter, rootfsImporter, type ImageImporter, type ImportOptions, type ImportResult, type ImportFormat, ImageFormatError } from "./importers.ts";
export { saveImages, type SaveFormat } from "./save.ts";
export { commitContainer, type CommitOptions } from "./commit.ts";
export { applyChanges } from "./changes.ts";
export { parseReference, familiarName, normalizeTaggedName, type Reference } from "./reference.ts";
export type { ImageConfig, ImageDocument, Manifest, Index, Descriptor } from "./oci.ts";
export { mountContainerRootfs, unmountContainerRootfs, diffContainer, exportContainer, mountStubs, type Change, type ContainerRootfs } from "../storage/overlay.ts";
