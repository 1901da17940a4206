// Where the build step's outputs live (build/: berth-init, berth-monitor, the compiled CLIs).
// A compiled CLI (`bun build --compile`: build/berth, build/berth-runtime) finds them beside its
// own executable; from source (src/sys) they are two levels up.
import { dirname, join } from "node:path";

/** Running as a `bun build --compile` executable: modules live in Bun's embedded /$bunfs. */
export const COMPILED = Bun.main.startsWith("/$bunfs/");

export const BUILD_DIR = COMPILED ? dirname(process.execPath) : join(import.meta.dir, "../../build");
