// docker update through the API: the same engine operation as `berth update` — the running
// container's cgroup and its stored config (inspect's HostConfig) change together; what berth
// cannot update is refused with a 400, never dropped.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestService, type TestService } from "./helpers.ts";

let s: TestService;
beforeAll(async () => { s = await startTestService(); });
afterAll(async () => { await s?.stop(); });

test("docker update --memory --memory-swap --cpus --pids-limit --restart: the cgroup and inspect agree", async () => {
  expect(s.docker(["run", "-d", "--network", "none", "--name", "up", "-m", "64m", "busybox", "sleep", "1000"]).code).toBe(0);
  const r = s.docker(["update", "--memory", "96m", "--memory-swap", "192m", "--cpus", "0.5", "--pids-limit", "50", "--restart", "on-failure:3", "up"]);
  expect(r.stderr).toBe("");
  expect(r.stdout.trim()).toBe("up");
  const host = JSON.parse(s.docker(["inspect", "up"]).stdout)[0].HostConfig;
  expect(host.Memory).toBe(96 * 1024 * 1024);
  expect(host.NanoCpus).toBe(500_000_000);
  expect(host.PidsLimit).toBe(50);
  expect(host.RestartPolicy).toEqual({ Name: "on-failure", MaximumRetryCount: 3 });
  // The kernel's view, read inside the container (its cgroup namespace shows its own group as /).
  const pids = s.docker(["exec", "up", "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"]).stdout.trim();
  expect(pids).toBe("50");
});

test("an update berth cannot apply is a 400 naming the field; a bad value is a 400; an unknown container a 404", async () => {
  expect(s.docker(["run", "-d", "--network", "none", "--name", "up2", "busybox", "sleep", "1000"]).code).toBe(0);
  const blkio = await s.api("POST", "/containers/up2/update", { BlkioWeight: 300 });
  expect(blkio.status).toBe(400);
  expect(((await blkio.json()) as { message: string }).message).toContain("BlkioWeight");
  const bad = await s.api("POST", "/containers/up2/update", { Memory: "lots" });
  expect(bad.status).toBe(400);
  expect((await s.api("POST", "/containers/nosuch/update", { Memory: 100_000_000 })).status).toBe(404);
  expect(JSON.parse(s.docker(["inspect", "up2"]).stdout)[0].HostConfig.Memory).toBe(0);
});
