// `create`: everything up to the point where the container's init waits for `start`.
// TypeScript resolves the plan; berth-init (C) executes it; on any failure nothing is left:
// no process, no cgroup, no state directory.
import { readFileSync, writeFileSync, renameSync, chmodSync, rmSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Spec } from "../oci/spec.ts";
import { parseSpec, checkContainerId, OciConfigError } from "../oci/validate.ts";
import { OCI_VERSION } from "../oci/version.ts";
import { encodePlan, type PlanRecord } from "../sys/plan-encoding.ts";
import { buildCreatePlanParts, resolveRootfs } from "./plan.ts";
import { StateStore, type ContainerRecord } from "./state-store.ts";
import { startInit, expectMessage, type InitProcess, type Stdio } from "./native.ts";
import { runHooks, runHooksWarnOnly } from "./hooks.ts";
import { processStartTime } from "./proc.ts";
import { CgroupError, openCgroup, parseSystemdCgroupsPath, validateResources, type CgroupManager } from "../cgroups/index.ts";
import { mkfifo, kill } from "../sys/libc.ts";
import { withDefaultDeviceRules, withKnownDeviceAccess } from "./device-rules.ts";
import { cgroupEntryRecords, cgroupMkdirLines } from "./cgroup-entry.ts";
import { seccompCacheDir } from "./seccomp-cache.ts";
import { trace } from "../sys/trace.ts";

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  preserveFds?: number;
  /** Foreground `run`: berth-init stays the init's parent and exits with its status. */
  foreground?: boolean;
  stdio?: [Stdio, Stdio, Stdio];
  /** A program that runs berth-init as its child and stays the container's parent (the
   *  engine's monitor): e.g. ["build/berth-monitor", "--log", F, "--"]. It must pass fds 3/4 through. */
  launcher?: string[];
  debug?: (msg: string) => void;
  warn?: (msg: string) => void;
  /** The bundle's config.json already parsed and validated, when the caller made it (the engine). */
  spec?: Spec;
  /** Work of the caller's that needs the init's pid but not a finished container (the engine records
   *  it, sets up networking, attaches stdio): run while the init builds its root filesystem. */
  whileInitPrepares?: (record: ContainerRecord, init: InitProcess) => Promise<void>;
  /** runc's --systemd-cgroup: cgroupsPath is "slice:prefix:name" and systemd would make the cgroup. */
  systemdCgroup?: boolean;
  /** Stage 0 as startCreateInit started it ahead of time (with these same options). */
  init?: InitProcess;
}

/**
 * Starts stage 0 of a create before the container's spec exists: its exec and self-sealing copy
 * (~4 ms behind a launcher) then overlap with the caller's own preparation (the engine mounts the
 * root filesystem and builds the spec meanwhile). Hand it to createContainer as `init`; a caller
 * that gives up instead closes its control pipes (stage 0 then exits).
 */
export function startCreateInit(opts: Pick<CreateOptions, "foreground" | "consoleSocket" | "stdio" | "launcher" | "preserveFds">, terminal: boolean): InitProcess {
  // Stage 0 waits for the plan's path on its control pipe.
  const flags = opts.foreground ? ["--wait", ...(terminal && !opts.consoleSocket ? ["--console-relay"] : [])] : [];
  return startInit("create", "-", flags, opts.stdio, opts.launcher, opts.preserveFds);
}

export interface Created {
  record: ContainerRecord;
  init: InitProcess;
}

export function loadBundleSpec(bundle: string): Spec {
  let text: string;
  try {
    text = readFileSync(join(bundle, "config.json"), "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OciConfigError(code === "ENOENT" ? `no config.json in bundle ${bundle} (create one with: berth-runtime spec --bundle ${bundle})` : `read ${bundle}/config.json: ${(e as Error).message}`);
  }
  return parseSpec(text);
}

export function writePidFile(path: string, pid: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, String(pid));
  renameSync(tmp, path);
}

/**
 * --systemd-cgroup: the path is parsed as runc parses it (a malformed one is the user's error to
 * hear about first), then refused: without systemd as PID 1 there is no one to ask for the unit
 * (runc's words), and with one berth-runtime still drives cgroupfs only.
 */
function refuseSystemdCgroup(cgroupsPath: string | undefined, id: string): void {
  const unit = parseSystemdCgroupsPath(cgroupsPath, id);
  if (!existsSync("/run/systemd/system")) throw new CgroupError("systemd not running on this host, cannot use systemd cgroups manager");
  throw new CgroupError(`--systemd-cgroup is not supported: berth-runtime manages cgroupfs directly (cgroupsPath would be unit ${unit.unit} in ${unit.slice}); run without --systemd-cgroup and give a path such as /berth/${id}`);
}

export async function createContainer(store: StateStore, opts: CreateOptions): Promise<Created> {
  let spec: Spec, bundle: string, rootfs: string, dir: string;
  try {
    checkContainerId(opts.id);
    bundle = resolve(opts.bundle);
    spec = opts.spec ?? loadBundleSpec(bundle);
    trace("create: spec parsed");
    if (opts.systemdCgroup) refuseSystemdCgroup(spec.linux?.cgroupsPath, opts.id);
    if (spec.process?.terminal && !opts.consoleSocket && !opts.foreground) {
      throw new OciConfigError("process.terminal is true but no --console-socket was given: a detached container needs somewhere to send its terminal (or set terminal to false)");
    }
    if (spec.linux?.resources) spec = { ...spec, linux: { ...spec.linux, resources: withKnownDeviceAccess(spec.linux.resources, opts.warn ?? warnOnStderr) } };
    // Bad resource values are refused before anything exists (they would otherwise surface only
    // once the init is cloned and the groups are made).
    if (spec.linux?.resources) validateResources(spec.linux.resources);
    rootfs = resolveRootfs(spec, bundle);
    dir = store.claim(opts.id);
  } catch (e) {
    // A stage 0 started ahead must not wait for a plan that never comes.
    opts.init?.closeControl();
    opts.init?.proc.kill(9);
    throw e;
  }
  let cgroup: CgroupManager | undefined;
  let init: InitProcess | undefined;
  let pid = 0;
  try {
    // Stage 0 starts now (unless the caller started it earlier) and waits for the plan's path:
    // its exec and self-sealing copy overlap with building the plan below.
    init = opts.init ?? startCreateInit(opts, !!spec.process?.terminal);
    const group = openCgroup({ cgroupsPath: spec.linux?.cgroupsPath, containerId: opts.id });
    // A group that already exists frozen would hold the init stopped forever (create would hang
    // waiting for it): refused in runc's words, and left as it was (it is not ours to remove).
    if (isFrozen(group)) throw new CgroupError(`container's cgroup unexpectedly frozen: ${spec.linux?.cgroupsPath ?? opts.id} (thaw it or give another cgroupsPath)`);
    const already = pidsOf(group);
    // runc 1.2 refuses a group that already holds processes (1.1 warned): the new container's
    // limits and its kill/delete would reach processes that are not its own.
    if (already.length) throw new CgroupError(`container's cgroup is not empty: ${already.length} process(es) found (give another cgroupsPath, or stop what runs in ${spec.linux?.cgroupsPath ?? opts.id})`);
    cgroup = group;
    const rootless = (process.geteuid?.() ?? 0) !== 0;
    let noCgroup = false;
    const mkdirLines = rootless ? undefined : cgroupMkdirLines(cgroup);
    if (mkdirLines) {
      // Stage 0 makes the groups meanwhile (a failure comes back where the pid is expected).
      for (const line of mkdirLines) init.send(line);
      trace("create: cgroups asked for");
    } else {
      try {
        cgroup.create();
        trace("create: cgroup created");
      } catch (e) {
        // Like runc rootless: no delegated cgroup is fine as long as no limits were asked for.
        if (!rootless || spec.linux?.resources) throw e;
        noCgroup = true;
      }
    }
    const parts = buildCreatePlanParts(spec, {
      bundle, stateDir: dir, seccompCacheDir: seccompCacheDir(store.root), noPivot: opts.noPivot, consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : undefined,
      preserveFds: opts.preserveFds, cgroupDirs: noCgroup ? {} : cgroup.paths(),
      warn: opts.warn ?? warnOnStderr,
    });
    const planPath = join(dir, "plan"), initPlanPath = join(dir, "plan.init");
    const plan: PlanRecord[] = [...parts.stage0, ...(noCgroup ? [] : cgroupEntryRecords(cgroup, opts.foreground ?? false)), ["plan_more", initPlanPath]];
    writeFileSync(planPath, encodePlan(plan));
    init.send(`plan ${planPath}`);
    trace("create: plan sent");
    // --debug names the steps as runc's debug log does (nsexec, init(), the completion pipe), so
    // that the two runtimes' logs read alike.
    opts.debug?.(`nsexec container setup: berth-init clones the init of ${opts.id} into its namespaces`);
    // While stage 0 loads its part and clones the init (new namespaces: ~1.5 ms): the init's part
    // of the plan (read after "go"), the state, the fifo (opened after "go"; nothing in C reads the state).
    const initPlan = parts.init();
    writeFileSync(initPlanPath, encodePlan(initPlan));
    opts.debug?.(`plan for ${opts.id}: ${JSON.stringify([...plan, ...initPlan])}`);
    mkfifo(join(dir, "exec.fifo"), 0o622);
    chmodSync(join(dir, "exec.fifo"), 0o622); // past the umask: a user-namespaced init must open it
    const record: ContainerRecord = {
      id: opts.id, bundle, rootfs, pid: 0, pidStartTime: "", created: new Date().toISOString(),
      owner: safeUserName(), annotations: spec.annotations, config: spec, cgroupsPath: spec.linux?.cgroupsPath, ...(noCgroup ? { noCgroup } : { cgroupDirs: cgroup.paths() }),
    };
    store.write(record);
    trace("create: state written");
    pid = Number(expectMessage(init, "pid "));
    trace("create: init pid");
    // Written now, not after "ready": a launcher (the engine's monitor) reads it as soon as
    // stage 0 exits, which is right after it relays "ready".
    if (opts.pidFile) writePidFile(resolve(opts.pidFile), pid);
    // Stage 0 is moving the init into the cgroups meanwhile; limits go on the groups themselves.
    const resources = withDefaultDeviceRules(spec.linux?.resources);
    if (!noCgroup) cgroup.apply(resources);
    trace("create: resources applied");
    expectMessage(init, "joined");
    trace("create: joined");
    opts.debug?.(`child process in init(): pid ${pid}, in its namespaces and cgroups`);
    record.pid = pid;
    record.pidStartTime = processStartTime(pid) ?? "";
    store.write(record);
    const state = { ociVersion: OCI_VERSION, id: opts.id, status: "creating" as const, pid, bundle, ...(spec.annotations ? { annotations: spec.annotations } : {}) };
    await runHooks("prestart", spec.hooks?.prestart, state);
    await runHooks("createRuntime", spec.hooks?.createRuntime, state);
    init.send(`go ${JSON.stringify(state)}`);
    try {
      await opts.whileInitPrepares?.(record, init);
    } catch (e) {
      // The init may have failed meanwhile (a command that does not exist, say) and taken its
      // namespaces with it: its own error is the one to report, not what the caller then tripped on.
      expectMessage(init, "ready");
      throw e;
    }
    expectMessage(init, "ready");
    trace("create: ready");
    opts.debug?.("init: closing the pipe to signal completion: the init waits on exec.fifo for start");
    if (!opts.foreground) {
      init.closeControl();
      if (!opts.launcher) await init.proc.exited; // a launcher (monitor) outlives us
      else init.proc.unref();
    }
    return { record, init };
  } catch (e) {
    if (pid) kill(pid, 9);
    if (pid && opts.pidFile) rmSync(resolve(opts.pidFile), { force: true });
    if (init) {
      init.closeControl();
      init.proc.kill(9);
      await init.proc.exited;
    }
    try {
      cgroup?.destroy();
    } catch { /* best effort: report the original error */ }
    store.remove(opts.id);
    // runtime-spec: a failed create continues at the delete step, and delete runs poststop.
    if (pid) {
      const state = { ociVersion: OCI_VERSION, id: opts.id, status: "stopped" as const, pid, bundle, ...(spec.annotations ? { annotations: spec.annotations } : {}) };
      await runHooksWarnOnly("poststop", spec.hooks?.poststop, state, opts.warn ?? warnOnStderr);
    }
    throw e;
  }
}

function warnOnStderr(msg: string): void {
  process.stderr.write(`berth-runtime: warning: ${msg}\n`);
}

function pidsOf(group: CgroupManager): number[] {
  try {
    return group.pids();
  } catch {
    return []; // no such group yet
  }
}

function isFrozen(group: CgroupManager): boolean {
  try {
    return group.frozen();
  } catch {
    return false; // no such group yet, or no freezer
  }
}

/** The owner runc reports: the user name of whoever created the container. */
function safeUserName(): string {
  const uid = process.getuid?.() ?? 0;
  try {
    const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.split(":")[2] === String(uid));
    if (line) return line.split(":")[0]!;
  } catch { /* no passwd file: fall back to the number */ }
  return String(uid);
}
