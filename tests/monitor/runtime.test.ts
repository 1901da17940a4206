// The monitor with the real runtime: berth-runtime's createContainer runs berth-init create under
// the monitor (monitorLauncher), stage 0 exits, the monitor adopts the container init (in its own
// pid namespace) and records how it ended. Pipes, and a terminal made by the runtime inside the
// container and handed over the console socket.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createContainer } from "../../src/runtime/create.ts";
import { startContainer } from "../../src/runtime/start.ts";
import { deleteContainer } from "../../src/runtime/delete.ts";
import { StateStore } from "../../src/runtime/state-store.ts";
import { monitorLauncher, waitExitFile, type MonitorFlags } from "../../src/engine/monitor.ts";
import { attach, readLog } from "../../src/engine/logs.ts";
import { makeBusyboxBundle, type Bundle } from "../helpers/bundle.ts";
import { cgroupLeftovers, uniqueId, useStateRoot } from "../helpers/runtime.ts";
import { monitorFixture, parentOf, waitFor, waitGone } from "./helpers.ts";

const root = useStateRoot();
const store = new StateStore(root);
const fx = monitorFixture();
let bundle: Bundle | undefined;

afterEach(() => {
  bundle?.cleanup();
  bundle = undefined;
});

async function create(args: string[], flags: (d: string) => Partial<MonitorFlags>, terminal = false) {
  bundle = makeBusyboxBundle({ args });
  bundle.config.process!.terminal = terminal;
  bundle.save();
  const dir = fx.newDir();
  const id = uniqueId("mon");
  const files = { pid: join(dir, "pid"), exit: join(dir, "exit.json"), log: join(dir, "log"), console: join(dir, "console.sock"), attach: join(dir, "attach.sock") };
  const extra = flags(dir);
  const created = await createContainer(store, {
    id, bundle: bundle.dir, pidFile: files.pid, stdio: ["ignore", "ignore", "ignore"],
    consoleSocket: extra.consoleSocket,
    launcher: monitorLauncher({ pidFile: files.pid, exitFile: files.exit, logPath: files.log, ...extra }),
  });
  return { id, files, pid: created.record.pid, monitor: created.init.proc.pid };
}

describe("monitor + runtime", () => {
  test("adopts the container init after stage 0 exits; logs and exit code of a real container", async () => {
    const c = await create(["sh", "-c", "echo out; echo err >&2; echo pid=$$; exit 3"], () => ({}));
    try {
      await waitFor("adoption by the monitor", () => parentOf(c.pid) === c.monitor, 20000);
      await startContainer(store, c.id, () => {});
      const exit = await waitExitFile(c.files.exit, AbortSignal.timeout(20000));
      expect(exit).toMatchObject({ exitCode: 3, signal: null, pid: c.pid });
      await waitGone(c.monitor);
      const lines: string[] = [];
      for await (const r of readLog(c.files.log)) lines.push(`${r.stream} ${r.text.toString()}`);
      expect(lines.sort()).toEqual(["stderr err", "stdout out", "stdout pid=1"]); // pid 1 in its own namespace
    } finally {
      await deleteContainer(store, c.id, true, () => {});
    }
    expect(cgroupLeftovers(c.id)).toEqual([]);
  });

  test("a terminal from the runtime (console socket): attach, resize, stdin, exit code", async () => {
    const c = await create(["sh"], (d) => ({
      tty: true, stdin: true, consoleSocket: join(d, "console.sock"), attachSocket: join(d, "attach.sock"),
    }), true);
    try {
      await waitFor("adoption by the monitor", () => parentOf(c.pid) === c.monitor, 20000);
      let out = "";
      const session = await attach(c.files.attach, { tty: true, onOutput: (_s, d) => { out += Buffer.from(d).toString(); } });
      await startContainer(store, c.id, () => {});
      session.resize(40, 120);
      session.write("stty size; tty; exit 4\n");
      await session.closed;
      expect(out).toContain("40 120\r\n");
      expect(out).toMatch(/\/dev\/pts\/0\r\n/); // the container's own devpts
      expect((await waitExitFile(c.files.exit, AbortSignal.timeout(20000))).exitCode).toBe(4);
    } finally {
      await deleteContainer(store, c.id, true, () => {});
    }
  });

  test("SIGTERM to the monitor reaches the container's init", async () => {
    const c = await create(["sh", "-c", "trap 'echo got TERM; exit 42' TERM; echo ready; while true; do sleep 0.05; done"], () => ({}));
    try {
      await waitFor("adoption by the monitor", () => parentOf(c.pid) === c.monitor, 20000);
      await startContainer(store, c.id, () => {});
      await waitFor("the container's first line", () => existsSync(c.files.log) && readFileSync(c.files.log, "utf8").includes("ready"), 20000);
      process.kill(c.monitor, "SIGTERM");
      expect(await waitExitFile(c.files.exit, AbortSignal.timeout(20000))).toMatchObject({ exitCode: 42, signal: null });
    } finally {
      await deleteContainer(store, c.id, true, () => {});
    }
  });
});
