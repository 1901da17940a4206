// berth-runtime as a Kubernetes runtime handler: Debian's containerd with its CRI plugin, started by
// this file with its own root, state, socket, config and CNI network, a "berth" handler whose runc
// v2 shim calls bin/berth-runtime, and a CRI v1 client over gRPC making the kubelet's calls for a
// pod (RunPodSandbox … RemovePodSandbox). The CNI network is Debian's containernetworking-plugins
// (bridge + host-local + loopback) on a bridge and subnet of this file's own. Each flow checks what
// it left: mounts, cgroups, veths, network namespaces, IP allocations, shims, runtime state.
// BERTH_TEST_CRI_HANDLER=runc runs the same pods under runc, to tell a berth bug from the setup's.
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeImageStore, openImageStore } from "../../src/image/store.ts";
import { rootfsImporter } from "../../src/image/importers.ts";
import { normalizeTaggedName } from "../../src/image/reference.ts";
import { berth, busyboxRootfs, cleanupRoot, engineRoot, REPO } from "../engine/helpers.ts";
import { processAlive, waitFor } from "../helpers/runtime.ts";
import { CriClient, type ContainerStatusResponse, type ExecSyncResponse, type PodSandboxStatusResponse } from "./cri-client.ts";
import { baseConfig, Containerd, HAVE_CONTAINERD, mountsUnder, pidsWhose } from "./helpers.ts";

setDefaultTimeout(60_000);

const RUNTIME = join(REPO, "bin/berth-runtime");
const HANDLER = process.env.BERTH_TEST_CRI_HANDLER || "berth";
const HAVE_CNI = ["bridge", "host-local", "loopback"].every((p) => existsSync(join("/usr/lib/cni", p)));
const IMAGE = "docker.io/library/busybox:latest";
const PAUSE = "berth.test/pause:cri";
/** Names of this file's own, so tests running side by side never share a bridge, subnet or cgroup. */
const TAG = String(process.pid % 100_000);
const BRIDGE = `bcri${TAG}`;
const NETWORK = `berth-cri-${TAG}`;
const SUBNET_PREFIX = `10.213.${(process.pid % 200) + 20}.`;
const CGROUP_PARENT = `/berth-cri-${TAG}`;
/** CAP_SYS_RESOURCE (bit 24): needed to lower an oom_score_adj, which CRI does for every sandbox
 *  (-998). Machines that withhold it from root (some VMs and CI sandboxes) get containerd's
 *  restrict_oom_score_adj, which keeps scores at or above containerd's own, as on such a node. */
const CAN_LOWER_OOM_SCORE = (BigInt(`0x${/CapEff:\s+(\w+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "0"}`) >> 24n & 1n) === 1n;
/** CRI's containerd namespace. */
const NS = "k8s.io";

let dir = "";
let engine = "";
let containerd: Containerd | undefined;
let cri: CriClient | undefined;

/** The runtime's --root per handler (the shim adds the namespace): its state stays in `dir`. */
const stateRoot = (handler: string) => join(dir, `${handler}-state`);

function writeConfig(): void {
  const cri = `"io.containerd.grpc.v1.cri"`;
  const runtimes = `${cri}.containerd.runtimes`;
  writeFileSync(join(dir, "config.toml"), baseConfig(dir) + `
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
[plugins.${cri}]
  sandbox_image = "${PAUSE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # pods' network namespaces under this daemon's state dir, not /var/run/netns
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = ${!CAN_LOWER_OOM_SCORE}
  [plugins.${cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni"
  [plugins.${cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
  [plugins.${runtimes}.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins.${runtimes}.runc.options]
      Root = "${stateRoot("runc")}"
  # What a node adds to offer berth-runtime as the RuntimeClass handler "berth".
  [plugins.${runtimes}.berth]
    runtime_type = "io.containerd.runc.v2"
    [plugins.${runtimes}.berth.options]
      BinaryName = "${RUNTIME}"
      Root = "${stateRoot("berth")}"
`);
  mkdirSync(join(dir, "cni"));
  // isGateway off: the bridge gets no address and the host's forwarding settings are left alone;
  // the pod still gets its address and its end of a veth on the bridge.
  writeFileSync(join(dir, "cni", "10-berth-cri.conflist"), JSON.stringify({
    cniVersion: "1.0.0",
    name: NETWORK,
    plugins: [
      { type: "bridge", bridge: BRIDGE, isGateway: false, ipMasq: false, hairpinMode: false,
        ipam: { type: "host-local", ranges: [[{ subnet: `${SUBNET_PREFIX}0/24` }]], dataDir: join(dir, "cni-ipam") } },
      { type: "loopback" },
    ],
  }, null, 2));
}

/** busybox:latest and a pause image (busybox's sleep as its entrypoint) saved by berth and
 *  imported into CRI's namespace, as a node's images would be pre-loaded. */
async function importImages(): Promise<void> {
  engine = await engineRoot();
  const src = busyboxRootfs(join(dir, "pause-src"));
  const store = openImageStore(engine);
  try {
    await rootfsImporter(src).run(store, { names: [normalizeTaggedName(PAUSE)], changes: ['ENTRYPOINT ["/bin/sleep", "2147483647"]'] });
  } finally {
    closeImageStore(engine);
  }
  rmSync(src, { recursive: true, force: true });
  const archive = join(dir, "images.tar");
  const saved = berth(engine, ["save", "-o", archive, "busybox", PAUSE]);
  if (saved.code !== 0) throw new Error(`berth save: ${saved.stderr}`);
  containerd!.ctrOk(NS, ["image", "import", archive]);
  rmSync(archive);
}

/** cgroup directories below this file's cgroup parent, in every hierarchy, deepest first. */
function podCgroups(): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    found.push(d);
  };
  // cgroup v2: /sys/fs/cgroup/PARENT; v1: /sys/fs/cgroup/HIERARCHY/PARENT
  const tops = [join("/sys/fs/cgroup", CGROUP_PARENT), ...readdirSync("/sys/fs/cgroup").map((h) => join("/sys/fs/cgroup", h, CGROUP_PARENT))];
  for (const top of tops) if (existsSync(top)) walk(top);
  return found;
}

/** Everything a pod may leave once removed. */
function leftovers(): string[] {
  const found = mountsUnder(dir);
  // (the parent itself stays, as a kubelet's pod cgroup would; afterAll removes it)
  found.push(...podCgroups().filter((d) => !d.endsWith(CGROUP_PARENT)));
  const ports = Bun.spawnSync(["ip", "-o", "link", "show", "master", BRIDGE]).stdout.toString().trim();
  if (ports) found.push(`bridge ports: ${ports}`);
  const ipam = join(dir, "cni-ipam", NETWORK);
  if (existsSync(ipam)) found.push(...readdirSync(ipam).filter((f) => f.startsWith(SUBNET_PREFIX)).map((f) => `IP allocation ${f}`));
  if (existsSync("/var/lib/cni/results")) found.push(...readdirSync("/var/lib/cni/results").filter((f) => f.startsWith(`${NETWORK}-`)).map((f) => `CNI result ${f}`));
  for (const h of ["berth", "runc"]) {
    const d = join(stateRoot(h), NS);
    // (berth-runtime's @seccomp is its cache of compiled profiles, kept on purpose)
    if (existsSync(d)) found.push(...readdirSync(d).filter((id) => id !== "@seccomp").map((id) => `${h} state ${id}`));
  }
  found.push(...containerd!.shims().map((p) => `shim ${p}`));
  return found;
}

function podConfig(name: string, opts: { hostNetwork?: boolean } = {}): Record<string, unknown> {
  return {
    metadata: { name, uid: `uid-${name}-${TAG}`, namespace: "berth-test", attempt: 0 },
    hostname: opts.hostNetwork ? "" : name,
    logDirectory: join(dir, "logs", name),
    labels: { test: "cri" },
    linux: {
      cgroupParent: CGROUP_PARENT,
      // A network-namespaced sysctl: set by the runtime in the pod sandbox, seen by its containers.
      sysctls: opts.hostNetwork ? {} : { "net.ipv4.ip_unprivileged_port_start": "80" },
      securityContext: {
        namespaceOptions: { network: opts.hostNetwork ? "NODE" : "POD", pid: "CONTAINER", ipc: "POD" },
        seccomp: { profileType: "RuntimeDefault" },
      },
    },
  };
}

/** A container that writes to both streams, then waits for SIGTERM and exits 0 on it. */
function containerConfig(name: string, hostNetwork = false): Record<string, unknown> {
  return {
    metadata: { name, attempt: 0 },
    image: { image: IMAGE },
    command: ["sh", "-c", "echo hello-stdout; echo hello-stderr >&2; trap 'echo bye; exit 0' TERM; while :; do sleep 1 & wait; done"],
    envs: [{ key: "GREETING", value: "hi from cri" }],
    logPath: `${name}/0.log`,
    linux: {
      resources: { memoryLimitInBytes: 64 * 1024 * 1024, oomScoreAdj: 500, cpuShares: 512 },
      // (as the kubelet fills it: the pod's network and IPC, a PID namespace of its own)
      securityContext: {
        namespaceOptions: { network: hostNetwork ? "NODE" : "POD", pid: "CONTAINER", ipc: "POD" },
        seccomp: { profileType: "RuntimeDefault" }, maskedPaths: ["/proc/loadavg"], readonlyPaths: ["/proc/sys"],
      },
    },
  };
}

/** Pods a test made: removed after it, passed or failed, so one failure does not spill into the next. */
const pods = new Set<string>();

async function runPod(config: Record<string, unknown>): Promise<string> {
  const { podSandboxId } = await cri!.call<{ podSandboxId: string }>("RunPodSandbox", { config, runtimeHandler: HANDLER });
  pods.add(podSandboxId);
  return podSandboxId;
}

async function removePods(): Promise<void> {
  for (const podSandboxId of pods) {
    await cri!.call("StopPodSandbox", { podSandboxId }).catch(() => {});
    await cri!.call("RemovePodSandbox", { podSandboxId }).catch(() => {});
    pods.delete(podSandboxId);
  }
}

async function exec(id: string, cmd: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const r = await cri!.call<ExecSyncResponse>("ExecSync", { containerId: id, cmd, timeout: 20 });
  return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode };
}

/** The runtime's record of a container: berth-runtime's state.json carries pidStartTime (runc's has init_process_pid). */
function runtimeState(id: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(stateRoot(HANDLER), NS, id, "state.json"), "utf8")) as Record<string, unknown>;
}

beforeAll(async () => {
  if (!HAVE_CONTAINERD || !HAVE_CNI) return;
  dir = mkdtempSync(join(tmpdir(), "berth-cri-"));
  writeConfig();
  containerd = new Containerd(dir);
  await containerd.start();
  await importImages();
  cri = new CriClient(containerd.socket);
});

afterEach(async () => {
  if (cri) await removePods();
});

afterAll(async () => {
  if (!dir) return;
  try {
    if (cri) {
      // Whatever a failed test left: stop and remove its pods (their containers go with them).
      const pods = await cri.call<{ items: { id: string }[] }>("ListPodSandbox").catch(() => ({ items: [] }));
      for (const p of pods.items) {
        await cri.call("StopPodSandbox", { podSandboxId: p.id }).catch(() => {});
        await cri.call("RemovePodSandbox", { podSandboxId: p.id }).catch(() => {});
      }
      cri.close();
    }
  } finally {
    await containerd?.stop();
    for (const d of podCgroups()) {
      try {
        for (const pid of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) process.kill(Number(pid), "SIGKILL");
        rmdirSync(d);
      } catch { /* gone, or still emptying */ }
    }
    Bun.spawnSync(["ip", "link", "del", BRIDGE]);
    if (existsSync("/var/lib/cni/results")) {
      for (const f of readdirSync("/var/lib/cni/results")) if (f.startsWith(`${NETWORK}-`)) rmSync(join("/var/lib/cni/results", f), { force: true });
    }
    if (engine) cleanupRoot(engine);
    rmSync(dir, { recursive: true, force: true });
  }
});

describe.if(HAVE_CONTAINERD && HAVE_CNI)(`CRI v1 through containerd's CRI plugin, runtime handler "${HANDLER}"`, () => {
  test("Version and Status: CRI v1 served, runtime and network ready; the images are CRI's", async () => {
    const v = await cri!.call<{ runtimeName: string; runtimeApiVersion: string }>("Version", { version: "v1" });
    expect(v.runtimeName).toBe("containerd");
    expect(v.runtimeApiVersion).toBe("v1");
    const s = await cri!.call<{ status: { conditions: { type: string; status: boolean; message: string }[] } }>("Status");
    const cond = Object.fromEntries(s.status.conditions.map((c) => [c.type, c]));
    expect(cond.RuntimeReady?.status).toBe(true);
    expect(cond.NetworkReady?.message ?? "").toBe("");
    expect(cond.NetworkReady?.status).toBe(true);
    for (const image of [IMAGE, PAUSE]) {
      const st = await cri!.callImage<{ image: { repoTags: string[] } | null }>("ImageStatus", { image: { image } });
      expect(st.image?.repoTags).toContain(image);
    }
  });

  test("a pod with its own network: sandbox and container under the handler, exec, logs, stop, remove, nothing left", async () => {
    const pod = podConfig("web");
    const podSandboxId = await runPod(pod);
    const ps = await cri!.call<PodSandboxStatusResponse>("PodSandboxStatus", { podSandboxId, verbose: true });
    expect(ps.status.state).toBe("SANDBOX_READY");
    expect(ps.status.runtimeHandler).toBe(HANDLER);
    const podIp = ps.status.network?.ip ?? "";
    expect(podIp.startsWith(SUBNET_PREFIX)).toBe(true);
    // The sandbox ran under the handler's binary: its state is where that handler's Root says, in
    // that runtime's own format; the pause process is alive in the pod's cgroup.
    const info = JSON.parse(ps.info.info!) as { pid: number; runtimeOptions: { binary_name?: string } };
    if (HANDLER === "berth") {
      expect(info.runtimeOptions.binary_name).toBe(RUNTIME);
      expect(runtimeState(podSandboxId).pidStartTime).toBeString();
      expect(runtimeState(podSandboxId).pid).toBe(info.pid);
    }
    expect(existsSync(join(stateRoot(HANDLER), NS, podSandboxId))).toBe(true);
    expect(processAlive(info.pid)).toBe(true);
    expect(readFileSync(`/proc/${info.pid}/cgroup`, "utf8")).toContain(`${CGROUP_PARENT}/${podSandboxId}`);
    // one veth of the pod's on this file's bridge
    expect(Bun.spawnSync(["ip", "-o", "link", "show", "master", BRIDGE]).stdout.toString().trim().split("\n")).toHaveLength(1);

    const { containerId } = await cri!.call<{ containerId: string }>("CreateContainer", { podSandboxId, config: containerConfig("app"), sandboxConfig: pod });
    let cs = await cri!.call<ContainerStatusResponse>("ContainerStatus", { containerId });
    expect(cs.status.state).toBe("CONTAINER_CREATED");
    await cri!.call("StartContainer", { containerId });
    cs = await cri!.call<ContainerStatusResponse>("ContainerStatus", { containerId, verbose: true });
    expect(cs.status.state).toBe("CONTAINER_RUNNING");
    expect(cs.status.logPath).toBe(join(dir, "logs", "web", "app/0.log"));
    const cpid = (JSON.parse(cs.info.info!) as { pid: number }).pid;
    expect(processAlive(cpid)).toBe(true);
    if (HANDLER === "berth") expect(runtimeState(containerId).pidStartTime).toBeString();

    // ExecSync: output and exit status, as the kubelet's probes read them.
    expect(await exec(containerId, ["echo", "hello"])).toEqual({ stdout: "hello\n", stderr: "", exitCode: 0 });
    expect(await exec(containerId, ["sh", "-c", "echo oops >&2; exit 3"])).toEqual({ stdout: "", stderr: "oops\n", exitCode: 3 });
    expect((await exec(containerId, ["sh", "-c", "echo $GREETING"])).stdout).toBe("hi from cri\n");
    // The pod's network: the address CNI gave, the hostname, the sandbox's sysctl.
    expect((await exec(containerId, ["ip", "-4", "-o", "addr", "show", "eth0"])).stdout).toContain(` ${podIp}/24 `);
    expect((await exec(containerId, ["hostname"])).stdout).toBe("web\n");
    expect((await exec(containerId, ["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"])).stdout).toBe("80\n");
    // The spec CRI writes: the pod's /dev/shm, oom_score_adj, seccomp, masked and read-only paths,
    // the memory limit in the container's cgroup below the pod's parent.
    expect((await exec(containerId, ["sh", "-c", "grep ' /dev/shm ' /proc/mounts"])).stdout).toMatch(/^shm \/dev\/shm tmpfs /);
    expect((await exec(containerId, ["cat", "/proc/1/oom_score_adj"])).stdout).toBe("500\n");
    expect(readFileSync(`/proc/${cpid}/oom_score_adj`, "utf8")).toBe("500\n");
    expect((await exec(containerId, ["grep", "^Seccomp:", "/proc/1/status"])).stdout).toMatch(/Seccomp:\s+2/);
    expect((await exec(containerId, ["sh", "-c", "wc -c < /proc/loadavg"])).stdout.trim()).toBe("0");
    expect((await exec(containerId, ["sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])).exitCode).not.toBe(0);
    const cgroupLines = readFileSync(`/proc/${cpid}/cgroup`, "utf8").split("\n");
    const v1 = cgroupLines.find((l) => /^\d+:memory:/.test(l))?.split(":")[2];
    const memory = v1 !== undefined ? join("/sys/fs/cgroup/memory", v1, "memory.limit_in_bytes") : join("/sys/fs/cgroup", cgroupLines.find((l) => l.startsWith("0::"))!.slice(3), "memory.max");
    expect(memory).toContain(`${CGROUP_PARENT}/${containerId}/`);
    expect(readFileSync(memory, "utf8").trim()).toBe(String(64 * 1024 * 1024));

    // A second container in the pod, as a restricted securityContext makes it: another user, a
    // read-only root, no capabilities, no new privileges; it shares the pod's network.
    const restricted = await cri!.call<{ containerId: string }>("CreateContainer", { podSandboxId, sandboxConfig: pod, config: {
      metadata: { name: "restricted", attempt: 0 }, image: { image: IMAGE }, command: ["sleep", "1000"], logPath: "restricted/0.log",
      linux: { securityContext: {
        namespaceOptions: { network: "POD", pid: "CONTAINER", ipc: "POD" },
        runAsUser: { value: 65534 }, runAsGroup: { value: 65534 }, readonlyRootfs: true, noNewPrivs: true,
        capabilities: { dropCapabilities: ["ALL"] }, seccomp: { profileType: "RuntimeDefault" },
      } },
    } });
    await cri!.call("StartContainer", { containerId: restricted.containerId });
    expect(await exec(restricted.containerId, ["id"])).toEqual({ stdout: "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n", stderr: "", exitCode: 0 });
    expect((await exec(restricted.containerId, ["grep", "-E", "^(CapEff|CapBnd|NoNewPrivs):", "/proc/self/status"])).stdout).toMatch(/CapEff:\s+0+\nCapBnd:\s+0+\nNoNewPrivs:\s+1\n/);
    expect((await exec(restricted.containerId, ["touch", "/x"])).exitCode).not.toBe(0);
    expect((await exec(restricted.containerId, ["readlink", "/proc/self/ns/net"])).stdout).toBe((await exec(containerId, ["readlink", "/proc/self/ns/net"])).stdout);
    // StopContainer with no grace: SIGKILL, exit 137
    await cri!.call("StopContainer", { containerId: restricted.containerId, timeout: 0 });
    const rs = await cri!.call<ContainerStatusResponse>("ContainerStatus", { containerId: restricted.containerId });
    expect([rs.status.state, rs.status.exitCode, rs.status.reason]).toEqual(["CONTAINER_EXITED", 137, "Error"]);
    await cri!.call("RemoveContainer", { containerId: restricted.containerId });

    // The container's log: CRI's format, one line per write, both streams.
    const logFile = cs.status.logPath;
    await waitFor(() => existsSync(logFile) && readFileSync(logFile, "utf8").includes("hello-stderr"), "the container's output in its CRI log");
    const log = readFileSync(logFile, "utf8");
    expect(log).toMatch(/^\S+ stdout F hello-stdout$/m);
    expect(log).toMatch(/^\S+ stderr F hello-stderr$/m);

    await cri!.call("StopContainer", { containerId, timeout: 10 });
    cs = await cri!.call<ContainerStatusResponse>("ContainerStatus", { containerId });
    expect(cs.status.state).toBe("CONTAINER_EXITED");
    expect(cs.status.exitCode).toBe(0);
    expect(cs.status.reason).toBe("Completed");
    expect(processAlive(cpid)).toBe(false);
    expect(readFileSync(logFile, "utf8")).toMatch(/^\S+ stdout F bye$/m);
    await cri!.call("RemoveContainer", { containerId });
    expect((await cri!.call<{ containers: unknown[] }>("ListContainers", { filter: { podSandboxId } })).containers).toEqual([]);

    await cri!.call("StopPodSandbox", { podSandboxId });
    expect((await cri!.call<PodSandboxStatusResponse>("PodSandboxStatus", { podSandboxId })).status.state).toBe("SANDBOX_NOTREADY");
    expect(processAlive(info.pid)).toBe(false);
    await cri!.call("RemovePodSandbox", { podSandboxId });
    expect((await cri!.call<{ items: unknown[] }>("ListPodSandbox", { filter: { id: podSandboxId } })).items).toEqual([]);
    expect(leftovers()).toEqual([]);
  });

  test("a pod on the host's network: no pod address, the host's network namespace", async () => {
    const pod = podConfig("hostnet", { hostNetwork: true });
    const podSandboxId = await runPod(pod);
    const ps = await cri!.call<PodSandboxStatusResponse>("PodSandboxStatus", { podSandboxId });
    expect(ps.status.state).toBe("SANDBOX_READY");
    expect(ps.status.network?.ip ?? "").toBe("");
    expect(ps.status.linux?.namespaces.options.network).toBe("NODE");
    if (HANDLER === "berth") expect(runtimeState(podSandboxId).pidStartTime).toBeString();
    const cfg = containerConfig("tool", true);
    const { containerId } = await cri!.call<{ containerId: string }>("CreateContainer", { podSandboxId, config: cfg, sandboxConfig: pod });
    await cri!.call("StartContainer", { containerId });
    const hostNet = Bun.spawnSync(["readlink", "/proc/self/ns/net"]).stdout.toString();
    expect((await exec(containerId, ["readlink", "/proc/1/ns/net"])).stdout).toBe(hostNet);
    expect((await exec(containerId, ["sh", "-c", "exit 42"])).exitCode).toBe(42);
    await cri!.call("StopContainer", { containerId, timeout: 10 });
    expect((await cri!.call<ContainerStatusResponse>("ContainerStatus", { containerId })).status.exitCode).toBe(0);
    await cri!.call("RemoveContainer", { containerId });
    await cri!.call("StopPodSandbox", { podSandboxId });
    await cri!.call("RemovePodSandbox", { podSandboxId });
    expect(leftovers()).toEqual([]);
  });

  test("removing a running pod stops and removes its containers too, nothing left", async () => {
    const pod = podConfig("gone");
    const podSandboxId = await runPod(pod);
    const { containerId } = await cri!.call<{ containerId: string }>("CreateContainer", { podSandboxId, config: containerConfig("c"), sandboxConfig: pod });
    await cri!.call("StartContainer", { containerId });
    await cri!.call("StopPodSandbox", { podSandboxId });
    expect((await cri!.call<ContainerStatusResponse>("ContainerStatus", { containerId })).status.state).toBe("CONTAINER_EXITED");
    await cri!.call("RemovePodSandbox", { podSandboxId });
    expect((await cri!.call<{ containers: unknown[] }>("ListContainers", { filter: { podSandboxId } })).containers).toEqual([]);
    expect(leftovers()).toEqual([]);
    expect(pidsWhose((cmd) => cmd.includes(podSandboxId))).toEqual([]);
  });
});
