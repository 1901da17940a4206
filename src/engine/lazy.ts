// Modules the engine needs for some commands only, loaded on first use: `ps`, `logs` or `inspect`
// must not pay the start-up time of the image store, the runtime, cgroups or the spec builder.
// require() (Bun loads ES modules synchronously through it) keeps the engine's synchronous
// methods synchronous; the types are the modules' own.
type ImageStoreModule = typeof import("../image/store.ts");
type OverlayModule = typeof import("../storage/overlay.ts");
type LockModule = typeof import("../storage/lock.ts");
type CreateModule = typeof import("../runtime/create.ts");
type StartModule = typeof import("../runtime/start.ts");
type DeleteModule = typeof import("../runtime/delete.ts");
type CgroupsModule = typeof import("../cgroups/index.ts");
type LibcModule = typeof import("../sys/libc.ts");
type NetworkFilesModule = typeof import("../network/files.ts");
type ConfigModule = typeof import("./config.ts");
type SpecModule = typeof import("./spec.ts");
type SeccompCacheModule = typeof import("../runtime/seccomp-cache.ts");

export const imageStoreModule = (): ImageStoreModule => require("../image/store.ts");
export const overlayModule = (): OverlayModule => require("../storage/overlay.ts");
export const lockModule = (): LockModule => require("../storage/lock.ts");
export const createModule = (): CreateModule => require("../runtime/create.ts");
export const startModule = (): StartModule => require("../runtime/start.ts");
export const deleteModule = (): DeleteModule => require("../runtime/delete.ts");
export const cgroupsModule = (): CgroupsModule => require("../cgroups/index.ts");
export const libcModule = (): LibcModule => require("../sys/libc.ts");
export const networkFilesModule = (): NetworkFilesModule => require("../network/files.ts");
export const configModule = (): ConfigModule => require("./config.ts");
export const specModule = (): SpecModule => require("./spec.ts");
export const seccompCacheModule = (): SeccompCacheModule => require("../runtime/seccomp-cache.ts");
