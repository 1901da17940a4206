// berth-runtime list: lists containers.
import { stateOf } from "../../runtime/status.ts";
import { type Command, UsageError, parse, table } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "list [--format table|json] [--quiet]";
  const { values } = parse(args, { format: { type: "string", short: "f" }, quiet: { type: "boolean", short: "q" } }, usage);
  const format = values.format ?? "table";
  if (format !== "table" && format !== "json") throw new UsageError("--format must be table or json");
  const states = ctx.store.list().map((id) => stateOf(ctx.store, ctx.store.read(id)));
  if (values.quiet) states.forEach((s) => console.log(s.id));
  else if (format === "json") console.log(JSON.stringify(states));
  else console.log(table([["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], ...states.map((s) => [s.id, String(s.pid ?? 0), s.status, s.bundle, s.created, s.owner])]));
  return 0;
};
