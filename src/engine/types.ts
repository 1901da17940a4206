// What the engine records about a container: the decisions `create` made (ContainerConfig,
// stored as JSON) and its lifecycle (ContainerRow columns).

export type RestartPolicyName = "no" | "on-failure" | "always" | "unless-stopped";

export interface RestartPolicy {
  name: RestartPolicyName;
  /** on-failure:N — give up after N restarts (0 = no limit). */
  maximumRetryCount: number;
}

export interface BindMount {
  /** Host path (bind) or volume name. */
  source: string;
  destination: string;
  readOnly: boolean;
  kind: "bind" | "volume" | "tmpfs";
  /** tmpfs options (size=…, mode=…). */
  options?: string[];
}

export interface ResourceLimits {
  memory?: number;
  memorySwap?: number;
  /** --cpus as a fraction of CPUs. */
  cpus?: number;
  cpuShares?: number;
  pidsLimit?: number;
}

export interface PortPublish {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  proto: "tcp" | "udp";
}

/** Everything `berth create` decided; the OCI spec is derived from this at each start. */
export interface ContainerConfig {
  image: string;
  imageId: string;
  /** The final argv: entrypoint + cmd, as docker combines them. */
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  hostname: string;
  domainname?: string;
  tty: boolean;
  openStdin: boolean;
  autoRemove: boolean;
  restart: RestartPolicy;
  labels: Record<string, string>;
  network: string;
  /** --network-alias names, on every network the container joins. */
  networkAliases?: string[];
  mounts: BindMount[];
  readOnly: boolean;
  resources: ResourceLimits;
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  /** seccomp: "default" | "unconfined" | a profile path, read at create time into seccompProfile. */
  seccomp: string;
  seccompProfile?: unknown;
  noNewPrivileges: boolean;
  init: boolean;
  exposedPorts: string[];
  publish: PortPublish[];
  stopSignal: string;
  stopTimeout: number;
  logMaxBytes: number;
  sysctls?: Record<string, string>;
  /** --add-host NAME:IP entries for /etc/hosts. */
  extraHosts?: { ip: string; names: string[] }[];
  /** --dns servers (empty: the host's). */
  dns?: string[];
}

/** Lifecycle states as stored; "creating"/"starting"/"removing" mark an operation in progress. */
export type StoredState = "creating" | "created" | "starting" | "running" | "paused" | "restarting" | "exited" | "dead" | "removing";

export interface ContainerRow {
  id: string;
  name: string;
  state: StoredState;
  createdAt: number;
  /** Container init's host pid while running. */
  pid: number;
  pidStart: string;
  monitorPid: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number | null;
  oomKilled: boolean;
  error: string;
  restartCount: number;
  /** stop/kill by the user: restart policies other than `always` leave it down. */
  stoppedByUser: boolean;
  config: ContainerConfig;
}
