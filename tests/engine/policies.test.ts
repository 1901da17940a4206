// Restart policies through the monitor's exit command (`berth internal exit ID`), --rm for
// detached containers, and `berth start --all` bringing `always` containers back (boot).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { berth, cgroupsOf, cleanupRoot, engineRoot, eventually, mountsUnder, processesUnder } from "./helpers.ts";

let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => cleanupRoot(root));

const field = (ref: string, f: string) => berth(root, ["inspect", "-f", f, ref]).stdout.trim();

describe("restart policies", () => {
  test("on-failure:2 restarts a failing container twice, then leaves it exited", async () => {
    const r = berth(root, ["run", "-d", "--name", "flaky", "--restart", "on-failure:2", "--network", "none", "busybox", "sh", "-c", "echo try; exit 1"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // One read: the count, the status and the exit code of the same moment.
    expect(await eventually(() => field("flaky", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}") === "2 exited 1", 30_000)).toBe(true);
    // Settled: no further restart comes.
    await Bun.sleep(500);
    expect(field("flaky", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}")).toBe("2 exited 1");
    expect(berth(root, ["logs", "flaky"]).stdout).toBe("try\ntry\ntry\n");
    expect(berth(root, ["rm", "flaky"]).code).toBe(0);
  }, 180_000);

  test("on-failure does not restart a clean exit", async () => {
    expect(berth(root, ["run", "-d", "--name", "clean", "--restart", "on-failure", "--network", "none", "busybox", "true"]).stderr).toBe("");
    expect(await eventually(() => field("clean", "{{.State.Status}}") === "exited")).toBe(true);
    await Bun.sleep(1000);
    expect(field("clean", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}")).toBe("0 exited 0");
    berth(root, ["rm", "clean"]);
  }, 180_000);

  test("always: restarted when it dies, not after stop; start --all brings it back", async () => {
    berth(root, ["run", "-d", "--name", "keeper", "--restart", "always", "--network", "none", "busybox", "sleep", "1"]);
    expect(await eventually(() => Number(field("keeper", "{{.RestartCount}}")) >= 1, 30_000)).toBe(true);
    expect(berth(root, ["stop", "-t", "0", "keeper"]).code).toBe(0);
    await Bun.sleep(1500);
    expect(field("keeper", "{{.State.Status}}")).toBe("exited");
    // After a reboot the boot unit runs `berth start --all`.
    const all = berth(root, ["start", "--all"]);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe("keeper\n");
    expect(field("keeper", "{{.State.Running}}")).toBe("true");
    expect(berth(root, ["rm", "-f", "keeper"]).code).toBe(0);
  }, 180_000);

  test("after a 'reboot' (monitor and container killed): state is settled, start --all brings always back", async () => {
    berth(root, ["run", "-d", "--name", "boot", "--restart", "always", "--network", "none", "busybox", "sleep", "60"]);
    berth(root, ["run", "-d", "--name", "plain", "--network", "none", "busybox", "sleep", "60"]);
    // A power cut: every monitor and container process dies at once, no exit file is written.
    for (const name of ["boot", "plain"]) {
      const id = berth(root, ["inspect", "-f", "{{.Id}}", name]).stdout.trim();
      const pid = Number(berth(root, ["inspect", "-f", "{{.State.Pid}}", name]).stdout.trim());
      const monitor = Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
      process.kill(monitor, "SIGKILL");
      process.kill(pid, "SIGKILL");
      expect(id).toMatch(/^[0-9a-f]{64}$/);
    }
    await Bun.sleep(300);
    const ps = berth(root, ["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    expect(ps.stdout.split("\n").filter(Boolean).sort()).toEqual(["boot exited", "plain exited"]);
    expect(berth(root, ["inspect", "-f", "{{.State.ExitCode}}", "plain"]).stdout).toBe("255\n");
    expect(mountsUnder(root)).toEqual([]);
    expect(berth(root, ["start", "--all"]).stdout).toBe("boot\n");
    expect(berth(root, ["ps", "--format", "{{.Names}}"]).stdout).toBe("boot\n");
    expect(berth(root, ["rm", "-f", "boot", "plain"]).code).toBe(0);
  }, 180_000);

  test("run -d --rm removes the container when it exits", async () => {
    const id = berth(root, ["run", "-d", "--rm", "--network", "none", "busybox", "sleep", "0.5"]).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await eventually(() => berth(root, ["ps", "-aq"]).stdout === "", 20_000)).toBe(true);
    expect(mountsUnder(root)).toEqual([]);
  }, 180_000);

  test("restart and pause/unpause a running container", async () => {
    berth(root, ["run", "-d", "--name", "svc", "--network", "none", "busybox", "sleep", "60"]);
    const pid1 = field("svc", "{{.State.Pid}}");
    expect(berth(root, ["restart", "-t", "0", "svc"]).stdout).toBe("svc\n");
    const pid2 = field("svc", "{{.State.Pid}}");
    expect(pid2).not.toBe(pid1);
    expect(field("svc", "{{.State.Running}}")).toBe("true");
    expect(berth(root, ["pause", "svc"]).code).toBe(0);
    expect(berth(root, ["ps", "--format", "{{.State}}"]).stdout).toBe("paused\n");
    expect(berth(root, ["unpause", "svc"]).code).toBe(0);
    expect(berth(root, ["exec", "svc", "true"]).code).toBe(0);
    expect(berth(root, ["rm", "-f", "svc"]).code).toBe(0);
  }, 180_000);

  test("20 containers started and stopped leave nothing behind", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(berth(root, ["run", "-d", "--network", "none", "busybox", "sleep", "60"]).stdout.trim());
    expect(berth(root, ["ps", "-q"]).stdout.split("\n").filter(Boolean).length).toBe(20);
    expect(berth(root, ["stop", "-t", "0", ...ids]).code).toBe(0);
    expect(berth(root, ["rm", ...ids]).code).toBe(0);
    expect(berth(root, ["ps", "-aq"]).stdout).toBe("");
    expect(mountsUnder(root)).toEqual([]);
    expect(cgroupsOf(ids)).toEqual([]);
    expect(await eventually(() => processesUnder(root).length === 0)).toBe(true);
  }, 300_000);
});
