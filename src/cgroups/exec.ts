// Running a command inside a cgroup from TypeScript. Bun cannot run code between fork and exec,
// so the child is a tiny /bin/sh that writes its own pid to every cgroup.procs file and then
// execs the command — the command starts already inside the group, as with cgexec. One extra
// process per command, never per file.
const JOIN_SCRIPT = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';

/** argv that joins the given cgroup.procs files, then execs argv. Exit 125 = could not join. */
export function joinedArgv(procsFiles: string[], argv: string[]): string[] {
  if (argv.length === 0) throw new Error("joinedArgv: empty command");
  return ["/bin/sh", "-c", JOIN_SCRIPT, "berth-cgexec", String(procsFiles.length), ...procsFiles, ...argv];
}
