// berth-runtime exec: runs another process in a container.
import { execInContainer, loadProcessFile } from "../../runtime/exec.ts";
import type { Process } from "../../oci/spec.ts";
import { type Command, UsageError, bool, commandSpec, list, needId, parse, str, uintFlag } from "./args.ts";

const spec = commandSpec({
  name: "exec",
  usage: "exec ID [--process FILE | ARGS...] [-t] [-d] [--pid-file F] [-e K=V] [--cwd DIR] [-u UID[:GID]] [--cap CAP] [--no-new-privs] [--console-socket S] [--preserve-fds N] [--cgroup [CTRL:]PATH]",
  summary: "run another process in a container",
  flags: [
    str("process", "p", "path to the process.json"),
    bool("tty", "t", "allocate a pseudo-TTY"),
    bool("detach", "d", "detach from the container's process"),
    str("pid-file", undefined, "specify the file to write the process id to"),
    list("env", "e", "set environment variables"),
    str("cwd", undefined, "current working directory in the container"),
    str("user", "u", "UID (format: <uid>[:<gid>])"),
    list("additional-gids", "g", "additional gids"),
    list("cap", "c", "add a capability to the bounding set for the process"),
    bool("no-new-privs", undefined, "set the no new privileges value for the process"),
    str("console-socket", undefined, "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"),
    str("preserve-fds", undefined, "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)", "N"),
    str("process-label", undefined, "set the asm process label for the process (SELinux)"),
    str("apparmor", undefined, "set the apparmor profile for the process"),
    bool("ignore-paused", undefined, "allow exec in a paused container (the process runs once the container is resumed)"),
    list("cgroup", undefined, "run the process in an existing sub-cgroup of the container's: [CONTROLLER[,CONTROLLER]:]PATH (repeatable)"),
  ],
  // The container ID is the first argument; the command starts at the second, and everything
  // from there belongs to it, flags included (flags may stand between the ID and the command).
  stopAtPositional: 2,
});

export const command: Command = async (args, ctx) => {
  try {
    return await exec(args, ctx);
  } catch (e) {
    // runc's exec exits 255 when it could not run the process (no such container, no such
    // binary, a pid file it cannot write); the process's own exit status passes through.
    if (e instanceof UsageError) throw e;
    throw Object.assign(e as Error, { exitCode: 255 });
  }
};

const exec: Command = async (args, ctx) => {
  const p = parse(spec, args);
  const [id = needId([], spec.usage), ...cmd] = p.args;
  let proc: Process;
  const processFile = p.get("process");
  if (processFile) proc = loadProcessFile(processFile);
  else {
    if (cmd.length === 0) throw new UsageError(`exec needs a command or --process FILE\nusage: berth-runtime ${spec.usage}`);
    const rec = ctx.store.read(id);
    const base = rec.config.process!;
    proc = { ...base, args: cmd, terminal: p.get("tty"), env: [...(base.env ?? []), ...p.get("env")] };
    delete proc.consoleSize;
    const cwd = p.get("cwd"), user = p.get("user"), caps = p.get("cap");
    if (cwd) proc.cwd = cwd;
    if (user) {
      const m = /^(\d+)(?::(\d+))?$/.exec(user);
      if (!m) throw new UsageError(`--user must be UID[:GID] with numbers, got ${user}`);
      proc.user = { ...base.user, uid: Number(m[1]), gid: Number(m[2] ?? 0) };
    }
    if (p.given.has("additional-gids")) proc.user = { ...proc.user, additionalGids: p.get("additional-gids").map((g) => Number(g)) };
    if (caps.length) {
      const add = (set?: string[]) => [...new Set([...(set ?? []), ...caps])];
      const c = base.capabilities ?? {};
      // As runc 1.2: a capability the config makes inheritable is raised into the ambient set too
      // (the kernel allows no ambient capability that is not inheritable).
      const ambient = caps.filter((cap) => c.inheritable?.includes(cap));
      proc.capabilities = { ...c, bounding: add(c.bounding), effective: add(c.effective), permitted: add(c.permitted), ...(ambient.length ? { ambient: [...new Set([...(c.ambient ?? []), ...ambient])] } : {}) };
    }
    if (p.get("no-new-privs")) proc.noNewPrivileges = true;
  }
  if (p.get("process-label") || p.get("apparmor")) throw new UsageError("SELinux/AppArmor labels are not available on this host");
  return await execInContainer(ctx.store, {
    id, process: proc, detach: p.get("detach"), pidFile: p.get("pid-file"), consoleSocket: p.get("console-socket"),
    preserveFds: uintFlag(p.get("preserve-fds"), "--preserve-fds"), debug: ctx.debug, ignorePaused: p.get("ignore-paused"),
    subCgroups: subCgroups(p.get("cgroup")),
  });
};

/** --cgroup values as runc reads them: CONTROLLER[,CONTROLLER...]:PATH each, or one bare PATH for
 *  every hierarchy. */
function subCgroups(values: string[]): Record<string, string> | undefined {
  if (values.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const parts = v.split(":");
    if (parts.length > 2) throw new Error(`invalid --cgroup argument: ${v}`);
    if (parts.length === 1) {
      if (values.length !== 1) throw new Error(`invalid --cgroup argument: ${v} (missing <controller>: prefix)`);
      out[""] = v;
    } else for (const controller of parts[0]!.split(",")) out[controller] = parts[1]!;
  }
  return out;
}
