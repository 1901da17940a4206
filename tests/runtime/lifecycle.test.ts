// The lifecycle as runtime-spec defines it, driven through the CLI: create leaves the process
// unrun, start runs it, a stopped container stays until delete; run, run -d, list, ps, exec.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useBundles, type Bundle } from "../helpers/bundle.ts";
import { cgroupLeftovers, IS_BERTH, ok, RUNTIME, processAlive, runBundle, runtime, stateOf, uniqueId, useStateRoot, waitFor, useCleanups } from "../helpers/runtime.ts";

const root = useStateRoot();
const defer = useCleanups();

const newBundle = useBundles(defer);
const bundle = (args?: string[]): Bundle => newBundle({ args });

function hostDir(): string {
  const d = mkdtempSync(join(tmpdir(), "berth-host-"));
  defer(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function waitStatus(id: string, status: string): Promise<void> {
  await waitFor(() => stateOf(root, id).status === status, `${id} to be ${status}`);
}

describe("create and start", () => {
  test("create leaves the process unrun; start runs it; kill stops it; delete removes everything", async () => {
    const host = hostDir();
    const b = bundle(["sh", "-c", "touch /host/started; exec sleep 1000"]);
    b.config.mounts!.push({ destination: "/host", type: "bind", source: host, options: ["rbind", "rw"] });
    b.save();
    const id = uniqueId("life");

    ok(root, ["create", "--bundle", b.dir, id]);
    const created = stateOf(root, id);
    expect(created.status).toBe("created");
    expect(created.id).toBe(id);
    expect(created.bundle).toBe(b.dir);
    expect(created.pid).toBeGreaterThan(0);
    expect(processAlive(created.pid!)).toBe(true);
    // The init exists but the user's process has not run.
    await Bun.sleep(200);
    expect(existsSync(join(host, "started"))).toBe(false);

    ok(root, ["start", id]);
    await waitFor(() => existsSync(join(host, "started")), "the process to run after start");
    const running = stateOf(root, id);
    expect(running.status).toBe("running");
    expect(running.pid).toBe(created.pid);

    // start twice is an error.
    const again = runtime(root, ["start", id]);
    expect(again.code).not.toBe(0);

    ok(root, ["kill", id, "KILL"]);
    await waitStatus(id, "stopped");
    expect(processAlive(created.pid!)).toBe(false);
    // A stopped container stays until delete.
    expect(stateOf(root, id).status).toBe("stopped");

    ok(root, ["delete", id]);
    expect(runtime(root, ["state", id]).code).not.toBe(0);
    expect(existsSync(join(root, id))).toBe(false);
    expect(cgroupLeftovers(id)).toEqual([]);
  });

  test.if(IS_BERTH)("when start returns, the user's program has been exec'd", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("execd");
    ok(root, ["create", "-b", b.dir, id]);
    const pid = stateOf(root, id).pid!;
    ok(root, ["start", id]);
    // The exe link is shown relative to the process's root: the rootfs's busybox, no longer berth-init.
    expect(readlinkSync(`/proc/${pid}/exe`)).toBe("/bin/busybox");
  });

  test("--pid-file relative to the caller's cwd", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("relpid");
    ok(root, ["create", "--pid-file", "init.pid", "-b", b.dir, id], { cwd: b.dir });
    expect(Number(readFileSync(join(b.dir, "init.pid"), "utf8"))).toBe(stateOf(root, id).pid!);
  });

  test("list -q prints the IDs", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("lsq");
    ok(root, ["create", "-b", b.dir, id]);
    expect(ok(root, ["list", "-q"]).stdout.split("\n")).toContain(id);
  });

  test("--pid-file holds the init's pid", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("pidf");
    const pidFile = join(b.dir, "pid");
    ok(root, ["create", "--bundle", b.dir, "--pid-file", pidFile, id]);
    expect(Number(Bun.file(pidFile).size) > 0).toBe(true);
    expect(Number(readFileSync(pidFile, "utf8"))).toBe(stateOf(root, id).pid!);
    ok(root, ["delete", "--force", id]);
  });

  test("delete refuses a running container without --force, and --force kills it", async () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("del");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const pid = stateOf(root, id).pid!;
    const refused = runtime(root, ["delete", id]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/running|stop/i);
    expect(processAlive(pid)).toBe(true);
    ok(root, ["delete", "--force", id]);
    expect(processAlive(pid)).toBe(false);
    expect(existsSync(join(root, id))).toBe(false);
    expect(cgroupLeftovers(id)).toEqual([]);
  });

  test("delete of a created (never started) container kills its init", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("cdel");
    ok(root, ["create", "-b", b.dir, id]);
    const pid = stateOf(root, id).pid!;
    ok(root, ["delete", "--force", id]);
    expect(processAlive(pid)).toBe(false);
    expect(cgroupLeftovers(id)).toEqual([]);
  });
});

describe("run", () => {
  test("foreground run prints the output and propagates the exit status", () => {
    const b = bundle(["sh", "-c", "echo out; echo err >&2; exit 42"]);
    const id = uniqueId("fg");
    const r = runBundle(root, b.dir, { id });
    expect(r.code).toBe(42);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toContain("err\n");
    // run without --keep deletes the container when it exits.
    expect(runtime(root, ["state", id]).code).not.toBe(0);
    expect(cgroupLeftovers(id)).toEqual([]);
  });

  test("foreground run: exit 0, and a death by signal is 128+N", async () => {
    expect(runBundle(root, bundle(["true"]).dir).code).toBe(0);
    // PID 1 ignores signals it has no handler for, even its own SIGKILL: kill it from the host.
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("sig");
    const fg = Bun.spawn([RUNTIME, "--root", root, "run", "-b", b.dir, id], { stdio: ["ignore", "ignore", "ignore"] });
    try {
      await waitFor(() => runtime(root, ["state", id]).stdout.includes('"running"'), "the container to run");
      ok(root, ["kill", id, "KILL"]);
      expect(await fg.exited).toBe(137);
    } finally {
      fg.kill(9);
    }
  });

  test("foreground run passes stdin through", () => {
    const r = runBundle(root, bundle(["sh", "-c", "read line; echo got:$line"]).dir, { stdin: "hello\n" });
    expect(r.stdout).toBe("got:hello\n");
    expect(r.code).toBe(0);
  });

  test("run -d returns at once and leaves the container running", async () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("det");
    const r = runtime(root, ["run", "-d", "-b", b.dir, id]);
    expect(r.code).toBe(0);
    const s = stateOf(root, id);
    expect(s.status).toBe("running");
    expect(processAlive(s.pid!)).toBe(true);
    ok(root, ["kill", id, "9"]);
    await waitStatus(id, "stopped");
    ok(root, ["delete", id]);
  });
});

describe("kill", () => {
  test("a signal by name reaches a process that handles it", async () => {
    const host = hostDir();
    const b = bundle(["sh", "-c", `trap "echo got-term > /host/term; exit 0" TERM; touch /host/ready; while :; do sleep 0.1; done`]);
    b.config.mounts!.push({ destination: "/host", type: "bind", source: host, options: ["rbind", "rw"] });
    b.save();
    const id = uniqueId("term");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    await waitFor(() => existsSync(join(host, "ready")), "the trap to be set");
    ok(root, ["kill", id, "TERM"]);
    await waitStatus(id, "stopped");
    expect(readFileSync(join(host, "term"), "utf8")).toBe("got-term\n");
  });

  test("kill --all signals every process of the container", async () => {
    const b = bundle(["sh", "-c", "sleep 1000 & sleep 1001 & wait"]);
    const id = uniqueId("killall");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    let pids: number[] = [];
    await waitFor(() => (pids = JSON.parse(ok(root, ["ps", "--format", "json", id]).stdout) as number[]).length === 3, "three processes");
    ok(root, ["kill", "--all", id, "KILL"]);
    await waitFor(() => pids.every((p) => !processAlive(p)), "every process to die");
    await waitStatus(id, "stopped");
  });

  test("kill ID 0 probes a running container without signalling it (as runc does)", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("kill0");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const r = runtime(root, ["kill", id, "0"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(stateOf(root, id).status).toBe("running");
  });

  test("kill with an unknown signal fails and names it", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("killbad");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const r = runtime(root, ["kill", id, "SIGBOGUS"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("SIGBOGUS");
    expect(stateOf(root, id).status).toBe("running");
  });

  test("kill of a stopped container fails", async () => {
    const b = bundle(["true"]);
    const id = uniqueId("killstop");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    await waitStatus(id, "stopped");
    const r = runtime(root, ["kill", id, "KILL"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not running|stopped/);
  });
});

describe("global flags and features", () => {
  test("--log FILE --log-format json records errors as JSON lines", () => {
    const log = join(hostDir(), "log.json");
    const r = runtime(root, ["--log", log, "--log-format", "json", "state", "no-such-container"]);
    expect(r.code).not.toBe(0);
    const lines = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(lines.some((l) => l.level === "error" && /not exist/.test(l.msg))).toBe(true);
  });

  test("features lists hooks, namespaces and the spec versions", () => {
    const f = JSON.parse(ok(root, ["features"]).stdout) as { ociVersionMin: string; ociVersionMax: string; hooks?: string[]; linux?: { namespaces?: string[] } };
    expect(f.ociVersionMin).toMatch(/^1\./);
    expect(f.ociVersionMax).toMatch(/^1\./);
    if (IS_BERTH) {
      expect(f.hooks).toEqual(expect.arrayContaining(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]));
      expect(f.linux?.namespaces).toEqual(expect.arrayContaining(["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]));
    }
  });
});

describe("list, ps, exec", () => {
  test("list as a table and as JSON", () => {
    const b = bundle(["sleep", "1000"]);
    const a = uniqueId("lsa"), c = uniqueId("lsc");
    ok(root, ["run", "-d", "-b", b.dir, a]);
    ok(root, ["create", "-b", b.dir, c]);
    const table = ok(root, ["list"]).stdout.trim().split("\n");
    expect(table[0]!.split(/\s+/).slice(0, 4)).toEqual(["ID", "PID", "STATUS", "BUNDLE"]);
    const rowA = table.find((l) => l.startsWith(a + " "))!.split(/\s+/);
    expect(rowA[1]).toBe(String(stateOf(root, a).pid));
    expect(rowA[2]).toBe("running");
    expect(rowA[3]).toBe(b.dir);
    expect(table.find((l) => l.startsWith(c + " "))!.split(/\s+/)[2]).toBe("created");

    const json = JSON.parse(ok(root, ["list", "--format", "json"]).stdout) as { id: string; status: string; pid: number; bundle: string }[];
    const byId = new Map(json.map((s) => [s.id, s]));
    expect(byId.get(a)?.status).toBe("running");
    expect(byId.get(a)?.bundle).toBe(b.dir);
    expect(byId.get(c)?.status).toBe("created");
  });

  test("ps lists the container's processes (table and JSON)", async () => {
    const b = bundle(["sh", "-c", "sleep 1000 & exec sleep 1001"]);
    const id = uniqueId("ps");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const pid = stateOf(root, id).pid!;
    let pids: number[] = [];
    await waitFor(() => (pids = JSON.parse(ok(root, ["ps", "--format", "json", id]).stdout) as number[]).length === 2, "both processes");
    expect(pids).toContain(pid);
    const table = ok(root, ["ps", id]).stdout;
    expect(table).toContain(String(pid));
    expect(table).toContain("sleep 1001");
  });

  test("exec runs in the container; its exit status propagates; a missing command or container gives an error and 255 (runc's)", () => {
    const b = bundle(["sleep", "1000"]);
    b.config.hostname = "exec-test";
    b.save();
    const id = uniqueId("exec");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const r = runtime(root, ["exec", id, "hostname"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("exec-test\n");
    expect(runtime(root, ["exec", id, "sh", "-c", "exit 7"]).code).toBe(7);
    // Flags after the command belong to the command.
    expect(runtime(root, ["exec", id, "sh", "-c", "echo $0 $1", "-x", "--y"]).stdout).toBe("-x --y\n");

    const missing = runtime(root, ["exec", id, "no-such-command"]);
    expect(missing.stderr).toContain("no-such-command");
    // runc's exec (and so berth-runtime's) exits 255 when it cannot run the process; runc's
    // integration suite checks it (exec.bats "exit codes"). berth exec gives docker's 127.
    expect(missing.code).toBe(255);
    if (IS_BERTH) expect(missing.stderr.trim().split("\n").length).toBe(1);
    expect(runtime(root, ["exec", "no-such-container", "true"]).code).toBe(255);
  });

  test("exec --env, --cwd, --user, -d, --pid-file", async () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("exo");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    expect(ok(root, ["exec", "--env", "FOO=bar", id, "sh", "-c", "echo $FOO"]).stdout).toBe("bar\n");
    expect(ok(root, ["exec", "--cwd", "/etc", id, "pwd"]).stdout).toBe("/etc\n");
    expect(ok(root, ["exec", "--user", "65534:65534", id, "id"]).stdout).toMatch(/^uid=65534\S* gid=65534/);
    const pidFile = join(b.dir, "exec.pid");
    ok(root, ["exec", "-d", "--pid-file", pidFile, id, "sleep", "999"]);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(processAlive(pid)).toBe(true);
    expect(JSON.parse(ok(root, ["ps", "--format", "json", id]).stdout)).toContain(pid);
  });

  test("exec --process FILE", () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("exp");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const file = join(b.dir, "process.json");
    writeFileSync(file, JSON.stringify({ args: ["sh", "-c", "echo $A; pwd; exit 3"], env: ["A=from-file", "PATH=/bin"], cwd: "/tmp", user: { uid: 0, gid: 0 } }));
    const r = runtime(root, ["exec", "--process", file, id]);
    expect(r.stdout).toBe("from-file\n/tmp\n");
    expect(r.code).toBe(3);
    // A NUL byte is named by field, not found deep in the plan encoding.
    writeFileSync(file, JSON.stringify({ args: ["echo", "a\0b"], cwd: "/", user: { uid: 0, gid: 0 } }));
    const nul = runtime(root, ["exec", "--process", file, id]);
    expect(nul.code).not.toBe(0);
    if (IS_BERTH) expect(nul.stderr).toMatch(/"process.args\[1\]" contains a NUL byte/);
  });

  test("exec into a stopped container fails", async () => {
    const b = bundle(["true"]);
    const id = uniqueId("exs");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    await waitStatus(id, "stopped");
    const r = runtime(root, ["exec", id, "true"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.length).toBeGreaterThan(0);
  });

  test("pause and resume", async () => {
    const b = bundle(["sleep", "1000"]);
    const id = uniqueId("pau");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    ok(root, ["pause", id]);
    expect(stateOf(root, id).status).toBe("paused");
    ok(root, ["resume", id]);
    expect(stateOf(root, id).status).toBe("running");
  });
});

describe("the README flow", () => {
  test("spec, edit args and terminal, run -d, state, ps, exec ps, HTTP inside, kill, delete", async () => {
    const dir = hostDir();
    // The rootfs the README builds from busybox: reuse the helper's, then start from a fresh `spec`.
    const b = bundle();
    Bun.spawnSync(["cp", "-a", b.rootfs, join(dir, "rootfs")]);
    writeFileSync(join(dir, "rootfs/index.html"), "hello from berth\n");
    const id = uniqueId("demo");
    // `spec` writes config.json in the current directory (berth's spec: the file under test).
    expect(Bun.spawnSync([join(import.meta.dir, "../../bin/berth-runtime"), "spec"], { cwd: dir }).exitCode).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    config.process.args = ["busybox", "httpd", "-f", "-p", "8080"];
    config.process.terminal = false;
    writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, "\t"));

    ok(root, ["run", "-d", id], { cwd: dir });
    const s = stateOf(root, id);
    expect(s.status).toBe("running");
    expect(s.bundle).toBe(dir);
    expect(ok(root, ["ps", id]).stdout).toContain("httpd");
    const inside = ok(root, ["exec", id, "ps"]).stdout;
    expect(inside).toMatch(/^\s*1\s+\S+\s+.*httpd -f -p 8080/m);

    // HTTP only inside the container's own network namespace.
    await waitFor(() => runtime(root, ["exec", id, "sh", "-c", "netstat -ltn | grep -q :8080"]).code === 0, "httpd to listen");
    const page = runtime(root, ["exec", id, "wget", "-qO-", "http://127.0.0.1:8080/"]);
    expect(page.stderr).toBe("");
    expect(page.stdout).toBe("hello from berth\n");

    // SIGTERM (kill's default) is accepted; httpd as PID 1 has no handler, so the kernel drops it
    // (runc behaves the same); KILL stops it.
    expect(runtime(root, ["kill", id]).code).toBe(0);
    ok(root, ["kill", id, "KILL"]);
    await waitStatus(id, "stopped");
    ok(root, ["delete", id]);
    expect(runtime(root, ["state", id]).code).not.toBe(0);
    expect(cgroupLeftovers(id)).toEqual([]);
  });
});
