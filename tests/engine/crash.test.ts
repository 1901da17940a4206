// kill -9 of berth at any point of run and rm: the next command reads the state without error,
// ps -a tells the truth (a container is running only if its process is), and rm -f cleans up
// everything. Two runs at the same time never corrupt the store.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { BERTH, berth, cgroupsOf, cleanupRoot, engineRoot, eventually, mountsUnder, processesUnder } from "./helpers.ts";

let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => cleanupRoot(root));

async function killAfter(args: string[], ms: number): Promise<void> {
  const p = Bun.spawn([BERTH, "--root", root, ...args], { stdio: ["ignore", "ignore", "ignore"] });
  await Bun.sleep(ms);
  p.kill(9);
  await p.exited;
}

interface PsRow { id: string; name: string; state: string }

function psAll(): PsRow[] {
  const r = berth(root, ["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout.split("\n").filter(Boolean).map((l) => {
    const [id, name, state] = l.split(" ");
    return { id: id!, name: name!, state: state! };
  });
}

/** What inspect says about a container is consistent with the world at that moment. */
function truthful(rows: PsRow[]): void {
  for (const r of rows) {
    const st = JSON.parse(berth(root, ["inspect", "--type", "container", r.id]).stdout)[0].State;
    if (st.Running) {
      expect(st.Pid).toBeGreaterThan(0);
      // alive, unless it exited just after inspect looked
      if (!readdirSync("/proc").includes(String(st.Pid))) expect(berth(root, ["inspect", "-f", "{{.State.Status}}", r.id]).stdout).toBe("exited\n");
    } else {
      expect(st.Pid).toBe(0);
      expect(["created", "exited"]).toContain(st.Status);
    }
  }
}

describe("crash safety", () => {
  test("berth run killed at many points leaves readable, truthful state", async () => {
    const delays = [0, 20, 50, 80, 120, 160, 200, 250, 300, 400, 500, 700, 900];
    for (const [i, d] of delays.entries()) await killAfter(["run", "--network", "none", "--name", `k${i}`, "busybox", "sleep", "6"], d);
    const rows = psAll();
    truthful(rows);
    // Containers that got going finish on their own: their monitor records the exit.
    await Bun.sleep(6500);
    const later = psAll();
    truthful(later);
    for (const r of later) expect(r.state).not.toBe("running");
    for (const r of later.filter((x) => x.state === "exited")) {
      expect(berth(root, ["inspect", "-f", "{{.State.ExitCode}}", r.id]).stdout).toBe("0\n");
    }
    if (later.length) expect(berth(root, ["rm", ...later.map((r) => r.id)]).code).toBe(0);
    expect(psAll()).toEqual([]);
    expect(mountsUnder(root)).toEqual([]);
    expect(cgroupsOf(later.map((r) => r.id))).toEqual([]);
    expect(readdirSync(join(root, "containers"))).toEqual([]);
  }, 180_000);

  test("berth rm -f killed midway: the next command finishes the removal or leaves it whole", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(berth(root, ["run", "-d", "--network", "none", "busybox", "sleep", "60"]).stdout.trim());
    for (const [i, id] of ids.entries()) await killAfter(["rm", "-f", id], 30 + i * 40);
    const rows = psAll();
    truthful(rows);
    if (rows.length) expect(berth(root, ["rm", "-f", ...rows.map((r) => r.id)]).code).toBe(0);
    expect(psAll()).toEqual([]);
    expect(mountsUnder(root)).toEqual([]);
    expect(cgroupsOf(ids)).toEqual([]);
    expect(await eventually(() => processesUnder(root).length === 0)).toBe(true);
  }, 180_000);

  test("berth commit killed midway: the container is thawed, the image store stays readable", async () => {
    berth(root, ["run", "-d", "--name", "src", "--network", "none", "busybox", "sh", "-c", "echo data > /made; sleep 60"]);
    for (const [i, d] of [0, 40, 80, 120, 200, 300, 450].entries()) await killAfter(["commit", "src", `snap:${i}`], d);
    // The next command thaws a container a dead commit left frozen.
    expect(psAll().map((r) => r.state)).toEqual(["running"]);
    expect(berth(root, ["exec", "src", "cat", "/made"]).stdout).toBe("data\n");
    const images = berth(root, ["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    expect(images.code).toBe(0);
    for (const name of images.stdout.split("\n").filter((n) => n.startsWith("snap:"))) {
      expect(berth(root, ["run", "--rm", "--network", "none", name, "cat", "/made"]).stdout).toBe("data\n");
      expect(berth(root, ["rmi", name]).code).toBe(0);
    }
    expect(berth(root, ["rm", "-f", "src"]).code).toBe(0);
  }, 180_000);

  test("concurrent runs do not corrupt the store", async () => {
    const procs = Array.from({ length: 6 }, (_, i) => Bun.spawn([BERTH, "--root", root, "run", "--rm", "--network", "none", "--name", `par${i}`, "busybox", "echo", `n${i}`], { stdout: "pipe", stderr: "pipe" }));
    const outs = await Promise.all(procs.map(async (p) => ({ code: await p.exited, out: await new Response(p.stdout).text(), err: await new Response(p.stderr).text() })));
    outs.forEach((o, i) => {
      expect(o.err).toBe("");
      expect(o.code).toBe(0);
      expect(o.out).toBe(`n${i}\n`);
    });
    const names = Array.from({ length: 4 }, () => Bun.spawn([BERTH, "--root", root, "create", "--name", "same", "--network", "none", "busybox", "true"], { stdout: "pipe", stderr: "pipe" }));
    const codes = await Promise.all(names.map((p) => p.exited));
    expect(codes.filter((c) => c === 0).length).toBe(1);
    expect(psAll().map((r) => r.name)).toEqual(["same"]);
    expect(berth(root, ["rm", "same"]).code).toBe(0);
  }, 180_000);
});
