// berth's side of the flag grammar (../flags.ts): the docker dialect, docker's hints after an
// error ("See 'berth run --help'."), the help page, and the shape of a verb.
import type { Engine } from "../../engine/engine.ts";
import { type CommandSpec, type FlagSpec, FlagError, HelpRequested, Parsed, helpText as helpPage, parseFlags as parse } from "../flags.ts";
import type { Io } from "./io.ts";

export { bool, str, int, num, list, commandSpec, FlagError, HelpRequested, Parsed, type CommandSpec, type FlagSpec, type FlagKind } from "../flags.ts";

/** Exit status of a command line that broke the grammar (docker's). */
export const EXIT_USAGE = 125;

/** Parses a berth command line (docker's grammar). Throws FlagError or HelpRequested. */
export function parseFlags<F extends readonly FlagSpec[]>(spec: CommandSpec<F>, argv: readonly string[]): Parsed<F[number]> {
  return parse(spec, argv, "docker");
}

export function helpText(spec: CommandSpec): string {
  return helpPage(spec, "berth");
}

/** What berth prints for a FlagError, as docker words it (cli/required.go, cobra's flag errors). */
export function flagErrorText(e: FlagError): string {
  const { name, usage, summary } = e.spec;
  const path = name ? `berth ${name}` : "berth";
  if (e.about === "flag") return `${e.message}\nSee '${path} --help'.`;
  return `"${path}" ${e.message}.\nSee '${path} --help'.\n\nUsage:  berth ${usage}\n\n${summary}`;
}

/**
 * Parses argv for spec and runs the command, the same way for every berth verb: --help prints
 * the help page (exit 0), a broken command line prints docker's message (exit 125).
 */
export async function runParsed<F extends readonly FlagSpec[]>(spec: CommandSpec<F>, argv: readonly string[], io: Io, run: (p: Parsed<F[number]>) => Promise<number> | number): Promise<number> {
  let parsed: Parsed<F[number]>;
  try {
    parsed = parseFlags(spec, argv);
  } catch (e) {
    if (e instanceof HelpRequested) { io.out(helpText(spec)); return 0; }
    if (e instanceof FlagError) { io.err(flagErrorText(e) + "\n"); return EXIT_USAGE; }
    throw e;
  }
  return run(parsed);
}

/** A verb that works on the engine (container, volume and system verbs). */
export interface Command {
  spec: CommandSpec;
  run(engine: Engine, p: Parsed, io: Io): Promise<number>;
  /** Runs without the engine's reconcile (fast paths such as the exit hook). */
  noReconcile?: boolean;
}

/** A Command whose handler sees its own flags' names and types. */
export function verb<const F extends readonly FlagSpec[]>(spec: CommandSpec<F>, run: (engine: Engine, p: Parsed<F[number]>, io: Io) => Promise<number>, opts: { noReconcile?: boolean } = {}): Command {
  return { spec, run, ...opts };
}
