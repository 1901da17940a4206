// The monitor's command line for one run of a container: its files and sockets, the OOM report,
// the exit hook, the terminal; stage 0 (berth-init) follows it after "--" (see start.ts).
import { containerCgroup } from "./cgroup.ts";
import type { Engine, StartOptions } from "./handle.ts";
import { MONITOR_BINARY, monitorArgs } from "./monitor.ts";
import type { ContainerRow, HealthConfig } from "./types.ts";

/** How the runtime starts stage 0: behind the monitor, which holds the container's stdio. */
export interface Stage0 {
  launcher: string[];
  consoleSocket: string | undefined;
  stdio: ["ignore", "ignore", "ignore"];
}

/** The monitor's exit hook; a foreground client settles its container itself while it holds
 *  the container's lock, so the monitor runs the hook only if that lock is free (the client was
 *  killed meanwhile) — a flock probe in the monitor instead of a whole berth process. */
export function exitHookFor(engine: Engine, row: ContainerRow, foreground: boolean): { exitCommand?: string[]; exitCommandUnlessLocked?: string } {
  if (!engine.opts.exitCommand) return {};
  const clientSettles = foreground && row.config.restart.name === "no" && !(row.config.tty && row.config.openStdin);
  return { exitCommand: [...engine.opts.exitCommand, row.id], ...(clientSettles ? { exitCommandUnlessLocked: engine.paths.lock(row.id) } : {}) };
}

/** The file the monitor watches for the container's OOM kills (the cgroups know which). */
function oomFile(row: ContainerRow): string | undefined {
  try {
    return containerCgroup(row).oomEventsFile();
  } catch { /* no cgroups: no OOM report */ }
  return undefined;
}

/** The monitor's --periodic-command for a healthcheck (`berth internal health ID`, health.ts), or none. */
function healthMonitorFlags(engine: Engine, id: string, h: HealthConfig | undefined): string[] {
  const cmd = engine.opts.healthCommand;
  if (!h || !cmd || cmd.length === 0) return [];
  const [program, ...args] = [...cmd, id];
  return ["--periodic-command", program!, "--periodic-interval", String(Math.max(1, h.intervalMs)), ...args.flatMap((a) => ["--periodic-command-arg", a])];
}

/** The monitor and its arguments for this run of the container. */
export function monitorStage0(engine: Engine, row: ContainerRow, opts: StartOptions): Stage0 {
  const id = row.id;
  const paths = engine.paths;
  const cfg = row.config;
  const launcher = monitorArgs({
    command: ["-"], pidFile: paths.pidFile(id), logPath: paths.log(id), logMaxBytes: cfg.logMaxBytes,
    exitFile: paths.exitFile(id), oomFile: oomFile(row), oomBase: 0, tty: cfg.tty,
    consoleSocket: cfg.tty ? paths.consoleSocket(id) : undefined, stdin: cfg.openStdin, attachSocket: paths.attachSocket(id),
    ...exitHookFor(engine, row, opts.foreground ?? false), passFds: [3, 4],
    ttySize: opts.consoleSize ? { rows: opts.consoleSize.height, cols: opts.consoleSize.width } : undefined,
  }).slice(0, -1); // stage 0 (berth-init and its arguments) follows after "--"
  // The healthcheck's clock is the monitor (nothing for a container without one).
  const health = healthMonitorFlags(engine, id, cfg.healthcheck);
  return {
    launcher: [MONITOR_BINARY, ...health, ...launcher], consoleSocket: cfg.tty ? paths.consoleSocket(id) : undefined,
    stdio: ["ignore", "ignore", "ignore"],
  };
}
