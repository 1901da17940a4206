// Exec routes: create (an exec instance remembered by this service), start (attached or
// detached), resize, inspect. The process runs through `berth exec` (the engine's execProcess):
// without a TTY its stdin, stdout and stderr are pipes to this service; with one, `berth exec -t`
// runs on a terminal of this service's (Bun's pty), whose size changes reach the container's
// terminal through berth-init's relay.
import { randomBytes } from "node:crypto";
import type { Subprocess } from "bun";
import { ApiError, badRequest, conflict, optBool, optStr, optStrList, readJson, sendJson } from "./http.ts";
import type { Ctx, Router } from "./router.ts";
import { detachFilter, openClientStream, parseDetachKeys } from "./stream.ts";

interface ExecInstance {
  id: string;
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  env: string[];
  user?: string;
  workdir?: string;
  privileged: boolean;
  detachKeys?: string;
  running: boolean;
  exitCode: number | null;
  pid: number;
  proc?: Subprocess;
  /** The pty `berth exec -t` runs on (resize goes there). */
  terminal?: { write(d: Uint8Array | string): void; resize(cols: number, rows: number): void; close(): void };
  createdAt: number;
}

const execs = new Map<string, ExecInstance>();
const EXEC_KEPT_MS = 10 * 60_000;

/** argv that runs this berth (set by the service's command line). */
let berthArgv: string[] = ["berth"];
export function setBerthCommand(argv: string[]): void {
  berthArgv = argv;
}

function forget(): void {
  const now = Date.now();
  for (const [id, e] of execs) if (!e.running && now - e.createdAt > EXEC_KEPT_MS) execs.delete(id);
}

async function create(ctx: Ctx): Promise<void> {
  const { engine } = ctx;
  const row = engine.find(ctx.params.id!);
  const v = engine.observe(row);
  if (!v.running) throw conflict(`container ${row.id} is not running`);
  if (v.status === "paused") throw conflict(`container ${row.id} is paused, unpause the container before exec`);
  const body = await readJson(ctx.req);
  const cmd = optStrList(body, "Cmd") ?? [];
  if (cmd.length === 0) throw badRequest("No exec command specified");
  forget();
  const e: ExecInstance = {
    id: randomBytes(32).toString("hex"), containerId: row.id, cmd, tty: optBool(body, "Tty") ?? false,
    stdin: optBool(body, "AttachStdin") ?? false, stdout: optBool(body, "AttachStdout") ?? true, stderr: optBool(body, "AttachStderr") ?? true,
    env: optStrList(body, "Env") ?? [], user: optStr(body, "User") || undefined, workdir: optStr(body, "WorkingDir") || undefined,
    privileged: optBool(body, "Privileged") ?? false, detachKeys: optStr(body, "DetachKeys"), running: false, exitCode: null, pid: 0, createdAt: Date.now(),
  };
  try { parseDetachKeys(e.detachKeys); } catch (err) { throw badRequest((err as Error).message); }
  execs.set(e.id, e);
  ctx.events.emit("container", `exec_create: ${cmd.join(" ")}`, row.id, { execID: e.id, name: row.name, image: row.config.image });
  sendJson(ctx.res!, 201, { Id: e.id });
}

function instance(ctx: Ctx): ExecInstance {
  const e = execs.get(ctx.params.id!);
  if (!e) throw new ApiError(404, `No such exec instance: ${ctx.params.id}`);
  return e;
}

/** `berth exec` in the foreground (a detached exec too: the service waits for its exit code). */
function execArgs(ctx: Ctx, e: ExecInstance, terminal: boolean): string[] {
  const args = [...berthArgv, "--root", ctx.engine.root, "exec"];
  if (e.stdin || terminal) args.push("-i");
  if (terminal) args.push("-t");
  if (e.user) args.push("-u", e.user);
  if (e.workdir) args.push("-w", e.workdir);
  if (e.privileged) args.push("--privileged");
  for (const v of e.env) args.push("-e", v);
  args.push(e.containerId, ...e.cmd);
  return args;
}

/** The console size a start body asks for ([height, width], API 1.42+), or 24x80. */
function consoleSize(body: Record<string, unknown>): { rows: number; cols: number } {
  const c = body.ConsoleSize;
  if (Array.isArray(c) && c.length === 2 && c.every((n) => Number.isInteger(n) && n > 0 && n < 65536)) return { rows: c[0] as number, cols: c[1] as number };
  return { rows: 24, cols: 80 };
}

async function start(ctx: Ctx): Promise<void> {
  const e = instance(ctx);
  const { engine } = ctx;
  if (e.running || e.exitCode !== null) throw conflict(`exec ${e.id} has already been started`);
  const body = await readJson(ctx.req);
  const detach = optBool(body, "Detach") ?? false;
  const row = engine.find(e.containerId);
  if (!engine.observe(row).running) throw conflict(`container ${row.id} is not running`);
  e.running = true;
  const cs = detach ? null : openClientStream(ctx, e.tty);
  let proc: Subprocess;
  if (e.tty && cs) {
    const size = consoleSize(body);
    proc = Bun.spawn(execArgs(ctx, e, true), {
      terminal: { cols: size.cols, rows: size.rows, data: (_t: unknown, d: Uint8Array) => { if (e.stdout) cs.out("stdout", d); } },
    } as Parameters<typeof Bun.spawn>[1]);
    e.terminal = (proc as unknown as { terminal: ExecInstance["terminal"] }).terminal;
  } else if (detach) {
    // Detached: `berth exec` in the foreground of this service, not awaited by the request, so
    // the exec's exit code is known (inspect) when it ends.
    proc = Bun.spawn(execArgs(ctx, e, false), { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  } else {
    proc = Bun.spawn(execArgs(ctx, e, false), { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  }
  e.proc = proc;
  e.pid = proc.pid;
  ctx.events.emit("container", `exec_start: ${e.cmd.join(" ")}`, row.id, { execID: e.id, name: row.name, image: row.config.image });
  const finished = proc.exited.then((code) => {
    e.running = false;
    e.exitCode = code;
    ctx.events.emit("container", "exec_die", row.id, { execID: e.id, exitCode: String(code), name: row.name, image: row.config.image });
  });
  if (!cs) {
    if (ctx.socket) ctx.socket.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    else sendJson(ctx.res!, 200, {});
    return;
  }
  cs.onGone(() => {
    // The client left: the process is ended as Docker's is when its stream goes.
    if (e.running) proc.kill("SIGKILL");
  });
  if (e.terminal) {
    const term = e.terminal;
    const filter = detachFilter(parseDetachKeys(e.detachKeys), () => cs.end());
    if (e.stdin) cs.onInput((d) => { const data = filter(d); if (data.length) term.write(data); });
    await finished;
    term.close();
    cs.end();
    return;
  }
  const stdin = proc.stdin as import("bun").FileSink;
  const pump = async (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr", want: boolean) => {
    for await (const chunk of stream) if (want) cs.out(name, chunk);
  };
  if (e.stdin) {
    cs.onInput((d) => { stdin.write(d); stdin.flush(); });
    cs.onInputEnd(() => { stdin.end(); });
  } else stdin.end();
  await Promise.all([pump(proc.stdout as ReadableStream<Uint8Array>, "stdout", e.stdout), pump(proc.stderr as ReadableStream<Uint8Array>, "stderr", e.stderr), finished]);
  cs.end();
}

function resize(ctx: Ctx): void {
  const e = instance(ctx);
  const h = ctx.query.int("h") ?? 0, w = ctx.query.int("w") ?? 0;
  if (h <= 0 || w <= 0 || h > 65535 || w > 65535) throw badRequest(`invalid terminal size ${w}x${h}`);
  if (e.terminal && e.running) e.terminal.resize(w, h);
  ctx.res!.writeHead(201);
  ctx.res!.end();
}

function inspect(ctx: Ctx): void {
  const e = instance(ctx);
  sendJson(ctx.res!, 200, {
    ID: e.id, Running: e.running, ExitCode: e.exitCode, ProcessConfig: { tty: e.tty, entrypoint: e.cmd[0], arguments: e.cmd.slice(1), privileged: e.privileged, user: e.user ?? "" },
    OpenStdin: e.stdin, OpenStderr: e.stderr, OpenStdout: e.stdout, CanRemove: false, ContainerID: e.containerId, DetachKeys: e.detachKeys ?? "", Pid: e.pid,
  });
}

export function execRoutes(r: Router): void {
  r.on("POST", "/containers/{id}/exec", create);
  r.on("POST", "/exec/{id}/start", start);
  r.on("POST", "/exec/{id}/resize", resize);
  r.on("GET", "/exec/{id}/json", inspect);
}
