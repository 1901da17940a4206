// The image store as the engine's front ends open it without a whole engine (`berth images`,
// `rmi`, `image prune`, an API's image routes): the engine's containers hold their images, so
// rmi and prune keep what a container still uses.
import { type ImageStore, openImageStore } from "../image/store.ts";
import { DEFAULT_ENGINE_ROOT } from "./paths.ts";
import { containerHolders } from "./store.ts";

export function openEngineImages(root: string = DEFAULT_ENGINE_ROOT): ImageStore {
  return openImageStore(root, { holders: containerHolders(root) });
}
