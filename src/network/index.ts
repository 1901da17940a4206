// Container networking: bridge networks with a persistent IPAM, veths via rtnetlink, port
// publishing with nftables DNAT, managed hosts files, and the --network modes.
export { DEFAULT_NETWORK, NetworkManager, openNetworks } from "./manager.ts";
export type { Attachment, AttachOptions, CreateOptions, EndpointInfo, FilesOptions, NetworkDetails, NetworkInfo, OpenOptions, ReconcileReport } from "./manager.ts";
export { driverFor, parseNetworkMode, setupLoopback } from "./drivers.ts";
export type { DriverDeps, NetnsDecision, NetworkDriver, NetworkMode, SetupContext, SetupResult } from "./drivers.ts";
export { writeContainerFiles } from "./files.ts";
export type { ContainerFilePaths, ContainerFilesSpec, HostEntry } from "./files.ts";
export { createNamedNetns, NETNS_RUN_DIR, removeNamedNetns } from "./netns.ts";
export { exposedPortRequests, formatBinding, parsePortSpec } from "./ports.ts";
export type { PortBinding, PortRequest, Proto } from "./ports.ts";
export { endpointId, filterNetworkRecords, networkId, networkRecord, predefinedNetworkRecord, PREDEFINED_NETWORKS, rfc3339Nano } from "./record.ts";
export type { NetworkRecord, NetworkRecordEndpoint, RecordSource } from "./record.ts";
