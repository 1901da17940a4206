// Public face of the cgroup manager. See manager.ts for how v1, v2 and hybrid are handled.
export { type CgroupLayout, detectLayout, discoverHierarchies, type Hierarchies, DEFAULT_ROOT } from "./layout.ts";
export { type CgroupManager, type CgroupMkdir, type OpenCgroupOptions, openCgroup, describeHierarchies, KNOWN_CONTROLLERS } from "./manager.ts";
export { type CgroupStats, type BlkioEntry, runcStatsEvent, runcOomEvent, hugepageSizes } from "./stats.ts";
export { CgroupError } from "./files.ts";
export { validateResources, type FieldLabel } from "./resources.ts";
export { swapAccounting } from "./features.ts";
export { parseCgroupsPath, parseSystemdCgroupsPath, type SystemdCgroupPath } from "./path.ts";
export { sharesToWeight, weightToShares, blkioWeightToIoWeight, swapToV2, parseBytes } from "./convert.ts";
export { deviceProgram, encodeProgram } from "./device-program.ts";
export { queryDevicePrograms } from "./bpf.ts";
export { joinedArgv } from "./exec.ts";
