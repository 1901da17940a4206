// The one flag grammar of both command lines. Each command declares its flags once, as a table
// (long name, short name, kind, help, default); parsing, --help and the errors for bad flags all
// come from that table, so every command accepts the same forms and says the same things.
//
// Two dialects of one grammar:
//   docker (berth, after spf13/pflag): --name value, --name=value, -n value, -nvalue, -n=value,
//     combined short booleans (-dit; the last letter may take a value: -itp80), --flag=false,
//     repeated list flags (-e A -e B), "--" ends the flags, "-" alone is an argument; a single
//     dash always starts short flags (-name is -n -a -m -e, as in docker).
//   runc (berth-runtime, after urfave/cli): any flag with one dash or two (-bundle, --bundle,
//     --b, -b), =value or the next argument, --flag=false; -9 is an argument. Beyond runc, as
//     berth-runtime always did: combined short booleans (-dt), when the word is no flag name
//     and every letter is a boolean flag (so a mistyped -bundel is an error, not -b undel).
// Positional arguments may come between flags, unless the command stops at its Nth positional
// (docker run IMAGE CMD…: everything after the image belongs to the container).
//
// No library: node:util's parseArgs costs ~4 ms to load in Bun and knows neither -p=80 nor
// stopping at a positional; the npm parsers (arg, mri, yargs-parser, commander) have neither
// pflag's forms and messages nor runc's single-dash long flags. This file is the whole of it.

export type FlagKind = "bool" | "string" | "int" | "number" | "list";

export interface FlagSpec {
  /** Long name without dashes, e.g. "name". */
  long: string;
  /** One letter. */
  short?: string;
  /** bool: true/false; string: one value (the last one given wins); int, number: a number
   *  parsed here; list: every value given, in order. */
  kind: FlagKind;
  help: string;
  /** The value's name in --help (default: the kind, as docker prints it). */
  value?: string;
  /** The value when the flag is not given (lists: none; bools: false). Shown in --help. */
  default?: boolean | string | number;
  /** int, number: the smallest value allowed. */
  min?: number;
  hidden?: boolean;
}

export interface CommandSpec<F extends readonly FlagSpec[] = readonly FlagSpec[]> {
  /** As typed after the program's name: "run", "volume create", "cgroup set". */
  name: string;
  /** The usage line after the program's name, e.g. "run [OPTIONS] IMAGE [COMMAND] [ARG...]". */
  usage: string;
  summary: string;
  flags: F;
  /** Flags end at this positional argument (true = the first): the rest are arguments. */
  stopAtPositional?: boolean | number;
  minArgs?: number;
  maxArgs?: number;
}

export type Dialect = "docker" | "runc";

type Kinded<K extends FlagKind> = FlagSpec & { kind: K };
type ValueOf<S extends FlagSpec> = S["kind"] extends "bool" ? boolean : S["kind"] extends "list" ? string[]
  : S["kind"] extends "int" | "number" ? (S extends { default: number } ? number : number | undefined)
  : S extends { default: string } ? string : string | undefined;
/** The flags' long names, from a table declared with the builders below. */
export type FlagName<F extends readonly FlagSpec[]> = F[number]["long"];

/**
 * A command line, parsed: flag values by long name (defaults filled in), and the arguments.
 * U is the table's rows: get() knows each flag's name and kind, and a Parsed of more flags
 * stands in for one of fewer (run's for create's), hence `in`.
 */
export class Parsed<in U extends FlagSpec = FlagSpec> {
  readonly bools = new Set<string>();
  readonly strings = new Map<string, string>();
  readonly numbers = new Map<string, number>();
  readonly lists = new Map<string, string[]>();
  readonly args: string[] = [];
  /** Flags that were on the command line (not just defaulted). */
  readonly given = new Set<string>();
  private readonly spec: CommandSpec;

  constructor(spec: CommandSpec) {
    this.spec = spec;
    for (const f of spec.flags) {
      if (f.default === undefined) continue;
      if (f.kind === "bool") { if (f.default === true) this.bools.add(f.long); }
      else if (f.kind === "int" || f.kind === "number") this.numbers.set(f.long, Number(f.default));
      else if (f.kind === "string") this.strings.set(f.long, String(f.default));
    }
  }

  /** The value of flag `name`, typed by its kind: boolean, string | undefined, number | undefined, string[]. */
  get<N extends U["long"]>(name: N): ValueOf<Extract<U, { long: N }>> {
    const f = this.spec.flags.find((x) => x.long === name);
    if (!f) throw new Error(`internal: ${this.spec.name} has no flag --${name}`);
    const v = f.kind === "bool" ? this.bools.has(name) : f.kind === "list" ? this.lists.get(name) ?? []
      : f.kind === "string" ? this.strings.get(name) : this.numbers.get(name);
    return v as ValueOf<Extract<U, { long: N }>>;
  }
}

/** What a command's handler gets: Parsed<F[number]> for its table F. */
export type ParsedOf<F extends readonly FlagSpec[]> = Parsed<F[number]>;

/** The command line broke the grammar: the message is the parser's; each front end adds its hint. */
export class FlagError extends Error {
  override name = "FlagError";
  constructor(message: string, readonly spec: CommandSpec, readonly about: "flag" | "args") {
    super(message);
  }
}

/** --help (or -h where no flag took that letter) was given. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
  constructor(readonly spec: CommandSpec) {
    super("help requested");
  }
}

// ---- the table's builders: one row each ----

interface Extra<D> {
  value?: string;
  default?: D;
  min?: number;
  hidden?: boolean;
}
const extra = <D>(e: string | Extra<D> | undefined): Extra<D> => (typeof e === "string" ? { value: e } : e ?? {});
const row = (long: string, short: string | undefined, kind: FlagKind, help: string, e: Extra<unknown>): FlagSpec =>
  ({ long, kind, help, ...(short ? { short } : {}), ...e } as FlagSpec);

export function bool<const L extends string>(long: L, short: string | undefined, help: string, e?: Extra<boolean>): Kinded<"bool"> & { long: L } {
  return row(long, short, "bool", help, extra(e)) as Kinded<"bool"> & { long: L };
}
export function str<const L extends string, const D extends string | undefined = undefined>(long: L, short: string | undefined, help: string, e?: string | Extra<D>): Kinded<"string"> & { long: L } & (D extends string ? { default: string } : object) {
  return row(long, short, "string", help, extra(e)) as Kinded<"string"> & { long: L } & (D extends string ? { default: string } : object);
}
export function int<const L extends string, const D extends number | undefined = undefined>(long: L, short: string | undefined, help: string, e?: string | Extra<D>): Kinded<"int"> & { long: L } & (D extends number ? { default: number } : object) {
  return row(long, short, "int", help, extra(e)) as Kinded<"int"> & { long: L } & (D extends number ? { default: number } : object);
}
export function num<const L extends string, const D extends number | undefined = undefined>(long: L, short: string | undefined, help: string, e?: string | Extra<D>): Kinded<"number"> & { long: L } & (D extends number ? { default: number } : object) {
  return row(long, short, "number", help, extra(e)) as Kinded<"number"> & { long: L } & (D extends number ? { default: number } : object);
}
export function list<const L extends string>(long: L, short: string | undefined, help: string, e?: string | Extra<never>): Kinded<"list"> & { long: L } {
  return row(long, short, "list", help, extra(e)) as Kinded<"list"> & { long: L };
}

/** A command's table, with its flags' names and kinds kept for Parsed.get. */
export function commandSpec<const F extends readonly FlagSpec[]>(spec: CommandSpec<F>): CommandSpec<F> {
  return spec;
}

// ---- parsing ----

const HELP: FlagSpec = { long: "help", kind: "bool", help: "Print usage" };

/** strconv.ParseBool's words, as both pflag and urfave/cli accept them. */
function parseBool(v: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  return undefined;
}

export function parseFlags<F extends readonly FlagSpec[]>(spec: CommandSpec<F>, argv: readonly string[], dialect: Dialect = "docker"): Parsed<F[number]> {
  const p = new Parsed<F[number]>(spec);
  const byLong = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const f of spec.flags) {
    byLong.set(f.long, f);
    if (f.short) byShort.set(f.short, f);
  }
  if (!byLong.has("help")) {
    byLong.set("help", HELP);
    if (!byShort.has("h")) byShort.set("h", HELP);
  }
  const stopAt = spec.stopAtPositional === true ? 1 : spec.stopAtPositional || Infinity;
  const fail = (msg: string): never => { throw new FlagError(msg, spec, "flag"); };

  /** Go's names for a flag in errors: pflag's "-t, --time", urfave's "-time". */
  const shown = (f: FlagSpec) => (dialect === "runc" ? `-${f.long}` : f.short ? `-${f.short}, --${f.long}` : `--${f.long}`);
  const invalid = (f: FlagSpec, value: string, why: string) =>
    fail(dialect === "runc" ? `invalid value "${value}" for flag ${shown(f)}: ${why}` : `invalid argument "${value}" for "${shown(f)}" flag: ${why}`);

  const set = (f: FlagSpec, value: string | undefined) => {
    // --help, whether the table declares it (for its own help text) or not.
    if (f.long === "help" && f.kind === "bool" && (value === undefined || parseBool(value))) throw new HelpRequested(spec);
    p.given.add(f.long);
    switch (f.kind) {
      case "bool": {
        const b = value === undefined ? true : parseBool(value);
        if (b === undefined) invalid(f, value!, `strconv.ParseBool: parsing "${value}": invalid syntax`);
        if (b) p.bools.add(f.long);
        else p.bools.delete(f.long);
        return;
      }
      case "string": p.strings.set(f.long, value!); return;
      case "list": p.lists.set(f.long, [...(p.lists.get(f.long) ?? []), value!]); return;
      case "int":
      case "number": {
        const n = Number(value);
        if (f.kind === "int" ? !/^[+-]?\d+$/.test(value!) : value!.trim() === "" || !Number.isFinite(n)) {
          invalid(f, value!, `strconv.Parse${f.kind === "int" ? "Int" : "Float"}: parsing "${value}": invalid syntax`);
        }
        if (f.min !== undefined && n < f.min) invalid(f, value!, `must be at least ${f.min}`);
        p.numbers.set(f.long, n);
        return;
      }
    }
  };

  /** A run of short letters after one dash (docker; runc for -dt). */
  const shorts = (word: string, rest: readonly string[], at: number): number => {
    for (let j = 1; j < word.length; j++) {
      const c = word[j]!;
      const f = byShort.get(c);
      if (!f) {
        if (dialect === "runc") fail(`flag provided but not defined: ${word}`);
        fail(`unknown shorthand flag: '${c}' in -${word.slice(j)}`);
      }
      if (word[j + 1] === "=") { set(f!, word.slice(j + 2)); return at; }       // -d=false, -p=80
      if (f!.kind === "bool") { set(f!, undefined); continue; }                   // -dit
      if (j + 1 < word.length) { set(f!, word.slice(j + 1)); return at; }      // -eA=B, -p80:80
      if (at + 1 >= rest.length) fail(dialect === "runc" ? `flag needs an argument: -${c}` : `flag needs an argument: '${c}' in -${c}`);
      set(f!, rest[at + 1]);                                                      // -e A=B
      return at + 1;
    }
    return at;
  };

  let positionals = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      p.args.push(...argv.slice(i + 1));
      break;
    }
    // runc: -9 is an argument (urfave/cli reads a flag only where a letter follows the dash).
    if (a.length < 2 || a[0] !== "-" || (dialect === "runc" && !/[A-Za-z-]/.test(a[1]!))) {
      p.args.push(a);
      if (++positionals >= stopAt) {
        p.args.push(...argv.slice(i + 1));
        break;
      }
      continue;
    }
    const long = a[1] === "-";
    if (long || dialect === "runc") {
      const body = a.slice(long ? 2 : 1);
      const eq = body.indexOf("=");
      const name = eq < 0 ? body : body.slice(0, eq);
      if (name === "" || name[0] === "-") fail(dialect === "runc" ? `flag provided but not defined: ${a}` : `bad flag syntax: ${a}`);
      const f = byLong.get(name) ?? (dialect === "runc" ? byShort.get(name) : undefined);
      if (!f) {
        if (!long && eq < 0 && [...name].every((c) => byShort.get(c)?.kind === "bool")) { i = shorts(a, argv, i); continue; } // -dt
        fail(dialect === "runc" ? `flag provided but not defined: -${name}` : `unknown flag: --${name}`);
      }
      if (eq >= 0) set(f!, body.slice(eq + 1));
      else if (f!.kind === "bool") set(f!, undefined);
      else if (i + 1 < argv.length) set(f!, argv[++i]);
      else fail(`flag needs an argument: ${dialect === "runc" ? a : `--${name}`}`);
      continue;
    }
    i = shorts(a, argv, i);
  }
  checkArgs(spec, p.args.length);
  return p;
}

function plural(n: number): string {
  return n === 1 ? "argument" : "arguments";
}

/** docker's messages for the number of arguments (cli/required.go), without the program's hints. */
function checkArgs(spec: CommandSpec, n: number): void {
  const { minArgs: min, maxArgs: max } = spec;
  let msg: string | undefined;
  if (max === 0 && n > 0) msg = "accepts no arguments";
  else if (min !== undefined && min === max && n !== min) msg = `requires exactly ${min} ${plural(min)}`;
  else if (min !== undefined && max !== undefined && (n < min || n > max)) msg = `requires at least ${min} and at most ${max} ${plural(max)}`;
  else if (min !== undefined && n < min) msg = `requires at least ${min} ${plural(min)}`;
  else if (max !== undefined && n > max) msg = `requires at most ${max} ${plural(max)}`;
  if (msg) throw new FlagError(msg, spec, "args");
}

// ---- help ----

function valueName(f: FlagSpec): string {
  return f.value ?? (f.kind === "number" ? "float" : f.kind);
}

function shownDefault(f: FlagSpec): string {
  if (f.default === undefined || f.default === false || f.default === "") return "";
  return ` (default ${typeof f.default === "string" && f.kind === "string" ? JSON.stringify(f.default) : String(f.default)})`;
}

/** The flags' table as --help prints it: docker's "  -d, --detach   text" or runc's "   --detach, -d   text". */
export function flagLines(flags: readonly FlagSpec[], dialect: Dialect = "docker"): string[] {
  const rows = flags.filter((f) => !f.hidden).map((f) => {
    const v = f.kind === "bool" ? "" : ` ${valueName(f)}`;
    const left = dialect === "runc"
      ? `--${f.long}${f.kind === "bool" ? "" : " value"}${f.short ? `, -${f.short}${f.kind === "bool" ? "" : " value"}` : ""}`
      : `${f.short ? `-${f.short}, ` : "    "}--${f.long}${v}`;
    return [left, f.help + shownDefault(f)] as const;
  });
  const width = Math.max(0, ...rows.map((r) => r[0].length)) + 3;
  return rows.map(([l, h]) => `${dialect === "runc" ? "   " : "  "}${l.padEnd(width)}${h}`.trimEnd());
}

/** docker's help page for a command: usage line, summary, options. */
export function helpText(spec: CommandSpec, program: string): string {
  const lines = [`Usage:  ${program} ${spec.usage}`, "", spec.summary];
  const flags = flagLines(spec.flags);
  if (flags.length) lines.push("", "Options:", ...flags);
  return lines.join("\n") + "\n";
}
