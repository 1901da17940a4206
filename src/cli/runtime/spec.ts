// berth-runtime spec: writes a new config.json.
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { defaultSpec } from "../../runtime/default-spec.ts";
import { type Command, parse } from "./args.ts";

export const command: Command = async (args) => {
  const usage = "spec [--bundle DIR] [--rootless] [--seccomp]   (--seccomp: include Berth's default seccomp profile)";
  const { values } = parse(args, { bundle: { type: "string", short: "b" }, rootless: { type: "boolean" }, seccomp: { type: "boolean" } }, usage);
  const file = join(resolve(values.bundle ?? "."), "config.json");
  if (existsSync(file)) throw new Error(`${file} exists; remove it first`);
  writeFileSync(file, JSON.stringify(defaultSpec({ rootless: values.rootless, seccomp: values.seccomp }), null, "\t") + "\n");
  return 0;
};
