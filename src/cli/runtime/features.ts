// berth-runtime features: prints what the runtime supports.
import { runtimeFeatures } from "../../runtime/features.ts";
import { type Command, commandSpec, parse } from "./args.ts";

const spec = commandSpec({ name: "features", usage: "features", summary: "print what this runtime supports, as JSON", flags: [] });

export const command: Command = async (args) => {
  parse(spec, args);
  console.log(JSON.stringify(runtimeFeatures(), null, "  "));
  return 0;
};
