// berth-runtime checkpoint / restore: answered clearly rather than as unknown commands (or as
// errors about runc's many CRIU flags), so that containerd's shim and a user hear why.
import { type Command, commandSpec, helpText } from "./args.ts";

function unsupported(name: "checkpoint" | "restore", summary: string): Command {
  const spec = commandSpec({ name, usage: `${name} ID [options]`, summary, flags: [] });
  return async (args) => {
    if (args.includes("--help") || args.includes("-h")) {
      console.log(helpText(spec));
      return 0;
    }
    throw new Error(`${name} is not supported: berth-runtime has no CRIU (checkpoint/restore) support`);
  };
}

export const checkpoint = unsupported("checkpoint", "not supported: berth-runtime cannot checkpoint a container (no CRIU)");
export const restore = unsupported("restore", "not supported: berth-runtime cannot restore a container (no CRIU)");
