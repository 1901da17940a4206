// berth-runtime kill: sends a signal.
import { killContainer } from "../../runtime/kill.ts";
import { parseSignal } from "../../runtime/signals.ts";
import { type Command, bool, commandSpec, needId, parse } from "./args.ts";

const spec = commandSpec({
  name: "kill", usage: "kill ID [SIGNAL] [--all]", summary: "send a signal (default SIGTERM) to a container's process",
  flags: [bool("all", "a", "send the signal to every process of the container")],
});

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  killContainer(ctx.store, needId(p.args, spec.usage), parseSignal(p.args[1] ?? "SIGTERM"), p.get("all"));
  return 0;
};
