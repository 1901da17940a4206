// berth-runtime delete: removes a stopped container.
import { deleteContainer } from "../../runtime/delete.ts";
import { type Command, parse, needId } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "delete ID [--force]";
  const { values, positionals } = parse(args, { force: { type: "boolean", short: "f" } }, usage);
  await deleteContainer(ctx.store, needId(positionals, usage), values.force ?? false, ctx.warn);
  return 0;
};
