// berth-runtime features: prints what the runtime supports.
import { runtimeFeatures } from "../../runtime/features.ts";
import { type Command, parse } from "./args.ts";

export const command: Command = async (args) => {
  parse(args, {}, "features");
  console.log(JSON.stringify(runtimeFeatures(), null, "  "));
  return 0;
};
