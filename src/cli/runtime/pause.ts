// berth-runtime pause: freezes a container.
import { containerCgroup, statusOf } from "../../runtime/status.ts";
import { type Command, commandSpec, needId, parse } from "./args.ts";

const spec = commandSpec({ name: "pause", usage: "pause ID", summary: "freeze every process of a container", flags: [] });

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  const rec = ctx.store.read(needId(p.args, spec.usage));
  const status = statusOf(ctx.store, rec);
  if (status !== "running" && status !== "created") throw new Error(`cannot pause container ${rec.id}: it is ${status}`);
  containerCgroup(rec).freeze();
  return 0;
};
