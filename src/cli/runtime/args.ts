// Shared by the runtime's command files: the context, flag parsing, usage errors, tables.
import { parseFlags, type FlagSpec } from "./flags.ts";
import { join } from "node:path";
import type { StateStore } from "../../runtime/state-store.ts";

export interface Context {
  store: StateStore;
  warn: (msg: string) => void;
  debug?: (msg: string) => void;
  logError: (msg: string) => void;
}

export type Command = (args: string[], ctx: Context) => Promise<number>;

export class UsageError extends Error {
  exitCode = 2;
}

export function parse<T extends Record<string, FlagSpec>>(args: string[], options: T, usage: string) {
  const all = { ...options, help: { type: "boolean", short: "h" } } as T & { help: { type: "boolean"; short: "h" } };
  let parsed;
  try {
    parsed = parseFlags(args, all);
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nusage: berth-runtime ${usage}`);
  }
  if (parsed.values.help) {
    console.log(`usage: berth-runtime ${usage}`);
    process.exit(0);
  }
  return parsed;
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

export const CREATE_FLAGS = {
  bundle: { type: "string", short: "b" }, "pid-file": { type: "string" }, "console-socket": { type: "string" },
  "no-pivot": { type: "boolean" }, "no-new-keyring": { type: "boolean" }, "preserve-fds": { type: "string" },
} as const;


export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("")).join("\n");
}
