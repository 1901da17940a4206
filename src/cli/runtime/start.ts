// berth-runtime start: releases a created container's process.
import { startContainer } from "../../runtime/start.ts";
import { type Command, parse, needId } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "start ID";
  const { positionals } = parse(args, {}, usage);
  await startContainer(ctx.store, needId(positionals, usage), ctx.warn);
  return 0;
};
