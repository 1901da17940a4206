// Shared by the runtime's command files: the context, runc's side of the flag grammar
// (../flags.ts), usage errors, tables.
import { type CommandSpec, type FlagSpec, FlagError, HelpRequested, type Parsed, bool, flagLines, parseFlags, str } from "../flags.ts";
import type { StateStore } from "../../runtime/state-store.ts";

export { bool, commandSpec, list, str } from "../flags.ts";

export interface Context {
  store: StateStore;
  warn: (msg: string) => void;
  debug?: (msg: string) => void;
  logError: (msg: string) => void;
  /** --systemd-cgroup: create and run hand it to the runtime, which parses the path and refuses. */
  systemdCgroup: boolean;
}

export type Command = (args: string[], ctx: Context) => Promise<number>;

export class UsageError extends Error {
  exitCode = 2;
}

/**
 * The name the program was run by, as urfave/cli names a program by default: berth-runtime, or
 * whatever it is installed as. Help and `-v` say it, so a copy installed as `runc` (where a tool
 * runs "runc" by name) answers as one, which is what runc's own suite reads back. A development
 * run (`bun src/cli/runtime/main.ts`) is still berth-runtime.
 */
export function programName(): string {
  // (the last path component by hand: node:path costs the short commands' start-up, runtime-light.test.ts)
  const name = (process.argv0 || "").replace(/\/+$/, "").split("/").pop() ?? "";
  return name && !/^(bun|node)(\.exe)?$/.test(name) ? name : "berth-runtime";
}

/** A command's help page, in runc's (urfave/cli's) layout: NAME, USAGE, OPTIONS. */
export function helpText(spec: CommandSpec): string {
  const name = programName();
  const lines = ["NAME:", `   ${name} ${spec.name} - ${spec.summary}`, "", "USAGE:", `   ${name} ${spec.usage}`];
  const flags = flagLines(spec.flags, "runc");
  if (flags.length) lines.push("", "OPTIONS:", ...flags);
  return lines.join("\n");
}

/** Parses a berth-runtime command line (runc's grammar). --help prints the command's help and exits 0. */
export function parse<F extends readonly FlagSpec[]>(spec: CommandSpec<F>, args: readonly string[]): Parsed<F[number]> {
  try {
    return parseFlags(spec, args, "runc");
  } catch (e) {
    if (e instanceof HelpRequested) {
      console.log(helpText(spec));
      process.exit(0);
    }
    if (e instanceof FlagError) throw new UsageError(`${e.message}\nusage: berth-runtime ${spec.usage}`);
    throw e;
  }
}

export function needId(positionals: string[], usage: string): string {
  const id = positionals[0];
  if (!id) throw new UsageError(`missing container ID\nusage: berth-runtime ${usage}`);
  return id;
}

export function uintFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("")).join("\n");
}

/** create's and run's flags. */
export const CREATE_FLAGS = [
  str("bundle", "b", "path to the root of the bundle directory", { default: "." }),
  str("pid-file", undefined, "specify the file to write the process id to"),
  str("console-socket", undefined, "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"),
  bool("no-pivot", undefined, "do not use pivot root to jail process inside rootfs (for a rootfs on a ramdisk)"),
  bool("no-new-keyring", undefined, "do not create a new session keyring for the container"),
  str("preserve-fds", undefined, "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)", "N"),
] as const;
