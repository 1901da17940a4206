// Bad input gets docker's exit codes and a clear message, and leaves nothing behind: no
// container row, no mount, no cgroup, no process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { berth, cleanupRoot, engineRoot, mountsUnder, processesUnder } from "./helpers.ts";

let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => cleanupRoot(root));

function nothingLeft(): void {
  expect(berth(root, ["ps", "-aq"]).stdout).toBe("");
  expect(mountsUnder(root)).toEqual([]);
  expect(readdirSync(join(root, "containers"))).toEqual([]);
  expect(processesUnder(root)).toEqual([]);
}

describe("bad input", () => {
  test.each([
    [["run", "--rm", "--pull", "never", "nosuchimage", "true"], 125, /Unable to find image 'nosuchimage' locally/],
    [["run", "--rm", "-m", "5x", "busybox", "true"], 125, /invalid argument "5x" for "-m, --memory" flag: invalid size: '5x'/],
    [["run", "--rm", "-m", "4m", "busybox", "true"], 125, /Minimum memory limit allowed is 6MB/],
    [["run", "--rm", "-m", "64m", "--memory-swap", "32m", "busybox", "true"], 125, /^berth: Error: Minimum memoryswap limit should be larger than memory limit, see usage$/m],
    [["run", "--rm", "--memory-swap", "64m", "busybox", "true"], 125, /You should always set the Memory limit when using Memoryswap limit/],
    [["run", "--rm", "--cpus", "-1", "busybox", "true"], 125, /Range of CPUs is from 0.01 to/],
    [["run", "--rm", "--cpus", "lots", "busybox", "true"], 125, /invalid argument "lots" for "--cpus" flag/],
    [["run", "--rm", "-v", "/no/such/dir:/data", "busybox", "true"], 125, /bind source path does not exist: \/no\/such\/dir/],
    [["run", "--rm", "--network", "none", "busybox", "nosuchcmd"], 127, /exec: "nosuchcmd": executable file not found in \$PATH/],
    [["run", "--rm", "--restart", "always", "busybox", "true"], 125, /Conflicting options: --restart and --rm/],
    [["run", "--rm", "--restart", "sometimes", "busybox", "true"], 125, /invalid restart policy/],
    [["run", "--rm", "--pids-limit", "x", "busybox", "true"], 125, /invalid argument "x" for "--pids-limit" flag/],
    [["run", "--rm", "--cap-add", "NOT_A_CAP", "busybox", "true"], 125, /unknown capability/],
    [["run", "--bogus-flag", "busybox"], 125, /unknown flag: --bogus-flag/],
    [["run"], 125, /"berth run" requires at least 1 argument/],
    [["run", "--name", "bad/name", "busybox", "true"], 125, /Invalid container name/],
    [["stop", "nosuch"], 1, /no such container: nosuch/],
    [["logs", "nosuch"], 125, /no such container: nosuch/],
    [["frobnicate"], 125, /'frobnicate' is not a berth command/],
  ] as [string[], number, RegExp][])("%p exits %p", (args, code, message) => {
    const r = berth(root, args);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(code);
    nothingLeft();
  }, 180_000);

  test("a name in use is refused and the first container is untouched", () => {
    const first = berth(root, ["create", "--name", "taken", "--network", "none", "busybox", "true"]);
    expect(first.code).toBe(0);
    const again = berth(root, ["run", "--name", "taken", "--network", "none", "busybox", "true"]);
    expect(again.code).toBe(125);
    expect(again.stderr).toContain(`Conflict. The container name "/taken" is already in use by container "${first.stdout.trim()}"`);
    expect(berth(root, ["ps", "-aq", "--no-trunc"]).stdout).toBe(first.stdout);
    expect(berth(root, ["rm", "taken"]).code).toBe(0);
    nothingLeft();
  }, 180_000);

  test("rm of a running container needs -f; kill needs a running one", () => {
    berth(root, ["run", "-d", "--name", "busy", "--network", "none", "busybox", "sleep", "60"]);
    const rm = berth(root, ["rm", "busy"]);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toMatch(/You cannot remove a running container [0-9a-f]{64}\. Stop the container before attempting removal or force remove/);
    expect(berth(root, ["kill", "-s", "NOPE", "busy"]).stderr).toMatch(/invalid signal: NOPE/);
    expect(berth(root, ["kill", "busy"]).code).toBe(0);
    expect(berth(root, ["wait", "busy"]).stdout).toBe("137\n");
    expect(berth(root, ["kill", "busy"]).code).toBe(1);
    expect(berth(root, ["rm", "busy"]).code).toBe(0);
    nothingLeft();
  }, 180_000);

  test("an ambiguous ID prefix is refused", () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(berth(root, ["create", "--network", "none", "busybox", "true"]).stdout.trim());
    // With 20 IDs, some first hex digit repeats.
    const first = ids.map((x) => x[0]!).find((c, i, a) => a.indexOf(c) !== i)!;
    const r = berth(root, ["inspect", "--type", "container", first]);
    expect(r.stderr).toMatch(/multiple containers found with provided prefix/);
    expect(berth(root, ["rm", ...ids]).code).toBe(0);
    nothingLeft();
  }, 180_000);
});
