// The engine as a library: everything a front end (the CLI, a Docker Engine API service, compose,
// build) needs to drive containers, with typed requests and results; no front end imports from
// another front end (src/cli) to do engine work. See README.md, "The library surface".
//
// Open a root with openEngine(); the container lifecycle is the Engine's methods (create, start,
// runAttached, stop, kill, remove, pause, unpause, rename, waitExit, …: handle.ts documents
// each), whose code loads on first call. The other operations are functions taking the engine.
// Importing this file loads all of them at once (exec, cp, stats and logs reach the runtime,
// cgroups and the storage code): right for a long-lived service; a short command imports the
// file of the one operation it runs, as cli/berth does.
export { openEngine, DEFAULT_ENGINE_ROOT } from "./engine.ts";
export type {
  ContainerView, CreateOptions, Engine, EngineOptions, PruneReport, RemoveOptions, RunAttachedOptions, StartAllResult, StartOptions,
} from "./handle.ts";
export type { CreateRequest, ImageInfo } from "./config.ts";
export type {
  BindMount, ContainerConfig, ContainerRow, HealthConfig, IdMap, NamespaceModes, PortPublish, ResourceLimits, RestartPolicy, StoredState, UsernsConfig,
} from "./types.ts";
export { EngineError, NotFoundError, UsageError, EXIT_ENGINE, EXIT_CANNOT_INVOKE, EXIT_NOT_FOUND } from "./errors.ts";
export { parseSignal } from "./options.ts";

// exec and top: a command in a running container; its processes.
export { execProcess, containerTop, type ExecRequest } from "./exec.ts";
// cp: files between the host and a container (running or not).
export { copyFromContainer, copyToContainer, type CopyOptions } from "./cp.ts";
// stats: one sample of a container's cgroup and network counters; docker's row from two samples.
export { sampleStats, statsRow, type StatsSample } from "./stats.ts";
// ps and container prune: docker's filters, ps's selection; the stopped containers removed.
export {
  listContainers, matchesFilters, parseContainerFilters, pruneContainers, type ContainerFilter, type ListRequest,
} from "./containers.ts";
// logs: a container's log read back, -f until it exits.
export { containerLogs, type LogsRequest } from "./container-logs.ts";
// commit, export, diff: a container's changes as an image, its files as a tar, what it changed.
export { commitToImage, containerChanges, exportFiles, mountTargets, type CommitRequest } from "./commit.ts";
// images: the image store with this engine's containers as the holders of images.
export { openEngineImages } from "./images.ts";
// inspect and ps: docker's JSON shapes of a container.
export { endpointSettings, inspectObject, psObject, statusText, portsText } from "./inspect.ts";
// the monitor's log and attach socket, by path (containerLogs above is the log by container).
export {
  attach, muxFrame, parseSince, readLog, writeLogs,
  type AttachOptions, type AttachSession, type LogReadOptions, type LogRecord, type LogSink, type LogWriteOptions,
} from "./logs.ts";
// volumes: named and anonymous volumes (engine.volumes).
export type { Volumes, VolumeInfo } from "./volumes.ts";
// ns: each container's namespaces (own, the host's, shared with whom); every namespace in use.
export {
  containerNamespaces, namespaceTable, NAMESPACE_TYPES, type ContainerNamespace, type ContainerNamespaces, type NamespaceUse,
} from "./ns-view.ts";
// healthchecks: one probe run and recorded (the monitor's periodic command), State.Health read back.
export { readHealth, runHealthcheck } from "./health.ts";
export { healthConfig, healthcheckObject, parseDuration, type HealthLogEntry, type HealthRequest, type HealthState, type HealthStatus } from "./health-config.ts";
// registries: pull, push, login, logout (run/create pull a missing image themselves: --pull).
export {
  pull, push, registryCheckLogin, registryLogin, registryLogout, repositoryTags, RegistryError,
  type Credentials, type PullEvent, type PullOptions, type PullResult, type PushOptions, type PushResult,
} from "./registry.ts";
// the monitor's exit file: how a run ended, and waiting for it (the API's wait).
export { readExitFile, waitExitFile, type ExitRecord } from "./monitor.ts";
// the event log every berth process appends to (the API's /events reads it).
export { eventsLog, parseEvents, readEvents, recordContainerEvent, recordEvent, type EngineEvent } from "./events.ts";
// update: new limits and restart policy for a container, applied to its cgroup while it runs.
export { parseUpdate, updateContainer, updatedConfig, type ResourceUpdate, type UpdateRequest } from "./update.ts";
