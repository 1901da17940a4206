// docker-style flag parsing: -d -i -t combined as -dit, --flag=value or --flag value, repeated
// list flags (-e A -e B), and parsing that stops at the first positional argument for commands
// whose trailing arguments belong to the container (run IMAGE CMD…, exec CONTAINER CMD…).
import { UsageError } from "../../engine/errors.ts";

export type FlagKind = "bool" | "string" | "list";

export interface FlagSpec {
  /** Long name without dashes, e.g. "name". */
  long: string;
  short?: string;
  kind: FlagKind;
  help: string;
  /** Shown in --help as the value's name. */
  value?: string;
  hidden?: boolean;
}

export interface Parsed {
  bools: Set<string>;
  strings: Map<string, string>;
  lists: Map<string, string[]>;
  args: string[];
}

export interface CommandSpec {
  name: string;
  usage: string;
  summary: string;
  flags: FlagSpec[];
  /** Stop parsing flags at the first positional argument. */
  stopAtPositional?: boolean;
  minArgs?: number;
  maxArgs?: number;
}

export class HelpRequested extends Error {}

export function parseFlags(spec: CommandSpec, argv: string[]): Parsed {
  const p: Parsed = { bools: new Set(), strings: new Map(), lists: new Map(), args: [] };
  const byLong = new Map(spec.flags.map((f) => [f.long, f]));
  const byShort = new Map(spec.flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const set = (f: FlagSpec, value: string | undefined, shown: string) => {
    if (f.kind === "bool") {
      if (value === undefined || value === "true") p.bools.add(f.long);
      else if (value === "false") p.bools.delete(f.long);
      else throw new UsageError(`invalid argument "${value}" for "${shown}" flag: use true or false`);
      return;
    }
    if (value === undefined) throw new UsageError(`flag needs an argument: ${shown}\nSee 'berth ${spec.name} --help'.`);
    if (f.kind === "string") p.strings.set(f.long, value);
    else p.lists.set(f.long, [...(p.lists.get(f.long) ?? []), value]);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      p.args.push(...argv.slice(i + 1));
      break;
    }
    if (a === "--help" || a === "-h" && !byShort.has("h")) throw new HelpRequested();
    if (a.startsWith("--") && a.length > 2) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const f = byLong.get(name);
      if (!f) throw new UsageError(`unknown flag: --${name}\nSee 'berth ${spec.name} --help'.`);
      let value = eq < 0 ? undefined : a.slice(eq + 1);
      if (value === undefined && f.kind !== "bool") value = argv[++i];
      set(f, value, `--${name}`);
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      // -dit, -e K=V, -eK=V, -p80:80
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const f = byShort.get(c);
        if (!f) throw new UsageError(`unknown shorthand flag: '${c}' in ${a}\nSee 'berth ${spec.name} --help'.`);
        if (f.kind === "bool") {
          if (a[j + 1] === "=") { set(f, a.slice(j + 2), `-${c}`); break; }
          set(f, undefined, `-${c}`);
          continue;
        }
        let value = a.slice(j + 1);
        if (value.startsWith("=")) value = value.slice(1);
        if (value === "") {
          const next = argv[++i];
          set(f, next, `-${c}`);
        } else set(f, value, `-${c}`);
        break;
      }
      continue;
    }
    p.args.push(a);
    if (spec.stopAtPositional) {
      p.args.push(...argv.slice(i + 1));
      break;
    }
  }
  if (spec.minArgs !== undefined && p.args.length < spec.minArgs) {
    throw new UsageError(`"berth ${spec.name}" requires ${spec.maxArgs === spec.minArgs ? "exactly" : "at least"} ${spec.minArgs} argument${spec.minArgs === 1 ? "" : "s"}.\nSee 'berth ${spec.name} --help'.\n\nUsage:  berth ${spec.usage}\n\n${spec.summary}`);
  }
  if (spec.maxArgs !== undefined && p.args.length > spec.maxArgs) {
    throw new UsageError(`"berth ${spec.name}" accepts at most ${spec.maxArgs} argument${spec.maxArgs === 1 ? "" : "s"}.\nSee 'berth ${spec.name} --help'.\n\nUsage:  berth ${spec.usage}`);
  }
  return p;
}

export function helpText(spec: CommandSpec): string {
  const rows = spec.flags.filter((f) => !f.hidden).map((f) => {
    const left = `${f.short ? `-${f.short}, ` : "    "}--${f.long}${f.kind === "bool" ? "" : ` ${f.value ?? (f.kind === "list" ? "list" : "string")}`}`;
    return [left, f.help] as const;
  });
  const width = Math.max(0, ...rows.map((r) => r[0].length)) + 3;
  const lines = [`Usage:  berth ${spec.usage}`, "", spec.summary];
  if (rows.length) {
    lines.push("", "Options:");
    for (const [l, h] of rows) lines.push(`  ${l.padEnd(width)}${h}`);
  }
  return lines.join("\n") + "\n";
}
