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
  /** --mount bind-propagation (bind mounts; default rprivate). */
  propagation?: "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave";
  /** --mount volume-nocopy: a new volume is not filled from the image's directory. */
  noCopy?: boolean;
}

export interface ResourceLimits {
  memory?: number;
  memorySwap?: number;
  /** --cpus as a fraction of CPUs. */
  cpus?: number;
  cpuShares?: number;
  pidsLimit?: number;
  /** --cpu-quota and --cpu-period, in microseconds (CFS bandwidth). */
  cpuQuota?: number;
  cpuPeriod?: number;
  /** --cpuset-cpus, --cpuset-mems: lists like "0-2,4". */
  cpusetCpus?: string;
  cpusetMems?: string;
  /** --memory-reservation: the soft limit, in bytes. */
  memoryReservation?: number;
  /** --oom-kill-disable. */
  oomKillDisable?: boolean;
  /** --blkio-weight, 10-1000. */
  blkioWeight?: number;
  /** --device-read-bps & co: per block device, bytes or operations per second. */
  deviceReadBps?: DeviceRate[];
  deviceWriteBps?: DeviceRate[];
  deviceReadIops?: DeviceRate[];
  deviceWriteIops?: DeviceRate[];
}

/** One throttled block device, as given (path) and as the kernel names it (major:minor). */
export interface DeviceRate {
  path: string;
  major: number;
  minor: number;
  rate: number;
}

/** --device HOST[:CONTAINER[:PERMISSIONS]]: a host node made in the container, and allowed. */
export interface DeviceMapping {
  hostPath: string;
  containerPath: string;
  /** "rwm" or a subset. */
  permissions: string;
  type: "c" | "b";
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

/** --device-cgroup-rule 'c 42:* rmw'. */
export interface DeviceRule {
  type: "a" | "c" | "b";
  /** null: any ("*"). */
  major: number | null;
  minor: number | null;
  access: string;
}

/** --ulimit NAME=SOFT[:HARD]; -1 is unlimited. */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/** One published port as asked (-p, -P): the network chooses a random or range port at start. */
export interface PortPublish {
  hostIp: string;
  /** 0 = a random free port; with hostPortEnd, the first port of a host range. */
  hostPort: number;
  /** -p 1000-2000:81: one free port of hostPort..hostPortEnd, chosen per container. */
  hostPortEnd?: number;
  containerPort: number;
  proto: "tcp" | "udp" | "sctp";
}

/** Another container's namespace, joined by its full ID (a rename does not break the join). */
export type JoinedNamespace = `container:${string}`;

/**
 * --pid, --ipc, --uts and --cgroupns as docker takes them. "private" is a namespace of the
 * container's own; "host" none of its own (the host's); container:ID another container's.
 * ipc "shareable" is private with a /dev/shm others may join, "none" private without /dev/shm.
 */
export interface NamespaceModes {
  pid: "private" | "host" | JoinedNamespace;
  ipc: "private" | "shareable" | "none" | "host" | JoinedNamespace;
  uts: "private" | "host";
  cgroup: "private" | "host";
}

/** One line of a user namespace's id map: container ids [containerID, +size) are host ids [hostID, +size). */
export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

/**
 * A user namespace of the container's own (--userns=auto, --uidmap/--gidmap). "auto": a range of
 * berth's subordinate ids (/etc/subuid, /etc/subgid), chosen when the container is recorded and
 * unique among the root's containers (`range`: its place in the pool), freed with the row.
 */
export interface UsernsConfig {
  mode: "auto" | "maps";
  uidMap: IdMap[];
  gidMap: IdMap[];
  range?: { offset: number; size: number };
}

/** A healthcheck as create decided it (image HEALTHCHECK with the --health-* flags over it). */
export interface HealthConfig {
  /** docker's form: ["CMD", argv...] or ["CMD-SHELL", "command line"]. */
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  retries: number;
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
  /** Fixed IPv4 address per network (--ip, compose's ipv4_address, the API's IPAMConfig). */
  ips?: Record<string, string>;
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
  /** --pid/--ipc/--uts/--cgroupns (absent in containers created before them: all private). */
  namespaces?: NamespaceModes;
  /** A user namespace of its own (absent: the host's, docker's --userns=host). */
  userns?: UsernsConfig;
  /** The healthcheck the monitor runs (absent: none, or disabled). */
  healthcheck?: HealthConfig;
  /** --cgroup-parent, absolute ("/mygroup"): the container's cgroup is PARENT/ID (default /berth/ID). */
  cgroupParent?: string;
  devices?: DeviceMapping[];
  deviceCgroupRules?: DeviceRule[];
  ulimits?: Ulimit[];
  /** --shm-size in bytes (default 64 MiB). */
  shmSize?: number;
  /** --group-add: group names (of the image) or numbers. */
  groupAdd?: string[];
  /** --oom-score-adj, -1000..1000. */
  oomScoreAdj?: number;
  /** --cidfile, as given: where the ID was written. */
  cidFile?: string;
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
