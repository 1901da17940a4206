// What this host's cgroups can do, asked without opening a group (and without loading the
// manager): the engine asks here instead of naming control files itself.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_ROOT } from "./layout.ts";

/** Whether the kernel accounts swap, so that a memory+swap limit can be set: v1's memory.memsw.*
 *  files, or v2's memory.swap.max (at the root, or under the hybrid layout's unified/). Without
 *  it docker drops swap limits. */
export function swapAccounting(root: string = DEFAULT_ROOT): boolean {
  return existsSync(join(root, "memory/memory.memsw.limit_in_bytes")) || existsSync(join(root, "memory.swap.max"))
    || existsSync(join(root, "unified/memory.swap.max"));
}

/** Whether a proportional block-I/O weight can be set: v1's blkio.weight (CFQ) or
 *  blkio.bfq.weight (BFQ), or v2's io.weight / io.bfq.weight. Without an I/O scheduler that
 *  weighs groups, the kernel has no such file and docker's --blkio-weight has no effect. */
export function blkioWeightSupported(root: string = DEFAULT_ROOT): boolean {
  return ["blkio/blkio.weight", "blkio/blkio.bfq.weight", "io.weight", "io.bfq.weight", "unified/io.weight", "unified/io.bfq.weight"]
    .some((f) => existsSync(join(root, f)));
}

/** The CPUs and memory nodes a cpuset may use (the root cpuset's, v1 or v2), as sets of numbers;
 *  undefined where no cpuset controller is mounted. */
export function cpusetAvailable(root: string = DEFAULT_ROOT): { cpus: Set<number>; mems: Set<number> } | undefined {
  const read = (names: string[]) => {
    for (const n of names) {
      try {
        return parseCpuList(readFileSync(join(root, n), "utf8"));
      } catch { /* next */ }
    }
    return undefined;
  };
  const cpus = read(["cpuset/cpuset.effective_cpus", "cpuset/cpuset.cpus", "cpuset.cpus.effective", "unified/cpuset.cpus.effective"]);
  const mems = read(["cpuset/cpuset.effective_mems", "cpuset/cpuset.mems", "cpuset.mems.effective", "unified/cpuset.mems.effective"]);
  return cpus && mems ? { cpus, mems } : undefined;
}

/** "0-2,4" → {0,1,2,4}; throws on anything else. */
export function parseCpuList(text: string): Set<number> {
  const out = new Set<number>();
  const t = text.trim();
  if (t === "") return out;
  for (const part of t.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`invalid list ${JSON.stringify(text)}: use numbers and ranges like 0-2,4`);
    const from = Number(m[1]), to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to - from > 65536) throw new Error(`invalid range ${part} in ${JSON.stringify(text)}`);
    for (let i = from; i <= to; i++) out.add(i);
  }
  return out;
}
