// Which image was built on which: a build (or a commit) makes an image whose layers and history
// extend its parent's. Docker hides such parents when untagged (`images` without -a), shows their
// IDs in `history`, and removes them with the last child that needs them (`rmi`).
import type { ImageDocument } from "./oci.ts";

/** Whether child was built on parent: parent's layers and history are a strict prefix of child's. */
export function builtOn(child: ImageDocument, parent: ImageDocument): boolean {
  const ch = child.history ?? [], ph = parent.history ?? [];
  const cd = child.rootfs.diff_ids, pd = parent.rootfs.diff_ids;
  if (ph.length === 0 || ch.length <= ph.length || cd.length < pd.length) return false;
  return pd.every((d, i) => cd[i] === d) && ph.every((h, i) => ch[i]!.created === h.created && ch[i]!.created_by === h.created_by);
}
