// `exec`: another process in a running container. The process is the container's own
// (env, user, capabilities, no_new_privs, seccomp, rlimits) with what the caller overrides.
import { cgroupEntryRecords, subCgroupEntryRecords } from "./cgroup-entry.ts";
import { readFileSync, writeFileSync, unlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Process } from "../oci/spec.ts";
import { OciConfigError, checkProcessUser, refuseNul } from "../oci/validate.ts";
import { encodePlan, type PlanRecord } from "../sys/plan-encoding.ts";
import { personalityRecord, processRecords } from "./plan.ts";
import type { StateStore } from "./state-store.ts";
import { statusOf, containerCgroup, hookState } from "./status.ts";
import { startInit, expectMessage, initFailure, type Stdio } from "./native.ts";
import { seccompCacheDir, seccompPlanRecords } from "./seccomp-cache.ts";
import { writePidFile } from "./create.ts";

export interface ExecOptions {
  id: string;
  process: Process;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  stdio?: [Stdio, Stdio, Stdio];
  /** Called with the process's host pid once it is started. */
  onPid?: (pid: number) => void;
  /** runc's --ignore-paused: exec into a paused container (the process starts once it is resumed). */
  ignorePaused?: boolean;
  /** runc's --cgroup: join these existing sub-groups of the container's (see subCgroupEntryRecords). */
  subCgroups?: Record<string, string>;
  /** --debug: each step, named as runc's debug log names it (nsexec, init(), setns_init). */
  debug?: (msg: string) => void;
}

/** Reads a --process file (a runtime-spec process object). */
export function loadProcessFile(path: string): Process {
  let p: unknown;
  try {
    p = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new OciConfigError(`--process ${path}: ${(e as Error).message}`);
  }
  const proc = p as Process;
  if (!proc || typeof proc !== "object" || !Array.isArray(proc.args) || typeof proc.cwd !== "string") {
    throw new OciConfigError(`--process ${path}: needs at least args and cwd`);
  }
  // As runc: a process without a user runs as 0:0 (runc's tty.bats writes such files).
  if (proc.user === undefined) proc.user = { uid: 0, gid: 0 };
  else if (typeof proc.user !== "object" || proc.user === null) throw new OciConfigError(`--process ${path}: user must be an object ({"uid": N, "gid": N})`);
  refuseNul(proc, `--process ${path}`, "process");
  return proc;
}

/** Runs the process; resolves with its exit status (foreground) or 0 once started (detach). */
export async function execInContainer(store: StateStore, opts: ExecOptions): Promise<number> {
  const rec = store.read(opts.id);
  const status = statusOf(store, rec);
  // runc's words: "cannot exec in a stopped/paused container".
  if (status === "paused" && !opts.ignorePaused) throw new Error("cannot exec in a paused container (use --ignore-paused to override)");
  if (status !== "running" && status !== "created" && status !== "paused") throw new Error(`cannot exec in a ${status} container`);
  // The same id rules as config.json's process, whether it came from --process or from flags.
  checkProcessUser(opts.process.user, "exec: process.user");
  if (opts.process.terminal && opts.detach && !opts.consoleSocket) {
    throw new OciConfigError("cannot allocate a terminal for a detached exec without --console-socket");
  }
  const plan: PlanRecord[] = [["join_pid", rec.pid]];
  if (opts.subCgroups && rec.noCgroup) throw new Error(`--cgroup: container ${rec.id} has no cgroup of its own`);
  if (!rec.noCgroup) plan.push(...(opts.subCgroups ? subCgroupEntryRecords(containerCgroup(rec), opts.subCgroups) : cgroupEntryRecords(containerCgroup(rec), false)));
  plan.push(...processRecords(opts.process, { consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : undefined, preserveFds: opts.preserveFds, cpusetCpus: !!rec.config.linux?.resources?.cpu?.cpus }));
  // The container's personality applies to every process run in it (runc 1.2).
  if (rec.config.linux?.personality) plan.push(personalityRecord(rec.config.linux.personality));
  if (rec.config.linux?.seccomp) {
    plan.push(...seccompPlanRecords(rec.config.linux.seccomp, seccompCacheDir(store.root)));
    plan.push(["state_json", JSON.stringify(hookState(store, rec))]); // for a seccomp notify listener
  }
  const planPath = join(store.dir(opts.id), `exec-${process.pid}-${Date.now()}.plan`);
  writeFileSync(planPath, encodePlan(plan));
  try {
    const flags = opts.detach ? [] : ["--wait", ...(opts.process.terminal && !opts.consoleSocket ? ["--console-relay"] : [])];
    const init = startInit("exec", planPath, flags, opts.stdio, [], opts.preserveFds);
    opts.debug?.(`nsexec container setup: berth-init joins the namespaces of pid ${rec.pid}`);
    const pid = Number(expectMessage(init, "pid "));
    opts.debug?.(`child process in init(): pid ${pid}, in the container's namespaces`);
    const started = init.next();
    const failure = started === null ? null : initFailure(started);
    if (started === null || failure) {
      const code = await init.proc.exited;
      // The command's own failure carries its status (127 missing, 126 cannot run); any other
      // failure to start the process (cwd, user, seccomp…) is 126 as docker's exec gives it.
      throw Object.assign(new Error(failure?.message ?? `exec failed (status ${code})`), { exitCode: failure?.exitCode ?? 126 });
    }
    opts.debug?.(`setns_init: about to exec ${JSON.stringify(opts.process.args ?? [])}`);
    if (opts.pidFile) writePidFile(resolve(opts.pidFile), pid);
    opts.onPid?.(pid);
    init.closeControl();
    return await init.proc.exited;
  } finally {
    unlinkSync(planPath);
  }
}
