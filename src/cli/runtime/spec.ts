// berth-runtime spec: writes a new config.json.
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { defaultSpec } from "../../runtime/default-spec.ts";
import { type Command, bool, commandSpec, parse, str } from "./args.ts";

const spec = commandSpec({
  name: "spec", usage: "spec [--bundle DIR] [--rootless] [--seccomp]", summary: "write a new config.json in the bundle",
  flags: [
    str("bundle", "b", "path to the root of the bundle directory", { default: "." }),
    bool("rootless", undefined, "generate a configuration for a rootless container"),
    bool("seccomp", undefined, "include Berth's default seccomp profile"),
  ],
});

export const command: Command = async (args) => {
  const p = parse(spec, args);
  const file = join(resolve(p.get("bundle")), "config.json");
  if (existsSync(file)) throw new Error(`${file} exists; remove it first`);
  writeFileSync(file, JSON.stringify(defaultSpec({ rootless: p.get("rootless"), seccomp: p.get("seccomp") }), null, "\t") + "\n");
  return 0;
};
