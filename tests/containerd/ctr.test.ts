// berth-runtime under containerd, as a user drives it with ctr: containerd (Debian's, from
// scripts/install-system-deps.sh) started by this file with its own root, state, socket and config,
// an image imported from a `berth save` archive, and the runc v2 shim calling bin/berth-runtime
// (`ctr run --runc-binary`). Each flow checks what it left: mounts, cgroups, runtime state, shims.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { berth, cleanupRoot, engineRoot, REPO } from "../engine/helpers.ts";
import { processAlive, waitFor } from "../helpers/runtime.ts";
import { baseConfig, Containerd, HAVE_CONTAINERD } from "./helpers.ts";

setDefaultTimeout(90_000);

const RUNTIME = join(REPO, "bin/berth-runtime");
const IMAGE = "docker.io/library/busybox:latest";
/** ctr's namespace; the shim puts each container's cgroup at /NS/ID (removed in afterAll). */
const NS = `berthtest-${process.pid}`;

let dir = "";
let engine = "";
let containerd: Containerd | undefined;
/** The runtime's --root for every container here (ctr run --runc-root; the shim adds the namespace):
 *  its state stays in `dir`. */
let runcRoot = "";

/** `ctr ARGS…` against this file's containerd, in this file's namespace. */
const ctr = (args: string[], opts: { timeoutMs?: number } = {}) => containerd!.ctr(NS, args, opts);
const ctrOk = (args: string[]) => containerd!.ctrOk(NS, args);

/** `ctr run` with berth-runtime as the shim's binary and its state under the test's dir. */
const RUN = () => ["run", "--runc-binary", RUNTIME, "--runc-root", runcRoot];

/** `ctr task ls`: task -> status. */
function tasks(): Map<string, string> {
  const rows = ctrOk(["task", "ls"]).trim().split("\n").slice(1).map((l) => l.trim().split(/\s+/));
  return new Map(rows.filter((r) => r.length >= 3).map((r) => [r[0]!, r[2]!]));
}

/** containerd-shim processes serving this file's containerd. */
const shims = () => containerd!.shims();

/** Everything a container may leave: mounts under dir, cgroups (ctr puts them at /NS/ID), runtime state. */
function leftovers(id: string): string[] {
  const found = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(dir + "/") && m.includes(id));
  for (const h of readdirSync("/sys/fs/cgroup")) {
    const d = join("/sys/fs/cgroup", h, NS, id);
    if (existsSync(d)) found.push(d);
  }
  if (existsSync(join(runcRoot, NS, id))) found.push(join(runcRoot, NS, id));
  return found;
}

beforeAll(async () => {
  if (!HAVE_CONTAINERD) return;
  dir = mkdtempSync(join(tmpdir(), "berth-ctrd-"));
  runcRoot = join(dir, "runtime-state");
  // The runtime entry is what a cluster adds to pick berth-runtime per pod (a RuntimeClass
  // handler); containerd reads it only through the CRI plugin, which these ctr flows do not need
  // (cri.test.ts drives it through CRI).
  writeFileSync(join(dir, "config.toml"), baseConfig(dir, ["io.containerd.grpc.v1.cri"]) + `
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth.options]
    BinaryName = "${RUNTIME}"
`);
  containerd = new Containerd(dir);
  await containerd.start();
  engine = await engineRoot();
  const archive = join(dir, "busybox.tar");
  const saved = berth(engine, ["save", "-o", archive, "busybox"]);
  if (saved.code !== 0) throw new Error(`berth save: ${saved.stderr}`);
  ctrOk(["image", "import", archive]);
});

afterAll(async () => {
  if (!HAVE_CONTAINERD) return;
  try {
    for (const [id] of tasks()) ctr(["task", "kill", "-a", "-s", "SIGKILL", id]);
    for (const [id] of tasks()) ctr(["task", "delete", "--force", id]);
    for (const id of ctrOk(["container", "ls", "-q"]).split("\n").filter(Boolean)) ctr(["container", "rm", id]);
  } finally {
    await containerd?.stop();
    // The runtime makes /NS as the parent of /NS/ID (runc does too) and leaves it: ours to remove.
    for (const h of readdirSync("/sys/fs/cgroup")) {
      try {
        rmdirSync(join("/sys/fs/cgroup", h, NS));
      } catch { /* absent */ }
    }
    if (engine) cleanupRoot(engine);
    rmSync(dir, { recursive: true, force: true });
  }
});

describe.if(HAVE_CONTAINERD)("ctr with berth-runtime as the runc v2 shim's binary", () => {
  test("the imported berth save archive is an image containerd knows", () => {
    expect(ctrOk(["image", "ls", "-q"])).toContain(IMAGE);
  });

  test("ctr run --rm: the container's output and exit status, nothing left", () => {
    const r = ctr([...RUN(), "--rm", IMAGE, "rm1", "echo", "hi"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hi\n");
    expect(r.code).toBe(0);
    expect(ctr([...RUN(), "--rm", IMAGE, "rm2", "sh", "-c", "exit 3"]).code).toBe(3);
    expect(ctr([...RUN(), "--rm", IMAGE, "rm3", "id"]).stdout).toBe("uid=0(root) gid=0(root) groups=0(root)\n");
    expect(ctrOk(["container", "ls", "-q"])).toBe("");
    for (const id of ["rm1", "rm2", "rm3"]) expect(leftovers(id)).toEqual([]);
    expect(shims()).toEqual([]);
  });

  test("ctr run -d, then task exec / ps / pause / resume / metrics / kill / delete, container rm", async () => {
    const id = "d1";
    ctrOk([...RUN(), "-d", IMAGE, id, "sleep", "1000"]);
    expect(tasks().get(id)).toBe("RUNNING");
    const pid = Number(ctrOk(["task", "ls"]).split("\n").find((l) => l.startsWith(id))!.trim().split(/\s+/)[1]);
    expect(processAlive(pid)).toBe(true);
    // The runtime keeps its state where --runc-root said.
    expect(existsSync(join(runcRoot, NS, id))).toBe(true);

    const exec = ctr(["task", "exec", "--exec-id", "e1", id, "id"]);
    expect(exec.stdout).toBe("uid=0(root) gid=0(root) groups=0(root)\n");
    expect(exec.code).toBe(0);
    expect(ctr(["task", "exec", "--exec-id", "e2", id, "sh", "-c", "exit 7"]).code).toBe(7);

    const ps = ctrOk(["task", "ps", id]);
    expect(ps.split("\n")[0]).toMatch(/^PID\s+INFO/);
    expect(ps).toContain(String(pid));

    ctrOk(["task", "pause", id]);
    expect(tasks().get(id)).toBe("PAUSED");
    expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/State:\s+[SD]/);
    ctrOk(["task", "resume", id]);
    expect(tasks().get(id)).toBe("RUNNING");

    const metrics = ctrOk(["task", "metrics", id]);
    expect(metrics).toContain(id);
    expect(metrics).toMatch(/pids\.current\s+1\b/);

    // PID 1 ignores SIGTERM it has no handler for (as with runc): SIGKILL stops it.
    ctrOk(["task", "kill", "-s", "SIGKILL", id]);
    await waitFor(() => tasks().get(id) === "STOPPED", "the task to stop");
    expect(processAlive(pid)).toBe(false);
    ctrOk(["task", "delete", id]);
    ctrOk(["container", "rm", id]);
    expect(ctrOk(["container", "ls", "-q"])).toBe("");
    expect(leftovers(id)).toEqual([]);
    expect(shims()).toEqual([]);
  });

  test("ctr task kill --all reaches exec'd processes too; task delete of a running task is refused", async () => {
    const id = "d2";
    ctrOk([...RUN(), "-d", IMAGE, id, "sleep", "1000"]);
    const del = ctr(["task", "delete", id]);
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain("task must be stopped before deletion");
    const bg = Bun.spawn(["ctr", "--address", containerd!.socket, "--namespace", NS, "task", "exec", "--exec-id", "bg", id, "sleep", "999"], { stdio: ["ignore", "ignore", "ignore"] });
    await waitFor(() => ctrOk(["task", "ps", id]).trim().split("\n").length === 3, "the exec'd sleep to show in task ps");
    ctrOk(["task", "kill", "--all", "-s", "SIGKILL", id]);
    await bg.exited;
    await waitFor(() => tasks().get(id) === "STOPPED", "the task to stop");
    ctrOk(["task", "delete", id]);
    ctrOk(["container", "rm", id]);
    expect(leftovers(id)).toEqual([]);
  });

  test("ctr run --rm -t, and task exec -t, with a real pty", () => {
    // script(1) gives ctr a terminal; the container's stdin/stdout are then a pty of its own.
    const sh = (cmd: string) => Bun.spawnSync({ cmd: ["script", "-qec", cmd, "/dev/null"], stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    const ctrCmd = `ctr --address ${containerd!.socket} --namespace ${NS}`;
    const run = sh(`${ctrCmd} run --rm -t --runc-binary ${RUNTIME} --runc-root ${runcRoot} ${IMAGE} t1 sh -c 'tty; test -t 0 && echo stdin-is-a-tty'`);
    const out = run.stdout.toString();
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    expect(out).toContain("stdin-is-a-tty");
    ctrOk([...RUN(), "-d", IMAGE, "t2", "sleep", "1000"]);
    const exec = sh(`${ctrCmd} task exec -t --exec-id e1 t2 sh -c 'tty; test -t 1 && echo stdout-is-a-tty'`);
    expect(exec.stdout.toString()).toContain("stdout-is-a-tty");
    ctrOk(["task", "kill", "-s", "SIGKILL", "t2"]);
    return waitFor(() => tasks().get("t2") === "STOPPED", "t2 to stop").then(() => {
      ctrOk(["task", "delete", "t2"]);
      ctrOk(["container", "rm", "t2"]);
      for (const id of ["t1", "t2"]) expect(leftovers(id)).toEqual([]);
      expect(shims()).toEqual([]);
    });
  });

  test("the runtime's errors reach the user through the shim", () => {
    const r = ctr([...RUN(), "--rm", IMAGE, "bad1", "/no/such/program"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("/no/such/program");
    expect(leftovers("bad1")).toEqual([]);
    expect(ctrOk(["container", "ls", "-q"])).toBe("");
  });
});
