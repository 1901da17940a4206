// The corners of the lifecycle a user or containerd hits: delete of a created container, races
// on one ID, signals to a foreground run, big output, stdin to exec, exec in the container's
// user and time namespaces, containers sharing a network namespace, the rootless spec.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeBusyboxBundle, useBundles, type Bundle } from "../helpers/bundle.ts";
import { cgroupLeftovers, ok, processAlive, runBundle, runtime, RUNTIME, stateOf, uniqueId, useStateRoot, waitFor, useCleanups } from "../helpers/runtime.ts";
import { HOST, lacks } from "../helpers/host.ts";

const root = useStateRoot();
const defer = useCleanups();

const newBundle = useBundles(defer);
const bundle = (args: string[], opts: Parameters<typeof makeBusyboxBundle>[0] = {}): Bundle => newBundle({ ...opts, args });

function hostDir(): string {
  const d = mkdtempSync(join(tmpdir(), "berth-host-"));
  chmodSync(d, 0o777);
  defer(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe("lifecycle corners", () => {
  test("delete without --force of a created container fails and leaves it created (runtime-spec)", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("delc");
    ok(root, ["create", "-b", b.dir, id]);
    const r = runtime(root, ["delete", id]);
    expect(r.code).not.toBe(0);
    expect(stateOf(root, id).status).toBe("created");
  });

  test("state reports a stopped container's status and its bundle", async () => {
    const b = bundle(["true"]);
    const id = uniqueId("stst");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    await waitFor(() => stateOf(root, id).status === "stopped", "the container to stop");
    const s = stateOf(root, id);
    expect(s.id).toBe(id);
    expect(s.bundle).toBe(b.dir);
    expect(s.ociVersion).toMatch(/^1\./);
    const started = runtime(root, ["start", id]);
    expect(started.code).not.toBe(0);
  });

  test("start of a created container whose init was killed fails", async () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("dead");
    ok(root, ["create", "-b", b.dir, id]);
    const pid = stateOf(root, id).pid!;
    process.kill(pid, "SIGKILL");
    await waitFor(() => !processAlive(pid), "the init to die");
    const r = runtime(root, ["start", id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().length).toBeGreaterThan(0);
  });

  test("two creates racing for one ID: exactly one wins, the loser leaves nothing", async () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("race");
    const spawn = () => Bun.spawn([RUNTIME, "--root", root, "create", "-b", b.dir, id], { stdio: ["ignore", "ignore", "pipe"] });
    const [p1, p2] = [spawn(), spawn()];
    const codes = await Promise.all([p1.exited, p2.exited]);
    expect(codes.filter((c) => c === 0).length).toBe(1);
    expect(stateOf(root, id).status).toBe("created");
    // Only one init exists for it.
    expect(JSON.parse(ok(root, ["ps", "--format", "json", id]).stdout)).toEqual([stateOf(root, id).pid]);
  });

  test("ps of a created container shows its waiting init", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("psc");
    ok(root, ["create", "-b", b.dir, id]);
    expect(JSON.parse(ok(root, ["ps", "--format", "json", id]).stdout)).toEqual([stateOf(root, id).pid]);
  });

  test("exec into a paused container does not run until resume, and pause of a stopped one fails", async () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("pexec");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    ok(root, ["pause", id]);
    expect(stateOf(root, id).status).toBe("paused");
    ok(root, ["resume", id]);
    ok(root, ["kill", id, "KILL"]);
    await waitFor(() => stateOf(root, id).status === "stopped", "stop");
    expect(runtime(root, ["pause", id]).code).not.toBe(0);
    expect(runtime(root, ["resume", id]).code).not.toBe(0);
  });

  test("delete --force of a paused container", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("delp");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const pid = stateOf(root, id).pid!;
    ok(root, ["pause", id]);
    ok(root, ["delete", "--force", id]);
    expect(processAlive(pid)).toBe(false);
    expect(existsSync(join(root, id))).toBe(false);
    expect(cgroupLeftovers(id)).toEqual([]);
  });
});

describe("foreground run and exec I/O", () => {
  test("SIGTERM to a foreground run reaches the container's process", async () => {
    const host = hostDir();
    const b = bundle(["sh", "-c", 'trap "echo term > /host/got; exit 3" TERM; touch /host/ready; while :; do sleep 0.1; done']);
    b.config.mounts!.push({ destination: "/host", type: "bind", source: host, options: ["rbind", "rw"] });
    b.save();
    const id = uniqueId("fgsig");
    const fg = Bun.spawn([RUNTIME, "--root", root, "run", "-b", b.dir, id], { stdio: ["ignore", "ignore", "ignore"] });
    defer(() => fg.kill(9));
    await waitFor(() => existsSync(join(host, "ready")), "the trap to be set");
    fg.kill("SIGTERM");
    expect(await fg.exited).toBe(3);
    expect(readFileSync(join(host, "got"), "utf8")).toBe("term\n");
  });

  test("big output of a foreground run arrives whole", () => {
    const r = runBundle(root, bundle(["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a; echo; echo end"]).dir);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(3000000 + 1 + 4);
    expect(r.stdout.endsWith("\nend\n")).toBe(true);
  });

  test("exec passes stdin through and reports death by signal as 128+N", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("exio");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    expect(ok(root, ["exec", id, "sh", "-c", "read x; echo got:$x"], { stdin: "hello\n" }).stdout).toBe("got:hello\n");
    expect(runtime(root, ["exec", id, "sh", "-c", "kill -9 $$"]).code).toBe(137);
  });

  test("exec --env overrides a variable of the container's env", () => {
    const b = bundle(["sleep", "1000"]);
    b.config.process!.env = ["PATH=/bin", "MODE=config"];
    b.save();
    const id = uniqueId("exenv");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    expect(ok(root, ["exec", "--env", "MODE=override", id, "sh", "-c", "echo $MODE"]).stdout).toBe("override\n");
  });
});

describe("exec joins every namespace", () => {
  test.skipIf(lacks(HOST.userNamespaces, "user namespaces (CONFIG_USER_NS, user.max_user_namespaces > 0)"))("user namespace: an exec'd process is host uid 100000 too", () => {
    const b = bundle(["sleep", "1000"], { owner: { uid: 100000, gid: 100000 } });
    b.config.linux!.namespaces!.push({ type: "user" });
    b.config.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    b.config.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    b.save();
    const id = uniqueId("exuser");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const pidFile = join(hostDir(), "pid");
    ok(root, ["exec", "-d", "--pid-file", pidFile, id, "sleep", "999"]);
    const pid = Number(readFileSync(pidFile, "utf8"));
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1];
    expect(uid).toBe("100000");
  });

  test.skipIf(lacks(HOST.timeNamespaces, "time namespaces (CONFIG_TIME_NS)"))("time namespace: an exec'd process sees the offset", () => {
    const days = 20 * 86400;
    const b = bundle(["sleep", "1000"]);
    b.config.linux!.namespaces!.push({ type: "time" });
    b.config.linux!.timeOffsets = { boottime: { secs: days, nanosecs: 0 } };
    b.save();
    const id = uniqueId("extime");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const uptime = Number(ok(root, ["exec", id, "cat", "/proc/uptime"]).stdout.split(" ")[0]);
    expect(uptime).toBeGreaterThanOrEqual(days);
  });

  test("a container joining another's network namespace reaches its server on 127.0.0.1", async () => {
    const server = bundle(["busybox", "httpd", "-f", "-p", "8081"]);
    Bun.write(join(server.rootfs, "index.html"), "shared netns\n");
    const sid = uniqueId("srv");
    ok(root, ["run", "-d", "-b", server.dir, sid]);
    const pid = stateOf(root, sid).pid!;
    await waitFor(() => runtime(root, ["exec", sid, "sh", "-c", "netstat -ltn | grep -q :8081"]).code === 0, "httpd to listen");
    const client = bundle(["wget", "-qO-", "http://127.0.0.1:8081/"]);
    client.config.linux!.namespaces = client.config.linux!.namespaces!.map((n) => (n.type === "network" ? { type: "network", path: `/proc/${pid}/ns/net` } : n));
    client.save();
    const r = runBundle(root, client.dir);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("shared netns\n");
  });
});

describe("spec --rootless", () => {
  test("its config runs (user namespace mapping the caller, sysfs bound)", () => {
    const b = bundle(["sh", "-c", "id -u; cat /proc/self/uid_map"]);
    rmSync(join(b.dir, "config.json"));
    const spec = Bun.spawnSync([join(import.meta.dir, "../../bin/berth-runtime"), "spec", "--rootless", "--bundle", b.dir]);
    expect(spec.exitCode).toBe(0);
    const config = JSON.parse(readFileSync(join(b.dir, "config.json"), "utf8"));
    config.process.terminal = false;
    config.process.args = ["sh", "-c", "id -u; cat /proc/self/uid_map"];
    b.config = config;
    b.save();
    const r = runBundle(root, b.dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [uid, map] = r.stdout.trim().split("\n");
    expect(uid).toBe("0");
    expect(map!.trim().split(/\s+/)).toEqual(["0", String(process.getuid!()), "1"]);
  });
});
