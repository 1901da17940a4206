// Restart policies through the monitor's exit command (`berth internal exit ID`), --rm for
// detached containers, and `berth start --all` bringing `always` containers back (boot).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { berth, cleanupRoot, engineRoot, eventually, mountsUnder } from "./helpers.ts";

let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => cleanupRoot(root));

const field = (ref: string, f: string) => berth(root, ["inspect", "-f", f, ref]).stdout.trim();

describe("restart policies", () => {
  test("on-failure:2 restarts a failing container twice, then leaves it exited", async () => {
    const r = berth(root, ["run", "-d", "--name", "flaky", "--restart", "on-failure:2", "--network", "none", "busybox", "sh", "-c", "echo try; exit 1"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await eventually(() => field("flaky", "{{.RestartCount}} {{.State.Status}}") === "2 exited", 30_000)).toBe(true);
    expect(field("flaky", "{{.State.ExitCode}}")).toBe("1");
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
});
