// process.terminal: with --console-socket the pty master goes to the socket (SCM_RIGHTS) as runc
// does, consoleSize sets the window; exec -t likewise; a foreground `run` relays the pty.
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { makeBusyboxBundle, type Bundle } from "../helpers/bundle.ts";
import { IS_BERTH, ok, runtime, stateOf, uniqueId, useStateRoot, waitFor, useCleanups } from "../helpers/runtime.ts";

const root = useStateRoot();
const SERVER = join(import.meta.dir, "fixtures/console-server.py");
const defer = useCleanups();

interface ConsoleServer {
  socket: string;
  /** Resolves when the pty has closed: what arrived and what the container printed. */
  done(): Promise<{ report: { fds: number; target?: string }; output: string }>;
}

async function consoleServer(typed = ""): Promise<ConsoleServer> {
  const dir = mkdtempSync(join(tmpdir(), "berth-console-"));
  chmodSync(dir, 0o755);
  const socket = join(dir, "console.sock"), out = join(dir, "out");
  const proc: Subprocess<"ignore", "pipe", "inherit"> = Bun.spawn(["python3", SERVER, socket, out, typed], { stdio: ["ignore", "pipe", "inherit"] });
  defer(() => {
    proc.kill(9);
    rmSync(dir, { recursive: true, force: true });
  });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("listening\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("console server exited early");
    text += new TextDecoder().decode(value);
  }
  return {
    socket,
    async done() {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      await proc.exited;
      const report = JSON.parse(text.split("\n").filter(Boolean).at(-1)!);
      return { report, output: existsSync(out) ? readFileSync(out, "utf8") : "" };
    },
  };
}

function bundle(args: string[]): Bundle {
  const b = makeBusyboxBundle({ args });
  b.config.process!.terminal = true;
  b.save();
  defer(() => b.cleanup());
  return b;
}

describe("terminal", () => {
  test("the pty belongs to the process's user (uid), group tty from devpts (runc's tty.bats)", async () => {
    const server = await consoleServer();
    const b = bundle(["sh", "-c", "stat -c %u:%g $(tty)"]);
    b.config.process!.user = { uid: 1000, gid: 100 };
    b.save();
    const id = uniqueId("tty");
    ok(root, ["run", "-d", "-b", b.dir, "--console-socket", server.socket, id]);
    const { output } = await server.done();
    expect(output.split(/\r?\n/)).toContain("1000:5");
  });

  test("create --console-socket: the pty master arrives, consoleSize applies, output and input flow", async () => {
    const server = await consoleServer("ping\n");
    const b = bundle(["sh", "-c", "tty; stty size; read x; echo got:$x"]);
    b.config.process!.consoleSize = { height: 30, width: 100 };
    b.save();
    const id = uniqueId("tty");
    ok(root, ["create", "-b", b.dir, "--console-socket", server.socket, id]);
    ok(root, ["start", id]);
    const { report, output } = await server.done();
    expect(report.fds).toBe(1);
    expect(report.target).toMatch(/^\/dev\/(pts\/)?ptmx$/);
    const lines = output.split(/\r?\n/);
    expect(lines).toContain("/dev/pts/0");
    expect(lines).toContain("30 100");
    expect(lines).toContain("got:ping");
    await waitFor(() => stateOf(root, id).status === "stopped", "the container to exit");
  });

  test("the terminal's process has it as stdin/stdout/stderr and controlling tty", async () => {
    const server = await consoleServer();
    const b = bundle(["sh", "-c", "for f in 0 1 2; do readlink /proc/self/fd/$f; done; : </dev/tty && echo ctty-ok"]);
    const id = uniqueId("ctty");
    ok(root, ["run", "-d", "-b", b.dir, "--console-socket", server.socket, id]);
    const { output } = await server.done();
    const lines = output.split(/\r?\n/);
    expect(lines.filter((l) => l === "/dev/pts/0").length).toBeGreaterThanOrEqual(3);
    expect(lines).toContain("ctty-ok");
  });

  test("exec -d -t --console-socket", async () => {
    const b = makeBusyboxBundle({ args: ["sleep", "1000"] });
    defer(() => b.cleanup());
    const id = uniqueId("exect");
    ok(root, ["run", "-d", "-b", b.dir, id]);
    const server = await consoleServer();
    // runc insists on -d with --console-socket for exec.
    const r = runtime(root, ["exec", "-d", "-t", "--console-socket", server.socket, id, "tty"]);
    expect(r.code).toBe(0);
    const { report, output } = await server.done();
    expect(report.fds).toBe(1);
    expect(output.split(/\r?\n/)).toContain("/dev/pts/0");
  });

  test("terminal without --console-socket for a detached container is refused", () => {
    const b = bundle(["true"]);
    const id = uniqueId("notty");
    const r = runtime(root, ["create", "-b", b.dir, id]);
    expect(r.code).not.toBe(0);
    if (IS_BERTH) expect(r.stderr).toMatch(/console-socket/);
    expect(existsSync(join(root, id))).toBe(false);
  });

  // runc attaches its own stdin, which must then be a terminal; berth relays the pty through pipes.
  test.if(IS_BERTH)("foreground run with a terminal relays the pty to the caller", () => {
    const b = bundle(["sh", "-c", "tty; exit 5"]);
    const r = runtime(root, ["run", "-b", b.dir, uniqueId("fgtty")], { stdin: "" });
    expect(r.code).toBe(5);
    expect(r.stdout.split(/\r?\n/)).toContain("/dev/pts/0");
  });
});
