// What this host's cgroups can do, asked without opening a group (and without loading the
// manager): the engine asks here instead of naming control files itself.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_ROOT } from "./layout.ts";

/** Whether the kernel accounts swap, so that a memory+swap limit can be set: v1's memory.memsw.*
 *  files, or v2's memory.swap.max (at the root, or under the hybrid layout's unified/). Without
 *  it docker drops swap limits. */
export function swapAccounting(root: string = DEFAULT_ROOT): boolean {
  return existsSync(join(root, "memory/memory.memsw.limit_in_bytes")) || existsSync(join(root, "memory.swap.max"))
    || existsSync(join(root, "unified/memory.swap.max"));
}
