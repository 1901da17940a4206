// berth-runtime exec: runs another process in a container.
import { execInContainer, loadProcessFile } from "../../runtime/exec.ts";
import type { Process } from "../../oci/spec.ts";
import { type Command, UsageError, parse, needId, uintFlag } from "./args.ts";

export const command: Command = async (args, ctx) => {
  const usage = "exec ID [--process FILE | ARGS...] [-t] [-d] [--pid-file F] [-e K=V] [--cwd DIR] [-u UID[:GID]] [--cap CAP] [--no-new-privs] [--console-socket S] [--preserve-fds N]";
  const opts = {
    process: { type: "string", short: "p" }, tty: { type: "boolean", short: "t" }, detach: { type: "boolean", short: "d" },
    "pid-file": { type: "string" }, env: { type: "string", short: "e", multiple: true }, cwd: { type: "string" },
    user: { type: "string", short: "u" }, "additional-gids": { type: "string", short: "g", multiple: true },
    cap: { type: "string", short: "c", multiple: true }, "no-new-privs": { type: "boolean" }, "console-socket": { type: "string" },
    "preserve-fds": { type: "string" }, "process-label": { type: "string" }, apparmor: { type: "string" },
  } as const;
  // The container ID is the first positional; everything after the next positional belongs to
  // the command, flags included (as with runc).
  let split = args.length;
  let seenId = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") { split = i; break; }
    if (a.startsWith("-") && a !== "-") {
      if (takesValue(a) && !a.includes("=")) i++;
      continue;
    }
    if (!seenId) { seenId = true; continue; }
    split = i;
    break;
  }
  const cmdStart = args[split] === "--" ? split + 1 : split;
  const { values, positionals } = parse(args.slice(0, split), opts, usage);
  const cmd = args.slice(cmdStart);
  const id = needId(positionals, usage);
  let proc: Process;
  if (values.process) proc = loadProcessFile(values.process);
  else {
    if (cmd.length === 0) throw new UsageError(`exec needs a command or --process FILE\nusage: berth-runtime ${usage}`);
    const rec = ctx.store.read(id);
    const base = rec.config.process!;
    proc = { ...base, args: cmd, terminal: values.tty ?? false, env: [...(base.env ?? []), ...(values.env ?? [])] };
    delete proc.consoleSize;
    if (values.cwd) proc.cwd = values.cwd;
    if (values.user) {
      const m = /^(\d+)(?::(\d+))?$/.exec(values.user);
      if (!m) throw new UsageError(`--user must be UID[:GID] with numbers, got ${values.user}`);
      proc.user = { ...base.user, uid: Number(m[1]), gid: Number(m[2] ?? 0) };
    }
    if (values["additional-gids"]) proc.user = { ...proc.user, additionalGids: values["additional-gids"].map((g) => Number(g)) };
    if (values.cap?.length) {
      const add = (set?: string[]) => [...new Set([...(set ?? []), ...values.cap!])];
      const c = base.capabilities ?? {};
      proc.capabilities = { ...c, bounding: add(c.bounding), effective: add(c.effective), permitted: add(c.permitted) };
    }
    if (values["no-new-privs"]) proc.noNewPrivileges = true;
  }
  if (values["process-label"] || values.apparmor) throw new UsageError("SELinux/AppArmor labels are not available on this host");
  return await execInContainer(ctx.store, {
    id, process: proc, detach: values.detach, pidFile: values["pid-file"], consoleSocket: values["console-socket"],
    preserveFds: uintFlag(values["preserve-fds"], "--preserve-fds"),
  });
};

function takesValue(flag: string | undefined): boolean {
  return flag !== undefined && ["-p", "--process", "--pid-file", "-e", "--env", "--cwd", "-u", "--user", "-g", "--additional-gids", "-c", "--cap",
    "--console-socket", "--preserve-fds", "--process-label", "--apparmor"].includes(flag);
}
