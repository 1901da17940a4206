// Healthchecks without a daemon: the monitor keeps the clock and runs `berth internal health ID`,
// which execs the probe in the container. Status in ps and inspect, as docker shows it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { berth, cleanupRoot, engineRoot, eventually } from "./helpers.ts";

let root: string;
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => cleanupRoot(root));

const health = (name: string) => JSON.parse(berth(root, ["inspect", "-f", "{{json .State.Health}}", name]).stdout) as { Status: string; FailingStreak: number; Log: { ExitCode: number; Output: string }[] } | null;
const status = (name: string) => berth(root, ["ps", "--filter", `name=${name}`, "--format", "{{.Status}}"]).stdout.trim();

test("--health-cmd: starting, unhealthy after the retries, healthy once the probe passes; ps and inspect show it", async () => {
  const r = berth(root, ["run", "-d", "--name", "hc1", "--network", "none", "--health-cmd", "echo probing; test -f /tmp/ok",
    "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "60"]);
  expect(r.stderr).toBe("");
  expect(status("hc1")).toMatch(/^Up .*\((health: starting|unhealthy)\)$/);
  expect(await eventually(() => health("hc1")?.Status === "unhealthy")).toBe(true);
  const h = health("hc1")!;
  expect(h.FailingStreak).toBeGreaterThanOrEqual(2);
  expect(h.Log.at(-1)!.ExitCode).toBe(1);
  expect(h.Log.at(-1)!.Output).toBe("probing\n");
  expect(status("hc1")).toMatch(/\(unhealthy\)$/);
  expect(berth(root, ["exec", "hc1", "touch", "/tmp/ok"]).code).toBe(0);
  expect(await eventually(() => health("hc1")?.Status === "healthy")).toBe(true);
  expect(health("hc1")!.FailingStreak).toBe(0);
  expect(status("hc1")).toMatch(/^Up .*\(healthy\)$/);
  const cfg = JSON.parse(berth(root, ["inspect", "-f", "{{json .Config.Healthcheck}}", "hc1"]).stdout);
  expect(cfg).toEqual({ Test: ["CMD-SHELL", "echo probing; test -f /tmp/ok"], Interval: 200_000_000, Timeout: 30_000_000_000, StartPeriod: 0, Retries: 2 });
  // A restart starts over as "starting"; the log keeps docker's last five probes at most.
  expect(health("hc1")!.Log.length).toBeLessThanOrEqual(5);
  berth(root, ["rm", "-f", "hc1"]);
});

test("--health-timeout: a probe that runs too long is killed and counts as a failure", async () => {
  berth(root, ["run", "-d", "--name", "hc2", "--network", "none", "--health-cmd", "sleep 30", "--health-timeout", "200ms",
    "--health-interval", "5s", "--health-retries", "1", "busybox", "sleep", "60"]);
  const probe = berth(root, ["internal", "health", "hc2"]);
  expect(probe.code).toBe(0);
  const h = health("hc2")!;
  expect(h.Status).toBe("unhealthy");
  expect(h.Log[0]!.ExitCode).toBe(-1);
  expect(h.Log[0]!.Output).toContain("exceeded timeout");
  // The probe's process is gone: only the container's own sleep is left.
  const top = berth(root, ["top", "hc2"]).stdout;
  expect(top).not.toContain("sleep 30");
  berth(root, ["rm", "-f", "hc2"]);
});

test("the image's HEALTHCHECK applies, --no-healthcheck disables it; no healthcheck: no periodic command in the monitor", async () => {
  expect(berth(root, ["run", "--name", "hcbase", "--network", "none", "busybox", "true"]).code).toBe(0);
  expect(berth(root, ["commit", "-c", 'HEALTHCHECK --interval=200ms --retries=1 CMD ["sh","-c","echo from-image"]', "hcbase", "hcimg"]).code).toBe(0);
  berth(root, ["run", "-d", "--name", "hc3", "--network", "none", "hcimg", "sleep", "60"]);
  expect(await eventually(() => health("hc3")?.Status === "healthy")).toBe(true);
  expect(health("hc3")!.Log[0]!.Output).toBe("from-image\n");
  berth(root, ["run", "-d", "--name", "hc4", "--network", "none", "--no-healthcheck", "hcimg", "sleep", "60"]);
  expect(health("hc4")).toBeNull();
  expect(status("hc4")).not.toContain("health");
  const monitorPid = Number(berth(root, ["inspect", "-f", "{{.State.Pid}}", "hc4"]).stdout.trim());
  const ppid = readFileSync(`/proc/${monitorPid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]!;
  expect(readFileSync(`/proc/${ppid}/cmdline`, "utf8")).not.toContain("--periodic-command");
  expect(berth(root, ["run", "--rm", "--no-healthcheck", "--health-cmd", "true", "busybox", "true"]).stderr).toContain("--no-healthcheck conflicts");
  expect(berth(root, ["run", "--rm", "--health-interval", "soon", "--health-cmd", "true", "busybox", "true"]).stderr).toContain("invalid duration");
  berth(root, ["rm", "-f", "hc3", "hc4", "hcbase"]);
  berth(root, ["rmi", "hcimg"]);
});
