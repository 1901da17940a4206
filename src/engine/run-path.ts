// Every module that creating and starting a container needs, as one static graph. main.ts imports
// it with `import()` beside the engine for the verbs that start containers: Bun then loads the
// whole graph at once, ~10 ms faster than lazy.ts's require() fetching them one at a time. After
// that, lazy.ts finds each of them already loaded.
export * as imageStore from "../image/store.ts";
export * as overlay from "../storage/overlay.ts";
export * as lock from "../storage/lock.ts";
export * as create from "../runtime/create.ts";
export * as start from "../runtime/start.ts";
export * as del from "../runtime/delete.ts";
export * as cgroups from "../cgroups/index.ts";
export * as libc from "../sys/libc.ts";
export * as networkFiles from "../network/files.ts";
export * as config from "./config.ts";
export * as spec from "./spec.ts";
export * as logs from "./logs.ts";
