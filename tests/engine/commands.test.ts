// The rest of the verbs as a user meets them: --help, ps --filter/--format, logs -f/--since,
// attach, exec -d, inspect of images and volumes, system df, info, version, container prune.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BERTH, berth, cleanupRoot, engineRoot, eventually } from "./helpers.ts";

let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => cleanupRoot(root));

describe("commands", () => {
  test("--help for every verb", () => {
    for (const verb of ["run", "create", "start", "stop", "restart", "kill", "rm", "ps", "logs", "exec", "attach", "wait", "inspect", "top", "port", "stats", "cp", "rename", "pause", "unpause", "info", "version"]) {
      const r = berth(root, [verb, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toStartWith(`Usage:  berth ${verb}`);
    }
    for (const verb of [["volume", "create"], ["volume", "ls"], ["container", "prune"], ["system", "df"]]) {
      expect(berth(root, [...verb, "--help"]).stdout).toStartWith(`Usage:  berth ${verb.join(" ")}`);
    }
    expect(berth(root, ["--help"]).stdout).toContain("Common Commands:");
  }, 180_000);

  test("logs -f follows until the container exits; --since and --tail", async () => {
    berth(root, ["run", "-d", "--name", "ticker", "--network", "none", "busybox", "sh", "-c", "for i in 1 2 3; do echo tick$i; sleep 0.3; done"]);
    const f = berth(root, ["logs", "-f", "ticker"]);
    expect(f.code).toBe(0);
    expect(f.stdout).toBe("tick1\ntick2\ntick3\n");
    expect(berth(root, ["logs", "--tail", "2", "ticker"]).stdout).toBe("tick2\ntick3\n");
    expect(berth(root, ["logs", "--since", "2099-01-01T00:00:00Z", "ticker"]).stdout).toBe("");
    expect(berth(root, ["logs", "--since", "10m", "ticker"]).stdout).toBe("tick1\ntick2\ntick3\n");
  }, 180_000);

  test("ps filters and formats; -q; -n", () => {
    berth(root, ["run", "-d", "--name", "lab", "-l", "tier=web", "--network", "none", "busybox", "sleep", "30"]);
    expect(berth(root, ["ps", "--filter", "label=tier=web", "--format", "{{.Names}} {{.Label \"tier\"}}"]).stdout).toBe("lab web\n");
    expect(berth(root, ["ps", "--filter", "status=running", "-q"]).stdout.trim()).toMatch(/^[0-9a-f]{12}$/);
    expect(berth(root, ["ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}"]).stdout).toBe("ticker\n");
    expect(berth(root, ["ps", "-n", "1", "--format", "{{.Names}}"]).stdout).toBe("lab\n");
    expect(JSON.parse(berth(root, ["ps", "--format", "json"]).stdout).Names).toBe("lab");
    expect(berth(root, ["ps", "--filter", "bogus=1"]).code).toBe(125);
  }, 180_000);

  test("exec -d runs in the background; attach sees the output of a running container", async () => {
    expect(berth(root, ["exec", "-d", "lab", "sh", "-c", "echo bg > /tmp/bg"]).code).toBe(0);
    expect(await eventually(() => berth(root, ["exec", "lab", "cat", "/tmp/bg"]).stdout === "bg\n")).toBe(true);
    berth(root, ["run", "-d", "--name", "talker", "--network", "none", "busybox", "sh", "-c", "sleep 1; echo said; sleep 1"]);
    const a = Bun.spawnSync([BERTH, "--root", root, "attach", "talker"], { stdout: "pipe", stderr: "pipe", timeout: 30_000 });
    expect(a.stdout.toString()).toBe("said\n");
    expect(a.exitCode).toBe(0);
  }, 180_000);

  test("inspect containers, images and volumes; port; top", () => {
    const c = JSON.parse(berth(root, ["inspect", "lab"]).stdout)[0];
    expect(c.Name).toBe("/lab");
    expect(c.Config.Labels).toEqual({ tier: "web" });
    expect(c.State.Status).toBe("running");
    expect(berth(root, ["inspect", "-f", "{{.State.Status}}", "lab"]).stdout).toBe("running\n");
    const img = JSON.parse(berth(root, ["inspect", "busybox"]).stdout)[0];
    expect(img.Id).toMatch(/^sha256:/);
    berth(root, ["volume", "create", "v1"]);
    expect(JSON.parse(berth(root, ["inspect", "--type", "volume", "v1"]).stdout)[0].Driver).toBe("local");
    expect(berth(root, ["port", "lab"]).stdout).toBe("");
    expect(berth(root, ["top", "lab"]).stdout).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\nroot\s+\d+\s+\d+\s+0\s+\S+\s+\?\s+\S+\s+sleep 30\n$/);
  }, 180_000);

  test("system df, info, version, container prune", () => {
    expect(berth(root, ["system", "df"]).stdout).toMatch(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\nImages\s+1\s+1\s/);
    const info = berth(root, ["info"]).stdout;
    expect(info).toContain(" Running: 1");
    expect(info).toContain(`Berth Root Dir: ${root}`);
    expect(berth(root, ["version"]).stdout).toContain("Version:");
    const prune = berth(root, ["container", "prune", "-f"]);
    expect(prune.stdout).toContain("Deleted Containers:");
    expect(berth(root, ["ps", "-a", "--format", "{{.Names}}"]).stdout).toBe("lab\n");
    expect(berth(root, ["rm", "-f", "lab"]).code).toBe(0);
  }, 180_000);

  test("an image in use by a container is kept by rmi and image prune until the container goes", () => {
    expect(berth(root, ["tag", "busybox", "held:1"]).code).toBe(0);
    const id = berth(root, ["create", "--network", "none", "held:1", "true"]).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    // Several names: rmi by one name only untags, even while held.
    const busyboxId = berth(root, ["image", "inspect", "-f", "{{.Id}}", "busybox"]).stdout.trim();
    expect(berth(root, ["tag", "busybox", "held:2"]).code).toBe(0);
    expect(berth(root, ["rmi", "held:2"]).code).toBe(0);
    // By ID it is refused while the container exists; prune -a keeps it too.
    const refused = berth(root, ["rmi", busyboxId]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`in use by container ${id}`);
    expect(berth(root, ["image", "prune", "-a", "-f"]).code).toBe(0);
    expect(berth(root, ["image", "inspect", "busybox"]).code).toBe(0);
    expect(berth(root, ["rm", id]).code).toBe(0);
    expect(berth(root, ["rmi", "held:1"]).code).toBe(0);
    expect(berth(root, ["image", "inspect", "busybox"]).code).toBe(0);
  }, 120_000);
});
