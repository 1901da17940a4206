// The new user's flow from issue 6, end to end through bin/berth with a busybox image imported by
// the image store: run --rm, run -d with a memory limit, ps, logs, exec, stats, stop, rm — and
// nothing left behind (mounts, cgroups, processes).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { berth, cgroupsOf, cleanupRoot, engineRoot, eventually, mountsUnder, processesUnder } from "./helpers.ts";

let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => cleanupRoot(root));

describe("new user flow", () => {
  test("run --rm busybox echo hi prints hi, exits 0 and leaves no container", () => {
    const r = berth(root, ["run", "--rm", "--network", "none", "busybox", "echo", "hi"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hi\n");
    expect(r.code).toBe(0);
    expect(berth(root, ["ps", "-aq"]).stdout).toBe("");
    expect(mountsUnder(root)).toEqual([]);
  }, 180_000);

  test("the container's own exit code comes back", () => {
    expect(berth(root, ["run", "--rm", "--network", "none", "busybox", "sh", "-c", "exit 3"]).code).toBe(3);
    const r = berth(root, ["run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2"]);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toBe("err\n");
  }, 180_000);

  test("run -d web -m 64m httpd; ps, logs, exec, stats, stop, rm", async () => {
    const run = berth(root, ["run", "-d", "--name", "web", "-m", "64m", "--network", "none", "busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/var/www"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const id = run.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);

    const ps = berth(root, ["ps"]);
    expect(ps.code).toBe(0);
    expect(ps.stdout).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES\n/);
    expect(ps.stdout).toContain(id.slice(0, 12));
    expect(ps.stdout).toMatch(/Up .*web/);

    // The page, fetched from inside the container; httpd -v logs the request to stderr.
    const page = berth(root, ["exec", "web", "wget", "-qO-", "http://127.0.0.1:8080/"]);
    expect(page.code).toBe(0);
    expect(page.stdout).toBe("hello from berth\n");
    expect(await eventually(() => berth(root, ["logs", "web"]).stderr.includes("response:200"))).toBe(true);
    const tail = berth(root, ["logs", "--tail", "1", "-t", "web"]);
    expect(tail.stderr).toMatch(/^\d{4}-\d\d-\d\dT\S+Z .*response:200\n$/);

    // exec: exit codes and a missing command
    expect(berth(root, ["exec", "web", "sh", "-c", "exit 4"]).code).toBe(4);
    const missing = berth(root, ["exec", "web", "nosuchcmd"]);
    expect(missing.code).toBe(127);
    expect(berth(root, ["exec", "-e", "A=b", "-w", "/tmp", "web", "sh", "-c", "echo $A $(pwd)"]).stdout).toBe("b /tmp\n");
    expect(berth(root, ["exec", "-u", "www", "web", "id", "-u"]).stdout).toBe("33\n");

    const stats = berth(root, ["stats", "--no-stream"]);
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS\n/);
    expect(stats.stdout).toMatch(/web\s+\d+\.\d\d%\s+\S+ \/ 64MiB\s+\d+\.\d\d%/);

    const inspect = JSON.parse(berth(root, ["inspect", "web"]).stdout);
    expect(inspect[0].Id).toBe(id);
    expect(inspect[0].HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(inspect[0].State.Running).toBe(true);
    const pid = inspect[0].State.Pid as number;
    expect(pid).toBeGreaterThan(1);

    expect(berth(root, ["top", "web"]).stdout).toContain("httpd -f -v -p 8080");

    const stop = berth(root, ["stop", "-t", "1", "web"]);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toBe("web\n");
    expect(berth(root, ["ps", "-a", "--format", "{{.Names}} {{.State}}"]).stdout).toBe("web exited\n");
    expect(mountsUnder(root)).toEqual([]);

    expect(berth(root, ["rm", "web"]).code).toBe(0);
    expect(berth(root, ["ps", "-aq"]).stdout).toBe("");
    expect(cgroupsOf([id])).toEqual([]);
    expect(mountsUnder(root)).toEqual([]);
    expect(await eventually(() => processesUnder(root).length === 0)).toBe(true);
  }, 180_000);

  test("create, start, wait, logs, rm; names and ID prefixes", () => {
    const c = berth(root, ["create", "--network", "none", "busybox", "sh", "-c", "echo created-then-started"]);
    expect(c.code).toBe(0);
    const id = c.stdout.trim();
    expect(berth(root, ["ps", "-a", "--format", "{{.State}}"]).stdout).toBe("created\n");
    const name = berth(root, ["ps", "-a", "--format", "{{.Names}}"]).stdout.trim();
    expect(name).toMatch(/^[a-z]+_[a-z]+\d*$/);
    expect(berth(root, ["start", "-a", id.slice(0, 6)]).stdout).toBe("created-then-started\n");
    expect(berth(root, ["wait", name]).stdout).toBe("0\n");
    expect(berth(root, ["logs", id]).stdout).toBe("created-then-started\n");
    expect(berth(root, ["rename", name, "renamed"]).code).toBe(0);
    expect(berth(root, ["rm", "renamed"]).code).toBe(0);
    expect(berth(root, ["rm", "renamed"]).code).toBe(1);
  }, 180_000);

  test("stdin with -i, image config (Cmd), env and user flags", () => {
    expect(berth(root, ["run", "--rm", "-i", "--network", "none", "busybox", "cat"], { stdin: "piped in\n" }).stdout).toBe("piped in\n");
    // The image's Cmd is sh: with -i it reads commands from stdin.
    expect(berth(root, ["run", "--rm", "-i", "--network", "none", "busybox"], { stdin: "echo from-cmd\n" }).stdout).toBe("from-cmd\n");
    const r = berth(root, ["run", "--rm", "--network", "none", "-e", "X=1", "-u", "65534", "-w", "/tmp", "-h", "boxy", "busybox", "sh", "-c", "echo $X $(id -u) $(pwd) $(hostname)"]);
    expect(r.stdout).toBe("1 65534 /tmp boxy\n");
    expect(berth(root, ["run", "--rm", "--network", "none", "--entrypoint", "echo", "busybox", "via", "entrypoint"]).stdout).toBe("via entrypoint\n");
  }, 180_000);
});
