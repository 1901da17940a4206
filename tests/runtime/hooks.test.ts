// Hooks: all six stages, in order, each with the container state as JSON on stdin; env and
// args; timeouts; what a failing hook does at each stage.
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hook, Hooks } from "../../src/oci/spec.ts";
import { makeBusyboxBundle, type Bundle } from "../helpers/bundle.ts";
import { cgroupLeftovers, IS_BERTH, ok, processAlive, runtime, stateOf, uniqueId, useStateRoot, waitFor, useCleanups } from "../helpers/runtime.ts";

const root = useStateRoot();
const defer = useCleanups();

/**
 * A host dir for the hook log, bind-mounted into the container at the same path: createContainer
 * and startContainer hooks may resolve paths in the container, the others on the host.
 */
function setup(args: string[] = ["sleep", "1000"]): { b: Bundle; dir: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), "berth-hooks-"));
  chmodSync(dir, 0o777);
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const b = makeBusyboxBundle({ args });
  defer(() => b.cleanup());
  b.config.mounts!.push({ destination: dir, type: "bind", source: dir, options: ["rbind", "rw"] });
  return { b, dir, log: join(dir, "log") };
}

/** A /bin/sh hook that appends "STAGE <stdin>" as one line to the log. */
function logHook(stage: string, log: string, extra: Partial<Hook> = {}): Hook {
  return { path: "/bin/sh", args: ["sh", "-c", `printf '%s %s\\n' "${stage}" "$(cat)" >> ${log}`], ...extra };
}

/** Host pids whose command line contains `needle` (NUL-separated argv). */
function pidsRunning(needle: string): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(needle) && processAlive(Number(p));
    } catch {
      return false;
    }
  }).map(Number);
}

interface Entry { stage: string; state: { ociVersion: string; id: string; status: string; pid?: number; bundle: string; annotations?: Record<string, string> } }
function entries(log: string): Entry[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => {
    const sp = l.indexOf(" ");
    return { stage: l.slice(0, sp), state: JSON.parse(l.slice(sp + 1)) };
  });
}

describe("hooks", () => {
  test("all six stages run in order, each with the state on stdin", async () => {
    const { b, log } = setup();
    const stages = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"] as const;
    b.config.hooks = Object.fromEntries(stages.map((s) => [s, [logHook(s, log)]])) as Hooks;
    b.config.annotations = { "org.example.k": "v" };
    b.save();
    const id = uniqueId("hooks");

    ok(root, ["create", "-b", b.dir, id]);
    const pid = stateOf(root, id).pid!;
    // prestart and createRuntime run during create (in the runtime's namespaces), createContainer too.
    expect(entries(log).map((e) => e.stage)).toEqual(["prestart", "createRuntime", "createContainer"]);
    ok(root, ["start", id]);
    await waitFor(() => entries(log).length >= 5, "startContainer and poststart hooks");
    expect(entries(log).map((e) => e.stage)).toEqual(["prestart", "createRuntime", "createContainer", "startContainer", "poststart"]);
    ok(root, ["kill", id, "KILL"]);
    await waitFor(() => stateOf(root, id).status === "stopped", "the container to stop");
    ok(root, ["delete", id]);
    const all = entries(log);
    expect(all.map((e) => e.stage)).toEqual([...stages]);

    for (const e of all) {
      expect(e.state.id).toBe(id);
      expect(e.state.bundle).toBe(b.dir);
      expect(e.state.ociVersion).toMatch(/^1\.\d+\.\d+/);
      expect(e.state.annotations).toEqual({ "org.example.k": "v" });
      expect(["creating", "created", "running", "stopped"]).toContain(e.state.status);
    }
    for (const e of all.filter((e) => e.stage !== "poststop")) expect(e.state.pid).toBe(pid);
    const status = Object.fromEntries(all.map((e) => [e.stage, e.state.status]));
    expect(status.poststart).toBe("running");
    expect(status.poststop).toBe("stopped");
  });

  test("createContainer runs in the container's namespaces, prestart/createRuntime in the runtime's", () => {
    const { b, dir } = setup();
    const ns = (stage: string): Hook => ({ path: "/bin/sh", args: ["sh", "-c", `readlink /proc/self/ns/uts > ${dir}/${stage}; hostname >> ${dir}/${stage}`] });
    b.config.hostname = "hooked";
    b.config.hooks = { createRuntime: [ns("createRuntime")], createContainer: [ns("createContainer")], startContainer: [ns("startContainer")] };
    b.save();
    const id = uniqueId("hookns");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const pid = stateOf(root, id).pid!;
    const containerUts = readlinkSync(`/proc/${pid}/ns/uts`);
    const hostUts = readlinkSync("/proc/self/ns/uts");
    const read = (s: string) => readFileSync(join(dir, s), "utf8").trim().split("\n");
    expect(read("createRuntime")[0]).toBe(hostUts);
    // (Whether the hostname is set yet when createContainer runs, the spec does not say.)
    expect(read("createContainer")[0]).toBe(containerUts);
    expect(read("startContainer")).toEqual([containerUts, "hooked"]);
  });

  test("a hook's args and env are its own", () => {
    const { b, dir } = setup();
    b.config.hooks = {
      createRuntime: [{ path: "/bin/sh", args: ["my-name", "-c", `echo "$0 $FOO $PATH" > ${dir}/out; /usr/bin/tr "\\0" , < /proc/$$/cmdline >> ${dir}/out`, "arg1"], env: ["FOO=bar", "PATH=/custom"] }],
    };
    b.save();
    ok(root, ["create", "-b", b.dir, uniqueId("hookenv")]);
    // sh -c: $0 is the first argument after the script; argv[0] is the hook's args[0].
    const [vars, argv] = readFileSync(join(dir, "out"), "utf8").split("\n");
    expect(vars).toBe("arg1 bar /custom");
    expect(argv!.split(",")[0]).toBe("my-name");
    expect(argv!.split(",").at(-2)).toBe("arg1");
  });

  test("a failing createRuntime hook fails create and leaves nothing behind", () => {
    const { b } = setup();
    b.config.hooks = { createRuntime: [{ path: "/bin/sh", args: ["sh", "-c", "echo hook-said-no >&2; exit 3"] }] };
    b.save();
    const id = uniqueId("hookfail");
    const r = runtime(root, ["create", "-b", b.dir, id]);
    expect(r.code).not.toBe(0);
    if (IS_BERTH) expect(r.stderr).toContain("createRuntime");
    expect(runtime(root, ["state", id]).code).not.toBe(0);
    expect(existsSync(join(root, id))).toBe(false);
    expect(cgroupLeftovers(id)).toEqual([]);
  });

  for (const stage of ["prestart", "createRuntime", "createContainer"] as const) {
    test(`a ${stage} hook that outlives its timeout is killed and create fails cleanly`, async () => {
      const { b, dir } = setup();
      // A unique sleep to find on the host (a createContainer hook's $$ is a pid in the container's namespace).
      const marker = `${600 + Math.floor(Math.random() * 1000)}.${process.pid}`;
      b.config.hooks = { [stage]: [{ path: "/bin/sh", args: ["sh", "-c", `touch ${dir}/ran; exec sleep ${marker}`], timeout: 1 }] };
      b.save();
      const id = uniqueId("hookto");
      const r = runtime(root, ["create", "-b", b.dir, id], { timeoutMs: 30_000 });
      expect(existsSync(join(dir, "ran"))).toBe(true);
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBe(-1); // the runtime answered; our guard did not have to kill it
      if (IS_BERTH) expect(r.stderr).toMatch(/timed out|timeout/i);
      await waitFor(() => pidsRunning(`sleep\0${marker}`).length === 0, "the hook to be gone", 5_000);
      expect(existsSync(join(root, id))).toBe(false);
      expect(cgroupLeftovers(id)).toEqual([]);
    });
  }

  test("a hook that does not read its stdin (and a state bigger than a pipe buffer) is fine", () => {
    const { b } = setup();
    b.config.annotations = { big: "x".repeat(200_000) };
    b.config.hooks = { prestart: [{ path: "/bin/true" }], createRuntime: [{ path: "/bin/sh", args: ["sh", "-c", "exit 0"] }] };
    b.save();
    const id = uniqueId("hookstdin");
    const r = runtime(root, ["create", "-b", b.dir, id]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(stateOf(root, id).status).toBe("created");
  });

  test("a failing createRuntime hook: create fails, and the poststop hooks still run (runtime-spec step 12)", () => {
    const { b, log } = setup();
    b.config.hooks = {
      createRuntime: [{ path: "/bin/sh", args: ["sh", "-c", "exit 1"] }],
      poststop: [logHook("poststop", log)],
    };
    b.save();
    const id = uniqueId("hookstop");
    expect(runtime(root, ["create", "-b", b.dir, id]).code).not.toBe(0);
    expect(entries(log).map((e) => e.stage)).toEqual(["poststop"]);
    expect(existsSync(join(root, id))).toBe(false);
  });

  test("a failing startContainer hook: start fails, the process never runs, the container stops", async () => {
    const { b, dir } = setup(["sh", "-c", "touch /ran; sleep 1000"]);
    b.config.root!.readonly = false;
    b.config.hooks = { startContainer: [{ path: "/bin/sh", args: ["sh", "-c", "exit 1"] }] };
    b.save();
    const id = uniqueId("hookstart");
    ok(root, ["create", "-b", b.dir, id]);
    const r = runtime(root, ["start", id]);
    await waitFor(() => stateOf(root, id).status === "stopped", "the container to stop");
    expect(existsSync(join(b.rootfs, "ran"))).toBe(false);
    expect(existsSync(join(dir, "never"))).toBe(false);
    // "MUST generate an error": start is the command that ran the hook.
    expect(r.code).not.toBe(0);
  });

  test("a hook that does not exist fails create with its path and leaves nothing", () => {
    const { b } = setup();
    b.config.hooks = { createRuntime: [{ path: "/no/such/hook" }] };
    b.save();
    const id = uniqueId("hooknone");
    const r = runtime(root, ["create", "-b", b.dir, id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("/no/such/hook");
    expect(existsSync(join(root, id))).toBe(false);
    expect(cgroupLeftovers(id)).toEqual([]);
  });

  test("a failing poststart hook fails start and kills the process (runc 1.2); a failing poststop hook is a warning", async () => {
    const { b } = setup();
    b.config.hooks = {
      poststart: [{ path: "/bin/sh", args: ["sh", "-c", "exit 1"] }],
      poststop: [{ path: "/bin/sh", args: ["sh", "-c", "exit 1"] }],
    };
    b.save();
    const id = uniqueId("hookwarn");
    ok(root, ["create", "-b", b.dir, id]);
    const start = runtime(root, ["start", id]);
    expect(start.code).not.toBe(0);
    expect(start.stderr).toContain("error running poststart hook #0: error running hook /bin/sh: exit status 1");
    await waitFor(() => stateOf(root, id).status === "stopped", "stop");
    expect(runtime(root, ["delete", id]).code).toBe(0);
    expect(existsSync(join(root, id))).toBe(false);
  });

  test("a poststop hook past its timeout is killed; delete still completes", async () => {
    const { b, dir } = setup();
    const marker = `${600 + Math.floor(Math.random() * 1000)}.${process.pid}`;
    b.config.hooks = { poststop: [{ path: "/bin/sh", args: ["sh", "-c", `touch ${dir}/ran; exec sleep ${marker}`], timeout: 1 }] };
    b.save();
    const id = uniqueId("hookpsto");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const r = runtime(root, ["delete", "--force", id], { timeoutMs: 30_000 });
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, "ran"))).toBe(true);
    await waitFor(() => pidsRunning(`sleep\0${marker}`).length === 0, "the hook to be gone", 5_000);
    expect(existsSync(join(root, id))).toBe(false);
  });

  test("a poststop hook runs on delete --force of a running container", () => {
    const { b, log } = setup();
    b.config.hooks = { poststop: [logHook("poststop", log)] };
    b.save();
    const id = uniqueId("hookforce");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    ok(root, ["delete", "--force", id]);
    expect(entries(log).map((e) => e.stage)).toEqual(["poststop"]);
  });

  test("hooks of a foreground run", () => {
    const { b, log } = setup(["true"]);
    b.config.hooks = { poststart: [logHook("poststart", log)], poststop: [logHook("poststop", log)] };
    b.save();
    const r = runtime(root, ["run", "-b", b.dir, uniqueId("hookfg")]);
    expect(r.code).toBe(0);
    expect(entries(log).map((e) => e.stage)).toEqual(["poststart", "poststop"]);
  });

});
