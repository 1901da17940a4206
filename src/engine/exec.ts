// `berth exec` and `berth top`: another process in a running container (the container's own
// process settings with the caller's overrides), and the container's process list read from /proc.
import { readFileSync } from "node:fs";
import type { Process } from "../oci/spec.ts";
import { execInContainer } from "../runtime/exec.ts";
import { containerCgroup } from "./cgroup.ts";
import type { ContainerRow } from "./types.ts";
import { hostCapabilities } from "./host.ts";
import type { Engine } from "./engine.ts";
import { EngineError, EXIT_CANNOT_INVOKE, EXIT_NOT_FOUND } from "./errors.ts";
import { expandEnv, mergeEnv, readEnvFile } from "./options.ts";
import { resolveUser } from "./users.ts";

export interface ExecRequest {
  cmd: string[];
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  env?: string[];
  envFiles?: string[];
  user?: string;
  workdir?: string;
  privileged?: boolean;
  /** stdout and stderr to this fd instead of the caller's (the healthcheck's probe output). */
  output?: number;
  /** Told the exec'd process's host pid once it runs (to kill it after a timeout). */
  onPid?: (pid: number) => void;
}

export async function execProcess(engine: Engine, ref: string, req: ExecRequest): Promise<number> {
  const row = engine.find(ref);
  const view = engine.observe(row);
  if (!view.running) throw new EngineError(`container ${row.id} is not running`);
  if (view.status === "paused") throw new EngineError(`container ${row.id} is paused, unpause the container before exec`);
  if (req.cmd.length === 0) throw new EngineError("no command specified for exec");
  const rec = engine.runtime.read(row.id);
  const base = rec.config.process!;
  const env = mergeEnv(base.env ?? [], (req.envFiles ?? []).flatMap(readEnvFile), (req.env ?? []).map((e) => expandEnv(e)).filter((e): e is string => e !== null));
  let user = base.user;
  if (req.user !== undefined) {
    const u = resolveUser(engine.paths.rootfs(row.id), req.user);
    user = { uid: u.uid, gid: u.gid, ...(u.additionalGids.length ? { additionalGids: u.additionalGids } : {}) };
  }
  const tty = (req.tty ?? false) && !req.detach;
  const proc: Process = {
    ...base,
    terminal: tty,
    args: req.cmd,
    env,
    user,
    cwd: req.workdir ?? base.cwd,
    ...(req.privileged ? { capabilities: { bounding: hostCapabilities(), effective: hostCapabilities(), permitted: hostCapabilities() } } : {}),
  };
  if (tty && process.stdout.isTTY) proc.consoleSize = { height: process.stdout.rows || 24, width: process.stdout.columns || 80 };
  try {
    return await execInContainer(engine.runtime, {
      id: row.id, process: proc, detach: req.detach, onPid: req.onPid,
      stdio: req.detach ? ["ignore", "ignore", "ignore"] : req.output !== undefined ? ["ignore", req.output, req.output] : [req.interactive ? "inherit" : "ignore", "inherit", "inherit"],
    });
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    const msg = (e as Error).message;
    if (code === EXIT_NOT_FOUND || code === EXIT_CANNOT_INVOKE) throw new EngineError(`OCI runtime exec failed: ${msg}`, code);
    throw new EngineError(msg);
  }
}

const HZ = 100;

function procStat(pid: number): string[] | null {
  try {
    const t = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = t.lastIndexOf(")");
    return [t.slice(0, close + 1), ...t.slice(close + 2).split(" ")];
  } catch {
    return null;
  }
}

function bootTime(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((x) => x.startsWith("btime "));
  return Number(line?.split(" ")[1] ?? 0);
}

/** ps -ef's columns for every process in the container's cgroup. */
export function containerTop(row: Pick<ContainerRow, "id" | "config">): { titles: string[]; processes: string[][] } {
  const pids = containerCgroup(row).pids().sort((a, b) => a - b);
  const boot = bootTime();
  const processes: string[][] = [];
  const users = new Map<string, string>();
  try {
    for (const l of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const f = l.split(":");
      if (f[2] !== undefined) users.set(f[2], f[0]!);
    }
  } catch { /* numeric uids */ }
  for (const pid of pids) {
    const st = procStat(pid);
    if (!st) continue;
    let uid = "0";
    try {
      uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "0";
    } catch { continue; }
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
    } catch { /* gone */ }
    if (!cmd) cmd = `[${st[0]!.slice(st[0]!.indexOf("(") + 1, -1)}]`;
    const start = new Date((boot + Number(st[20]) / HZ) * 1000);
    const cpu = Math.floor((Number(st[12]) + Number(st[13])) / HZ);
    const tty = Number(st[5]) === 0 ? "?" : `pts/${Number(st[5]) & 0xff}`;
    const time = `${String(Math.floor(cpu / 3600)).padStart(2, "0")}:${String(Math.floor(cpu / 60) % 60).padStart(2, "0")}:${String(cpu % 60).padStart(2, "0")}`;
    processes.push([users.get(uid) ?? uid, String(pid), st[2]!, "0", `${String(start.getHours()).padStart(2, "0")}:${String(start.getMinutes()).padStart(2, "0")}`, tty, time, cmd]);
  }
  return { titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], processes };
}

/** Pids of the container that are still there (for leak checks). */
export function containerPids(row: Pick<ContainerRow, "id" | "config">): number[] {
  try {
    return containerCgroup(row).pids();
  } catch {
    return [];
  }
}
