// berth-runtime resume: thaws a container.
import { containerCgroup, statusOf } from "../../runtime/status.ts";
import { type Command, parse, needId } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "resume ID";
  const { positionals } = parse(args, {}, usage);
  const rec = ctx.store.read(needId(positionals, usage));
  if (statusOf(ctx.store, rec) !== "paused") throw new Error(`cannot resume container ${rec.id}: it is not paused`);
  containerCgroup(rec).thaw();
  return 0;
};
