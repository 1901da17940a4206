// berth-runtime delete: removes a stopped container.
import { deleteContainer } from "../../runtime/delete.ts";
import { type Command, bool, commandSpec, needId, parse } from "./args.ts";

const spec = commandSpec({
  name: "delete", usage: "delete ID [--force]", summary: "remove a stopped container",
  flags: [bool("force", "f", "forcibly delete the container if it is still running (uses SIGKILL)")],
});

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  await deleteContainer(ctx.store, needId(p.args, spec.usage), p.get("force"), ctx.warn);
  return 0;
};
