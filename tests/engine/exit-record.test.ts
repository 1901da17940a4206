// How a killed container ended comes from its monitor's exit record (exit.json), never from a
// guess: the monitor reaps the init, drains the output, then writes the record, and until then
// no berth command may settle the container (reconcile, wait, run's finalize), or the status is
// lost as 255 ("the monitor died before recording it", while it lived). Deterministically with an
// attach client that takes no output (the monitor drains for it for up to 5 s after the init
// died), and under load: a bounded stress loop of run -d / kill / wait and foreground runs killed,
// with busy loops on every CPU and `ps` (which reconciles) running all along.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { BERTH, berth, cleanupRoot, engineRoot, eventually } from "./helpers.ts";

let root = "";
beforeAll(async () => { root = await engineRoot(); });
afterAll(() => cleanupRoot(root));

interface Out { code: number; out: string; err: string }

/** `berth --root ROOT ARGS…` as a child of its own (several run at once). */
async function run(args: string[]): Promise<Out> {
  const p = Bun.spawn([BERTH, "--root", root, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out, err };
}

/** An attach client whose output goes to a FIFO nobody reads: it stops taking the stream, and the
 *  monitor (output waits for every client) keeps draining for it for up to 5 s after the init died. */
function stalledClient(name: string): { stop: () => Promise<void> } {
  const fifo = join(root, `${name}.fifo`);
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const sink = openSync(fifo, "r+"); // read-write: never blocks, never read
  const client = Bun.spawn([BERTH, "--root", root, "attach", "--no-stdin", name], { stdin: "ignore", stdout: sink, stderr: "ignore" });
  let stopped = false;
  return {
    stop: async () => {
      if (stopped) return;
      stopped = true;
      client.kill(9);
      await client.exited;
      closeSync(sink);
      rmSync(fifo, { force: true });
    },
  };
}

/** Resolves once the container's output stops moving into its log (its attach client stalled). */
async function stalled(id: string): Promise<boolean> {
  const logSize = () => Bun.file(join(root, "containers", id, "container.log")).size;
  return eventually(() => { const a = logSize(); Bun.sleepSync(300); return logSize() === a; }, 30_000);
}

function state(name: string): string {
  return berth(root, ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} [{{.State.Error}}]", name]).stdout.trim();
}

describe("the exit record is the truth while the monitor lives", () => {
  test("killed while its monitor drains for a stalled attach client: ps, wait and inspect wait for the record", async () => {
    expect(berth(root, ["run", "-d", "--network", "none", "--name", "chatty", "busybox", "yes"]).code).toBe(0);
    const id = berth(root, ["inspect", "-f", "{{.Id}}", "chatty"]).stdout.trim();
    const client = stalledClient("chatty");
    try {
      expect(await stalled(id)).toBe(true);
      expect(berth(root, ["kill", "chatty"]).code).toBe(0);
      // The monitor has no record yet: every command reconciles, none may settle the container.
      const ps = berth(root, ["ps", "-a", "--filter", "name=chatty", "--format", "{{.Status}}"]);
      expect(ps.stdout).not.toContain("255");
      const waited = berth(root, ["wait", "chatty"]);
      expect(waited.stdout).toBe("137\n");
      expect(existsSync(join(root, "containers", id, "exit.json"))).toBe(true);
      expect(state("chatty")).toBe("exited 137 []");
    } finally {
      await client.stop();
      berth(root, ["rm", "-f", "chatty"]);
    }
  });

  test("under load, many kills at once: every wait, every killed foreground run and every record says 137", async () => {
    const hogs = Array.from({ length: Math.max(2, availableParallelism() * 2) }, () => Bun.spawn(["sh", "-c", "while :; do :; done"], { stdio: ["ignore", "ignore", "ignore"] }));
    let stop = false;
    // Commands that reconcile all along: each may meet a container between its init's death and its record.
    const reconcilers = Array.from({ length: 2 }, async () => { while (!stop) await run(["ps", "-q"]); });
    const wrong: string[] = [];
    const clients: { stop: () => Promise<void> }[] = [];
    try {
      for (let it = 0; it < 6; it++) {
        const detached = Array.from({ length: 6 }, (_, i) => `d${it}-${i}`);
        const foreground = Array.from({ length: 2 }, (_, i) => `f${it}-${i}`);
        const started = await Promise.all(detached.map((n) => run(["run", "-d", "--network", "none", "--name", n, "busybox", "sleep", "600"])));
        for (const r of started) expect(r.code).toBe(0);
        // One whose monitor drains for a stalled client after the kill (a wide window), beside
        // the others whose window is only the monitor's own wake-up under load.
        const slow = `s${it}`;
        expect((await run(["run", "-d", "--network", "none", "--name", slow, "busybox", "yes"])).code).toBe(0);
        const client = stalledClient(slow);
        clients.push(client);
        expect(await stalled(berth(root, ["inspect", "-f", "{{.Id}}", slow]).stdout.trim())).toBe(true);
        const fg = foreground.map((n) => run(["run", "--network", "none", "--name", n, "busybox", "sleep", "600"]));
        for (const n of foreground) expect(await eventually(() => state(n).startsWith("running"), 30_000)).toBe(true);
        const killWait = async (n: string) => {
          const k = await run(["kill", n]);
          const w = await run(["wait", n]);
          return `${n}: kill ${k.code} ${k.err.trim()} wait ${w.out.trim()}${w.err.trim()}`;
        };
        const slowWait = killWait(slow);
        const waits = detached.map(killWait);
        const kills = foreground.map(async (n) => `${n}: kill ${(await run(["kill", n])).code}`);
        const results = await Promise.all([...waits, ...kills]);
        const fgCodes = await Promise.all(fg.map(async (p, i) => `${foreground[i]}: run exited ${(await p).code}`));
        // Meanwhile the slow one's monitor was still draining: its client goes, its record comes.
        await client.stop();
        results.push(await slowWait);
        detached.push(slow);
        for (const r of results) if (!/: kill 0 +wait 137$/.test(r) && !/: kill 0$/.test(r)) wrong.push(r);
        for (const r of fgCodes) if (!r.endsWith(" 137")) wrong.push(r);
        for (const n of [...detached, ...foreground]) {
          const s = state(n);
          if (s !== "exited 137 []") wrong.push(`${n}: ${s}`);
        }
        expect((await run(["rm", "-f", ...detached, ...foreground])).code).toBe(0);
      }
    } finally {
      stop = true;
      await Promise.all(reconcilers);
      for (const c of clients) await c.stop();
      for (const h of hogs) h.kill(9);
      await Promise.all(hogs.map((h) => h.exited));
    }
    expect(wrong).toEqual([]);
  }, 600_000);
});
