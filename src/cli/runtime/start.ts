// berth-runtime start: releases a created container's process.
import { startContainer } from "../../runtime/start.ts";
import { type Command, commandSpec, needId, parse } from "./args.ts";

const spec = commandSpec({ name: "start", usage: "start ID", summary: "run the process of a created container", flags: [] });

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  await startContainer(ctx.store, needId(p.args, spec.usage), ctx.warn);
  return 0;
};
