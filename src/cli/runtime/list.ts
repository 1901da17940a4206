// berth-runtime list: lists containers.
import { stateOf } from "../../runtime/status.ts";
import { type Command, UsageError, bool, commandSpec, parse, str, table } from "./args.ts";

const spec = commandSpec({
  name: "list", usage: "list [--format table|json] [--quiet]", summary: "list containers",
  flags: [str("format", "f", "select one of: table or json", { default: "table" }), bool("quiet", "q", "display only container IDs")],
});

export const command: Command = async (args, ctx) => {
  const p = parse(spec, args);
  const format = p.get("format");
  if (format !== "table" && format !== "json") throw new UsageError("--format must be table or json");
  const states = ctx.store.list().map((id) => stateOf(ctx.store, ctx.store.read(id)));
  if (p.get("quiet")) states.forEach((s) => console.log(s.id));
  else if (format === "json") console.log(JSON.stringify(states));
  else console.log(table([["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], ...states.map((s) => [s.id, String(s.pid ?? 0), s.status, s.bundle, s.created, s.owner])]));
  return 0;
};
