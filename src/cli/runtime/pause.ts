// berth-runtime pause: freezes a container.
import { containerCgroup, statusOf } from "../../runtime/status.ts";
import { type Command, parse, needId } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "pause ID";
  const { positionals } = parse(args, {}, usage);
  const rec = ctx.store.read(needId(positionals, usage));
  const status = statusOf(ctx.store, rec);
  if (status !== "running" && status !== "created") throw new Error(`cannot pause container ${rec.id}: it is ${status}`);
  containerCgroup(rec).freeze();
  return 0;
};
