// berth-monitor with real programs: exit codes, signals, the subreaper path the runtime uses,
// start failures, fd hygiene, the terminal, OOM accounting and the exit command.
import { describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, rmdirSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { flock, LOCK_EX } from "../../src/sys/libc.ts";
import { join } from "node:path";
import { MonitorStartError, monitorLauncher, readExitFile, spawnMonitor, waitExitFile, type MonitorOptions } from "../../src/engine/monitor.ts";
import { readLog, type LogRecord } from "../../src/engine/logs.ts";
import { BUSYBOX, alive, monitorFixture, parentOf, waitFor, waitGone } from "./helpers.ts";
import { HOST } from "../helpers/host.ts";

const fx = monitorFixture();
const run = (command: string[], extra: Partial<MonitorOptions> = {}) => fx.direct(command, extra);

async function records(path: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for await (const r of readLog(path)) out.push(r);
  return out;
}

const simple = (rs: LogRecord[]) => rs.map((r) => `${r.stream} ${r.partial ? "P" : "F"} ${r.text.toString()}`);

describe("berth-monitor", () => {
  test("records the exit code and logs each stream's lines, with the partial flag", async () => {
    const m = await run([BUSYBOX, "sh", "-c", "echo hello; echo oops >&2; printf tail; exit 3"]);
    const exit = await waitExitFile(m.exit);
    expect(exit.exitCode).toBe(3);
    expect(exit.signal).toBeNull();
    expect(exit.pid).toBe(m.container);
    expect(Date.parse(exit.finishedAt)).toBeGreaterThanOrEqual(Date.parse(exit.startedAt));
    await waitGone(m.monitor);
    const logged = simple(await records(m.log));
    expect(logged.filter((l) => l.startsWith("stdout"))).toEqual(["stdout F hello", "stdout P tail"]);
    expect(logged.filter((l) => l.startsWith("stderr"))).toEqual(["stderr F oops"]);
    expect(readFileSync(m.log, "utf8")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F hello$/m);
  });

  test("a container killed by a signal exits 128+N", async () => {
    const m = await run([BUSYBOX, "sh", "-c", "kill -KILL $$"]);
    const exit = await waitExitFile(m.exit);
    expect(exit.exitCode).toBe(137);
    expect(exit.signal).toBe(9);
  });

  test("SIGTERM, SIGINT and SIGHUP sent to the monitor reach the container", async () => {
    for (const [sig, num] of [["SIGTERM", 15], ["SIGINT", 2], ["SIGHUP", 1]] as const) {
      const m = await run([BUSYBOX, "sleep", "1000"]);
      expect(parentOf(m.container)).toBe(m.monitor);
      expect(readlinkSync(`/proc/${m.monitor}/cwd`)).toBe("/"); // keeps no directory busy
      process.kill(m.monitor, sig);
      const exit = await waitExitFile(m.exit);
      expect(exit.signal).toBe(num);
      expect(exit.exitCode).toBe(128 + num);
      await waitGone(m.monitor);
    }
  });

  test("a command that cannot be executed is a start failure (127), reported to the engine", async () => {
    const dir = fx.newDir();
    const exitFile = join(dir, "exit.json");
    const err = await spawnMonitor({ command: ["/no/such/program"], direct: true, exitFile }).catch((e) => e);
    expect(err).toBeInstanceOf(MonitorStartError);
    expect(String(err.message)).toContain("exec /no/such/program: No such file or directory");
    const exit = readExitFile(exitFile)!;
    expect(exit.startFailed).toBe(true);
    expect(exit.exitCode).toBe(127);
    expect(exit.error).toContain("/no/such/program");
  });

  test("bad options are refused with a message", async () => {
    const dir = fx.newDir();
    const err = await spawnMonitor({ command: ["true"], direct: true, ttySize: { rows: 0, cols: 80 } }).catch((e) => e);
    expect(err).toBeInstanceOf(MonitorStartError);
    expect(String(err.message)).toContain("--tty-size");
    const tty = await spawnMonitor({ command: ["true"], pidFile: join(dir, "pid"), tty: true }).catch((e) => e);
    expect(String(tty.message)).toContain("--tty needs --console-socket unless --direct");
  });

  test("runtime mode: adopts the process stage 0 left behind (subreaper) and records its end", async () => {
    const dir = fx.newDir();
    const pidFile = join(dir, "container.pid"), exitFile = join(dir, "exit.json");
    // Stand-in for berth-init create: start the "container", write its pid, exit 0.
    const stage0 = `${BUSYBOX} sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > ${pidFile}; echo stage0-done`;
    const m = await spawnMonitor({ command: [BUSYBOX, "sh", "-c", stage0], pidFile, exitFile, logPath: join(dir, "log") });
    const container = Number(readFileSync(pidFile, "utf8"));
    fx.track(m.pid, container);
    expect(parentOf(container)).toBe(m.pid);
    expect(readExitFile(exitFile)).toBeNull();
    process.kill(container, "SIGKILL");
    const exit = await waitExitFile(exitFile);
    expect(exit).toMatchObject({ exitCode: 137, signal: 9, pid: container });
    expect(simple(await records(join(dir, "log")))).toEqual(["stdout F stage0-done"]);
  });

  test("runtime mode: a failing stage 0 is a start failure carrying its stderr", async () => {
    const dir = fx.newDir();
    const exitFile = join(dir, "exit.json");
    const err = await spawnMonitor({
      command: [BUSYBOX, "sh", "-c", "echo 'cannot create the container: boom' >&2; exit 4"],
      pidFile: join(dir, "pid"), exitFile,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(MonitorStartError);
    expect(String(err.message)).toContain("exited with status 4");
    expect(String(err.message)).toContain("cannot create the container: boom");
    expect(readExitFile(exitFile)).toMatchObject({ startFailed: true, exitCode: 4 });
  });

  test("runtime mode: stage 0 exiting 0 without a usable pid file is a start failure", async () => {
    const dir = fx.newDir();
    const err = await spawnMonitor({ command: [BUSYBOX, "true"], pidFile: join(dir, "missing.pid"), pidFileWaitMs: 100 }).catch((e) => e);
    expect(err).toBeInstanceOf(MonitorStartError);
    expect(String(err.message)).toContain("missing.pid: No such file or directory");
    writeFileSync(join(dir, "bad.pid"), "twelve\n");
    const bad = await spawnMonitor({ command: [BUSYBOX, "true"], pidFile: join(dir, "bad.pid") }).catch((e) => e);
    expect(String(bad.message)).toContain("bad.pid: Invalid argument");
    writeFileSync(join(dir, "foreign.pid"), `${process.pid}\n`); // alive, but not the monitor's
    const foreign = await spawnMonitor({ command: [BUSYBOX, "true"], pidFile: join(dir, "foreign.pid") }).catch((e) => e);
    expect(String(foreign.message)).toContain("not the monitor's child");
  });

  test("runtime mode: a pid file written after stage 0 exited is awaited", async () => {
    const dir = fx.newDir();
    const pidFile = join(dir, "container.pid"), exitFile = join(dir, "exit.json");
    // Like the engine: the pid file appears only after stage 0 is gone.
    const stage0 = `${BUSYBOX} sleep 1000 </dev/null >/dev/null 2>&1 & c=$!; ` +
      `(${BUSYBOX} sleep 0.3; echo $c > ${pidFile}.tmp; ${BUSYBOX} mv ${pidFile}.tmp ${pidFile}) </dev/null >/dev/null 2>&1 & exit 0`;
    const m = await spawnMonitor({ command: [BUSYBOX, "sh", "-c", stage0], pidFile, exitFile });
    const container = Number(readFileSync(pidFile, "utf8"));
    fx.track(m.pid, container);
    expect(parentOf(container)).toBe(m.pid);
    process.kill(container, "SIGTERM");
    expect(await waitExitFile(exitFile)).toMatchObject({ exitCode: 143, signal: 15, pid: container });
  });

  test("as the runtime's launcher: fds 3 and 4 reach stage 0, the monitor keeps no copy", async () => {
    const dir = fx.newDir();
    const pidFile = join(dir, "container.pid"), exitFile = join(dir, "exit.json");
    // A stand-in for berth-init create speaking its fd 3/4 protocol: "pid N", wait for "go", "ready".
    const stage0 = `${BUSYBOX} sleep 1000 </dev/null >/dev/null 2>&1 & echo "pid $!" >&3; read go <&4; echo "ready $go" >&3; exit 0`;
    const proc = Bun.spawn([...monitorLauncher({ pidFile, exitFile, logPath: join(dir, "log") }), BUSYBOX, "sh", "-c", stage0], {
      stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"],
    });
    fx.track(proc.pid);
    const fromInit = proc.stdio[3] as number, toInit = proc.stdio[4] as number;
    try {
      const readLine = async () => {
        const buf = Buffer.alloc(256);
        const n = await waitFor("a line from stage 0", () => { try { const k = readSync(fromInit, buf); return k > 0 ? k : false; } catch { return false; } });
        return buf.toString("utf8", 0, n).trim();
      };
      const first = await readLine();
      expect(first).toMatch(/^pid \d+$/);
      const container = Number(first.split(" ")[1]);
      fx.track(container);
      writeSync(toInit, "go\n");
      expect(await readLine()).toBe("ready go");
      writeFileSync(pidFile, `${container}\n`); // the runtime writes it once "ready" came
      await waitFor("adoption by the monitor", () => parentOf(container) === proc.pid);
      // The monitor closed its copies of fds 3/4: with stage 0 gone, the pipes are at EOF.
      const held = readdirSync(`/proc/${proc.pid}/fd`).map((fd) => readlinkSync(`/proc/${proc.pid}/fd/${fd}`));
      for (const fd of [fromInit, toInit]) expect(held).not.toContain(readlinkSync(`/proc/self/fd/${fd}`));
      process.kill(container, "SIGKILL");
      expect(await waitExitFile(exitFile)).toMatchObject({ exitCode: 137, pid: container });
    } finally {
      closeSync(fromInit);
      closeSync(toInit);
    }
  });

  test("the container gets only its stdio and the fds passed on purpose", async () => {
    const passed = join(fx.newDir(), "passed");
    writeFileSync(passed, "x");
    const fd = openSync(passed, "r");
    try {
      // ls runs as the shell's child and lists the shell's fds: exactly what the container got.
      const m = await run([BUSYBOX, "sh", "-c", `${BUSYBOX} ls -l /proc/$$/fd; true`], { passFds: [fd] });
      expect((await waitExitFile(m.exit)).exitCode).toBe(0);
      const lines = (await records(m.log)).map((r) => /(\d+) -> (.*)$/.exec(r.text.toString())).filter((x) => x !== null).map((x) => `${x[1]} ${x[2]}`);
      const fds = lines.map((l) => Number(l.split(" ")[0])).sort((a, b) => a - b);
      expect(fds).toEqual([0, 1, 2, 3]); // nothing of the monitor's leaked
      expect(lines).toContain(`3 ${passed}`);
      expect(lines.find((l) => l.startsWith("0 "))).toBe("0 /dev/null");
      expect(lines.find((l) => l.startsWith("1 "))).toMatch(/^1 pipe:/);
    } finally {
      closeSync(fd);
    }
  });

  test("--tty: the container runs on a terminal of the requested size", async () => {
    const m = await run([BUSYBOX, "sh", "-c", "tty; stty size; exit 7"], { tty: true, ttySize: { rows: 30, cols: 100 } });
    expect((await waitExitFile(m.exit)).exitCode).toBe(7);
    await waitGone(m.monitor);
    const rs = await records(m.log);
    expect(rs.every((r) => r.stream === "stdout")).toBe(true); // a terminal has one stream
    // The terminal's output as written (records joined; the pty turned \n into \r\n).
    const text = rs.map((r) => r.text.toString() + (r.partial ? "" : "\n")).join("");
    expect(text).toMatch(/^\/dev\/pts\/\d+\r\n30 100\r\n$/);
  });

  test("OOM: compares the cgroup's oom_kill counter with the base", async () => {
    const dir = fx.newDir();
    const events = join(dir, "memory.events");
    writeFileSync(events, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 5\noom_group_kill 0\n");
    for (const [base, killed] of [[4, true], [5, false]] as const) {
      const exitFile = join(dir, `exit-${base}.json`);
      await spawnMonitor({ command: [BUSYBOX, "true"], direct: true, exitFile, oomFile: events, oomBase: base });
      expect((await waitExitFile(exitFile)).oomKilled).toBe(killed);
    }
  });

  test("OOM: a process killed by the kernel's OOM killer in a v1 memory cgroup is reported", async () => {
    const own = /^\d+:memory:(.*)$/m.exec(readFileSync("/proc/self/cgroup", "utf8"))?.[1];
    const base = "/sys/fs/cgroup/memory";
    if (own === undefined || !existsSync(join(base, own, "memory.oom_control"))) {
      console.warn("skipped: no cgroup v1 memory controller here");
      return;
    }
    if (HOST.swapEscapesV1Limit) {
      console.warn("skipped: swap is on and not accounted here, so a memory limit cannot force an OOM kill");
      return;
    }
    const cg = join(base, own, `berth-monitor-oom-${process.pid}`);
    mkdirSync(cg);
    try {
      writeFileSync(join(cg, "memory.limit_in_bytes"), String(32 << 20));
      if (existsSync(join(cg, "memory.memsw.limit_in_bytes"))) writeFileSync(join(cg, "memory.memsw.limit_in_bytes"), String(32 << 20));
      const oomFile = join(cg, "memory.oom_control");
      const kills = Number(/^oom_kill (\d+)$/m.exec(readFileSync(oomFile, "utf8"))?.[1] ?? 0);
      // Join the cgroup, then grow a shell variable far past the limit.
      const hog = `echo $$ > ${cg}/cgroup.procs && x=$(${BUSYBOX} head -c 200000000 /dev/zero | ${BUSYBOX} tr '\\0' a); echo survived`;
      const m = await run([BUSYBOX, "sh", "-c", hog], { oomFile, oomBase: kills });
      const exit = await waitExitFile(m.exit, AbortSignal.timeout(30000));
      expect(exit.oomKilled).toBe(true);
      expect(exit.exitCode).toBe(137);
      await waitGone(m.monitor);
    } finally {
      for (const pid of readFileSync(join(cg, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
        try { process.kill(Number(pid), "SIGKILL"); } catch {}
      }
      await waitFor("OOM cgroup to empty", () => readFileSync(join(cg, "cgroup.procs"), "utf8").trim() === "");
      rmdirSync(cg);
    }
  });

  test("the exit command runs, detached, after the exit file is written", async () => {
    const dir = fx.newDir();
    const exitFile = join(dir, "exit.json"), marker = join(dir, "marker");
    const m = await spawnMonitor({
      command: [BUSYBOX, "sh", "-c", "exit 9"], direct: true, exitFile,
      exitCommand: [BUSYBOX, "sh", "-c", `cat ${exitFile} > ${marker}.tmp; echo sid=$(cut -d' ' -f6 /proc/self/stat) pid=$$ >> ${marker}.tmp; mv ${marker}.tmp ${marker}`],
    });
    fx.track(m.pid);
    const text = await waitFor("exit command marker", () => existsSync(marker) && readFileSync(marker, "utf8"));
    const [json, ids] = text.split("\n");
    expect(JSON.parse(json!).exitCode).toBe(9);
    const [, sid, pid] = /sid=(\d+) pid=(\d+)/.exec(ids!)!;
    expect(sid).toBe(pid); // its own session
  });

  test("--exit-command-unless-locked: skipped while someone holds the lock or the file is gone, run when it is free", async () => {
    const dir = fx.newDir();
    const lockFile = join(dir, "lock");
    writeFileSync(lockFile, "");
    const runOnce = async (name: string) => {
      const marker = join(dir, `ran-${name}`);
      const m = await spawnMonitor({
        command: [BUSYBOX, "true"], direct: true, exitFile: join(dir, `exit-${name}.json`),
        exitCommand: [BUSYBOX, "touch", marker], exitCommandUnlessLocked: lockFile,
      });
      fx.track(m.pid);
      await waitExitFile(join(dir, `exit-${name}.json`));
      await waitGone(m.pid);
      return marker;
    };
    // The hook runs detached after the monitor is gone: a marker shows up shortly, or never.
    const appears = async (marker: string) => {
      for (let i = 0; i < 30 && !existsSync(marker); i++) await Bun.sleep(10);
      return existsSync(marker);
    };
    const fd = openSync(lockFile, "r");
    flock(fd, LOCK_EX);
    try {
      expect(await appears(await runOnce("held"))).toBe(false);
    } finally {
      closeSync(fd); // releases the lock
    }
    expect(await appears(await runOnce("free"))).toBe(true);
    rmSync(lockFile);
    expect(await appears(await runOnce("gone"))).toBe(false);
  });

  test("the monitor leaves nothing behind: no process, no socket", async () => {
    const dir = fx.newDir();
    const m = await fx.direct([BUSYBOX, "true"], { attachSocket: join(dir, "attach.sock") }, dir);
    await waitExitFile(m.exit);
    await waitGone(m.monitor);
    expect(alive(m.container)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(["exit.json", "log", "pid"]);
  });
});
