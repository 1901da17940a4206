// Command-line flags for berth-runtime, in the subset of node:util's parseArgs that runc's
// command line needs (--name value, --name=value, -x, -x value, grouped -abc, --, repeated
// flags). Own code because importing node:util costs ~4 ms in Bun, paid by every container start.
export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
}

type One<S extends FlagSpec> = S["type"] extends "string" ? string : boolean;
export type FlagValues<T extends Record<string, FlagSpec>> = {
  [K in keyof T]?: T[K]["multiple"] extends true ? One<T[K]>[] : One<T[K]>;
};

export class FlagError extends Error {
  exitCode = 2;
}

/** Parses flags and positionals. With stopAtPositional, parsing ends at the first positional,
 *  which is returned with everything after it in `rest` (global flags before a command). */
export function parseFlags<T extends Record<string, FlagSpec>>(args: readonly string[], options: T, stopAtPositional = false): { values: FlagValues<T>; positionals: string[]; rest: string[] } {
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) if (spec.short) byShort.set(spec.short, name);
  const set = (name: string, value: string | boolean) => {
    const spec = options[name]!;
    if (spec.multiple) ((values[name] ??= []) as unknown[]).push(value);
    else values[name] = value;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = options[name];
      if (!spec) throw new FlagError(`Unknown option '--${name}'`);
      if (spec.type === "boolean") {
        if (eq >= 0) throw new FlagError(`Option '--${name}' does not take a value`);
        set(name, true);
      } else if (eq >= 0) set(name, arg.slice(eq + 1));
      else {
        if (i + 1 >= args.length) throw new FlagError(`Option '--${name} <value>' needs a value`);
        set(name, args[++i]!);
      }
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // -abc: booleans grouped; a string flag takes the rest of the word or the next argument.
      for (let j = 1; j < arg.length; j++) {
        const name = byShort.get(arg[j]!);
        if (!name) throw new FlagError(`Unknown option '-${arg[j]}'`);
        if (options[name]!.type === "boolean") {
          set(name, true);
          continue;
        }
        const rest = arg.slice(j + 1);
        if (rest) set(name, rest);
        else if (i + 1 < args.length) set(name, args[++i]!);
        else throw new FlagError(`Option '-${arg[j]} <value>' needs a value`);
        break;
      }
      continue;
    }
    if (stopAtPositional) return { values: values as FlagValues<T>, positionals: [arg], rest: args.slice(i + 1) };
    positionals.push(arg);
  }
  return { values: values as FlagValues<T>, positionals, rest: [] };
}
