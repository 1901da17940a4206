// berth-runtime resume: thaws a container.
import { containerCgroup, statusOf } from "../../runtime/status.ts";
import { type Command, commandSpec, needId, parse } from "./args.ts";

const spec = commandSpec({ name: "resume", usage: "resume ID", summary: "thaw a paused container", flags: [] });

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  const rec = ctx.store.read(needId(p.args, spec.usage));
  if (statusOf(ctx.store, rec) !== "paused") throw new Error(`cannot resume container ${rec.id}: it is not paused`);
  containerCgroup(rec).thaw();
  return 0;
};
