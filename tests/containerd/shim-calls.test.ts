// The runtime calls containerd's runc v2 shim makes, one by one, with the words the shim matches:
// errors reach `--log FILE --log-format json` as JSON lines (the shim shows the last one's msg to
// the user, and matches "does not exist" / "container not running" in them), exec --process
// --detach --pid-file, update --resources -, ps --format json, kill --all, delete --force,
// features, checkpoint, --systemd-cgroup. BERTH_TEST_RUNTIME=runc runs the same expectations
// against runc (the berth-only ones are marked).
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { useBundles } from "../helpers/bundle.ts";
import { IS_BERTH, cgroupLeftovers, ok, processAlive, runtime, stateOf, uniqueId, useCleanups, useStateRoot, waitFor } from "../helpers/runtime.ts";

const root = useStateRoot();
const defer = useCleanups();
const bundle = useBundles(defer);

/** The JSON lines of a --log file; each must parse. */
function logLines(file: string): { level: string; msg: string; time: string }[] {
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

function logged(b: { dir: string }, args: string[], stdin?: string) {
  const file = join(b.dir, `log-${uniqueId()}.json`);
  const r = runtime(root, ["--log", file, "--log-format", "json", ...args], { stdin });
  return { ...r, log: existsSync(file) ? logLines(file) : [] };
}

/** A detached container running `sleep 1000`. */
function running(): { id: string; b: ReturnType<typeof bundle>; pid: number } {
  const b = bundle({ args: ["sleep", "1000"] });
  b.config.process!.terminal = false;
  b.save();
  const id = uniqueId("shim");
  ok(root, ["create", "--bundle", b.dir, "--pid-file", join(b.dir, "init.pid"), id]);
  ok(root, ["start", id]);
  return { id, b, pid: Number(readFileSync(join(b.dir, "init.pid"), "utf8")) };
}

describe("errors as the shim reads them", () => {
  test("a missing container: 'does not exist' in a JSON log line, exit 1", () => {
    const b = bundle();
    for (const args of [["kill", "nope", "KILL"], ["delete", "nope"], ["state", "nope"]]) {
      const r = logged(b, args);
      expect(r.code).toBe(1);
      const errors = r.log.filter((l) => l.level === "error");
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.at(-1)!.msg).toContain("does not exist");
      expect(typeof errors.at(-1)!.time).toBe("string");
    }
  });

  test("kill of a stopped container: 'container not running' (the shim then reports 'process already finished')", async () => {
    const b = bundle({ args: ["true"] });
    b.config.process!.terminal = false;
    b.save();
    const id = uniqueId("shim");
    ok(root, ["create", "--bundle", b.dir, id]);
    ok(root, ["start", id]);
    await waitFor(() => stateOf(root, id).status === "stopped", "the container to stop");
    const r = logged(b, ["kill", id, "KILL"]);
    expect(r.code).toBe(1);
    expect(r.log.filter((l) => l.level === "error").at(-1)!.msg).toContain("container not running");
    ok(root, ["delete", id]);
  });

  test.if(IS_BERTH)("checkpoint and restore say they are not supported", () => {
    const b = bundle();
    for (const verb of ["checkpoint", "restore"]) {
      const r = logged(b, [verb, "--image-path", "/tmp/x", "c1"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${verb} is not supported`);
      expect(r.log.at(-1)!.msg).toContain(`${verb} is not supported`);
    }
  });
});

describe("what the shim calls on a running container", () => {
  test("exec --process FILE --detach --pid-file: the process runs, its pid is written", async () => {
    const { id, b } = running();
    const proc = { ...b.config.process!, args: ["sleep", "1001"], terminal: false };
    writeFileSync(join(b.dir, "process.json"), JSON.stringify(proc));
    const pidFile = join(b.dir, "exec.pid");
    ok(root, ["exec", "--process", join(b.dir, "process.json"), "--detach", "--pid-file", pidFile, id]);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(processAlive(pid)).toBe(true);
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toBe("sleep\u00001001\u0000");
    expect(JSON.parse(ok(root, ["ps", "--format", "json", id]).stdout)).toContain(pid);
  });

  test("an exec'd process's exit status is exec's", () => {
    const { id } = running();
    expect(runtime(root, ["exec", id, "sh", "-c", "exit 7"]).code).toBe(7);
  });

  test("ps --format json: the container's pids; kill --all reaches every process", async () => {
    const { id, pid } = running();
    const exec = runtime(root, ["exec", "-d", id, "sleep", "999"]);
    expect(exec.code).toBe(0);
    let pids: number[] = [];
    await waitFor(() => (pids = JSON.parse(ok(root, ["ps", "--format", "json", id]).stdout) as number[]).length === 2, "two processes in ps");
    expect(pids).toContain(pid);
    ok(root, ["kill", "--all", id, "KILL"]);
    await waitFor(() => pids.every((p) => !processAlive(p)), "every process to die");
    await waitFor(() => stateOf(root, id).status === "stopped", "the container to stop");
    ok(root, ["delete", id]);
    expect(cgroupLeftovers(id)).toEqual([]);
  });

  test("update --resources - reads the resources as JSON from stdin", () => {
    const { id } = running();
    const r = runtime(root, ["update", "--resources", "-", id], { stdin: JSON.stringify({ pids: { limit: 42 } }) });
    expect(r.code).toBe(0);
    const dirs = cgroupLeftovers(id).filter((d) => existsSync(join(d, "pids.max")));
    expect(dirs.length).toBeGreaterThan(0);
    expect(readFileSync(join(dirs[0]!, "pids.max"), "utf8").trim()).toBe("42");
    const bad = logged({ dir: root }, ["update", "--resources", "-", id], "{not json");
    expect(bad.code).not.toBe(0);
    expect(bad.log.at(-1)!.level).toBe("error");
  });

  test("delete --force stops a running container and removes it", async () => {
    const { id, pid } = running();
    ok(root, ["delete", "--force", id]);
    await waitFor(() => !processAlive(pid), "the init to die");
    expect(runtime(root, ["state", id]).code).not.toBe(0);
    expect(cgroupLeftovers(id)).toEqual([]);
  });
});

describe("features and --systemd-cgroup", () => {
  test("features: JSON with the OCI version range and the mount options", () => {
    const f = JSON.parse(ok(root, ["features"]).stdout) as { ociVersionMin: string; ociVersionMax: string; mountOptions: string[] };
    expect(f.ociVersionMin).toMatch(/^1\.0\./);
    expect(f.ociVersionMax).toMatch(/^1\./);
    expect(f.mountOptions).toContain("rbind");
  });

  test("--systemd-cgroup: a path not in slice:prefix:name form is refused in runc's words", () => {
    const b = bundle({ args: ["true"] });
    b.config.process!.terminal = false;
    b.config.linux!.cgroupsPath = "/berth/x";
    b.save();
    const r = runtime(root, ["--systemd-cgroup", "create", "--bundle", b.dir, uniqueId("sd")]);
    expect(r.code).toBe(1);
    // (runc's text log escapes the quotes)
    expect(r.stderr.replace(/\\"/g, '"')).toContain('expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/berth/x" instead');
  });

  test.if(!existsSync("/run/systemd/system"))("--systemd-cgroup without systemd: runc's error, nothing left behind", () => {
    const b = bundle({ args: ["true"] });
    b.config.process!.terminal = false;
    b.config.linux!.cgroupsPath = "system.slice:berth:c1";
    b.save();
    const id = uniqueId("sd");
    const r = runtime(root, ["--systemd-cgroup", "create", "--bundle", b.dir, id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("systemd not running on this host, cannot use systemd cgroups manager");
    expect(runtime(root, ["state", id]).code).not.toBe(0);
    expect(existsSync("/sys/fs/cgroup/pids/system.slice/berth-c1.scope")).toBe(false);
  });
});

test("exec --process: a process without user runs as 0:0, as with runc", () => {
  const { id, b } = running();
  writeFileSync(join(b.dir, "p.json"), JSON.stringify({ args: ["id", "-u"], cwd: "/", terminal: false, env: ["PATH=/bin:/usr/bin"] }));
  const r = runtime(root, ["exec", "--process", join(b.dir, "p.json"), id]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("0\n");
  writeFileSync(join(b.dir, "bad.json"), JSON.stringify({ args: ["true"] }));
  expect(runtime(root, ["exec", "--process", join(b.dir, "bad.json"), id]).code).not.toBe(0);
});
