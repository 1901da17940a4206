// Attach: live output (framed for pipes, raw for a terminal), stdin, close-stdin, resize,
// several clients at once, and socket paths longer than sun_path.
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitExitFile, type MonitorOptions } from "../../src/engine/monitor.ts";
import { attach, type AttachSession, type StreamName } from "../../src/engine/logs.ts";
import { BUSYBOX, monitorFixture, waitFor } from "./helpers.ts";

const fx = monitorFixture();

/** A direct-mode monitor with an attach socket (in SOCKETDIR below the test's dir, when given). */
async function start(command: string[], extra: Partial<MonitorOptions> = {}, socketDir?: string) {
  const dir = fx.newDir();
  const sockDir = socketDir ? join(dir, socketDir) : dir;
  mkdirSync(sockDir, { recursive: true });
  const sock = join(sockDir, "attach.sock");
  return { ...(await fx.direct(command, { cwd: dir, attachSocket: sock, ...extra }, dir)), sock };
}

/** Attaches and collects output per stream as text. */
async function collect(sock: string, tty: boolean): Promise<{ session: AttachSession; out: Record<StreamName, string> }> {
  const out: Record<StreamName, string> = { stdout: "", stderr: "" };
  const session = await attach(sock, { tty, onOutput: (s, d) => { out[s] += Buffer.from(d).toString(); } });
  return { session, out };
}

describe("attach", () => {
  test("pipes: stdin reaches the container, output comes back demultiplexed, EOF at exit", async () => {
    const p = await start([BUSYBOX, "sh", "-c", "read line; echo got:$line; echo err:$line >&2; exit 6"], { stdin: true });
    const { session, out } = await collect(p.sock, false);
    session.write("hello\n");
    await session.closed;
    expect(out).toEqual({ stdout: "got:hello\n", stderr: "err:hello\n" });
    expect((await waitExitFile(p.exit)).exitCode).toBe(6);
  });

  test("pipes: closing stdin gives the container EOF", async () => {
    const p = await start([BUSYBOX, "cat"], { stdin: true });
    const { session, out } = await collect(p.sock, false);
    const big = "0123456789".repeat(20000) + "\n"; // larger than a pipe and a frame
    session.write(big);
    session.closeStdin();
    await session.closed;
    expect(out.stdout.length).toBe(big.length);
    expect(out.stdout).toBe(big);
    expect((await waitExitFile(p.exit)).exitCode).toBe(0);
  });

  test("without --stdin the container's stdin is /dev/null and client input is dropped", async () => {
    // The program waits for a go file, so the client is attached before it runs cat.
    const p = await start([BUSYBOX, "sh", "-c", "while [ ! -e go ]; do sleep 0.01; done; cat; echo eof; sleep 1000"]);
    const { session, out } = await collect(p.sock, false);
    session.write("ignored\n");
    writeFileSync(join(p.dir, "go"), "");
    await waitFor("eof line", () => out.stdout.includes("eof"));
    expect(out.stdout).toBe("eof\n");
    session.detach();
    await session.closed;
  });

  test("tty: raw output, stdin through the terminal, resize reaches the program", async () => {
    const p = await start([BUSYBOX, "sh"], { tty: true, stdin: true, ttySize: { rows: 24, cols: 80 } });
    const { session, out } = await collect(p.sock, true);
    session.resize(33, 77);
    session.write("stty size; exit 5\n");
    await session.closed;
    expect(out.stdout).toContain("33 77\r\n");
    expect(out.stderr).toBe("");
    expect((await waitExitFile(p.exit)).exitCode).toBe(5);
  });

  test("two clients receive the same output; detaching one leaves the container running", async () => {
    const p = await start([BUSYBOX, "sh", "-c", "while read l; do echo \"> $l\"; done"], { stdin: true });
    const a = await collect(p.sock, false);
    const b = await collect(p.sock, false);
    a.session.write("one\n");
    await waitFor("both see one", () => a.out.stdout === "> one\n" && b.out.stdout === "> one\n");
    a.session.detach();
    await a.session.closed;
    b.session.write("two\n");
    await waitFor("b sees two", () => b.out.stdout === "> one\n> two\n");
    b.session.closeStdin();
    await b.session.closed;
    expect((await waitExitFile(p.exit)).exitCode).toBe(0);
  });

  test("a client that stops reading holds output back only until it goes away", async () => {
    const p = await start([BUSYBOX, "sh", "-c", "while [ ! -e go ]; do sleep 0.01; done; head -c 3000000 /dev/zero; echo done"]);
    const { createConnection } = await import("node:net");
    const stuck = createConnection({ path: p.sock });
    await new Promise<void>((r) => stuck.once("connect", () => r()));
    stuck.pause(); // reads nothing: the monitor's copy for it fills the socket buffer
    writeFileSync(join(p.dir, "go"), "");
    await waitFor("the container to block on output", () => readFileSync(p.log, "utf8").length > 0);
    stuck.destroy();
    const exit = await waitExitFile(p.exit, AbortSignal.timeout(20000));
    expect(exit.exitCode).toBe(0);
    expect(readFileSync(p.log, "utf8")).toMatch(/ stdout F done\n$/);
  });

  test("a socket path longer than sun_path (108 bytes) works", async () => {
    const deep = "d".repeat(60) + "/" + "e".repeat(60);
    const p = await start([BUSYBOX, "sh", "-c", "read l; echo $l"], { stdin: true }, deep);
    expect(Buffer.byteLength(p.sock)).toBeGreaterThan(108);
    const { session, out } = await collect(p.sock, false);
    session.write("long-path\n");
    await session.closed;
    expect(out.stdout).toBe("long-path\n");
  });
});
