// berth-runtime state: prints the state JSON.
import { stateOf } from "../../runtime/status.ts";
import { type Command, commandSpec, needId, parse } from "./args.ts";

const spec = commandSpec({ name: "state", usage: "state ID", summary: "print a container's state as JSON", flags: [] });

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  const rec = ctx.store.read(needId(p.args, spec.usage));
  console.log(JSON.stringify(stateOf(ctx.store, rec), null, "  "));
  return 0;
};
