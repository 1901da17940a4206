// berth-runtime state: prints the state JSON.
import { stateOf } from "../../runtime/status.ts";
import { type Command, parse, needId } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "state ID";
  const { positionals } = parse(args, {}, usage);
  const rec = ctx.store.read(needId(positionals, usage));
  console.log(JSON.stringify(stateOf(ctx.store, rec), null, "  "));
  return 0;
};
