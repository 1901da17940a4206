// berth-runtime kill: sends a signal.
import { killContainer } from "../../runtime/kill.ts";
import { parseSignal } from "../../runtime/signals.ts";
import { type Command, parse, needId } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "kill ID [SIGNAL] [--all]";
  const { values, positionals } = parse(args, { all: { type: "boolean", short: "a" } }, usage);
  killContainer(ctx.store, needId(positionals, usage), parseSignal(positionals[1] ?? "SIGTERM"), values.all);
  return 0;
};
