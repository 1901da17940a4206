/* Stage 0 of `create`: spawned by TypeScript with FD_TO_TS/FD_FROM_TS. Joins namespaces given
 * by path, clones the init into new ones, writes its id maps, and relays the handshake:
 *   -> "pid N"      <- "go STATEJSON"     -> "ready" | "error MSG" | "exec-error STATUS MSG"
 * With --wait (foreground `run`) it stays as the init's parent, forwards signals and exits with
 * the container's status; with --console-relay it also relays the pty to its own stdio. */
#include "core.h"
#include "security.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int stage0_create(const struct plan *cplan, int wait_child, int console_relay) {
  struct plan *plan = (struct plan *)cplan;
  char err[ERRLEN];
  if (fcntl(FD_TO_TS, F_GETFD) < 0 || fcntl(FD_FROM_TS, F_GETFD) < 0) {
    fprintf(stderr, "berth-init: create must be started by berth-runtime (it passes its control pipes)\n");
    return 1;
  }
  fcntl(FD_TO_TS, F_SETFD, FD_CLOEXEC);
  fcntl(FD_FROM_TS, F_SETFD, FD_CLOEXEC);

  int console_fd = -1, relay_fd = -1;
  const struct plan_record *cs = plan_find(plan, "console_socket");
  if (plan_has(plan, "terminal")) {
    if (console_relay) {
      int pair[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) fail(FD_TO_TS, "socketpair: %s", strerror(errno));
      relay_fd = pair[0];
      console_fd = pair[1];
    } else if (cs) {
      console_fd = console_connect(cs->argv[0], err, sizeof err);
      if (console_fd < 0) fail(FD_TO_TS, "%s", err);
    }
  }
  if (ns_join_paths(plan, err, sizeof err) < 0) fail(FD_TO_TS, "%s", err);
  if (ns_setup_time(plan, err, sizeof err) < 0) fail(FD_TO_TS, "%s", err);

  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) fail(FD_TO_TS, "socketpair: %s", strerror(errno));
  /* Opened here, as host root: the init may run as an unmapped user that cannot reach it. */
  const struct plan_record *sd = plan_find(plan, "state_dir");
  int state_fd = sd ? open(sd->argv[0], O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
  if (sd && state_fd < 0) fail(FD_TO_TS, "open state dir %s: %s", sd->argv[0], strerror(errno));
  struct init_args args = {.plan = plan, .sync_fd = sp[1], .console_fd = console_fd, .state_fd = state_fd};
  /* The seccomp filter is compiled (or read from its cache) here, as host root; the init inherits it. */
  if (seccomp_prepare(plan, err, sizeof err) < 0) fail(FD_TO_TS, "%s", err);
  /* Into the v1 groups first (the init inherits them), then clone3 straight into the v2 one. */
  if (cgroups_enter_self(plan, err, sizeof err) < 0) fail(FD_TO_TS, "%s", err);
  pid_t pid = cgroups_fork_into(plan, ns_clone_flags(plan), err, sizeof err);
  if (pid < 0) fail(FD_TO_TS, "%s", err);
  if (pid == 0) _exit(init_main(&args));
  close(sp[1]);
  if (console_fd >= 0) close(console_fd);
  if (state_fd >= 0) close(state_fd);

  if (ns_write_id_maps(plan, pid, err, sizeof err) < 0) { kill(pid, SIGKILL); fail(FD_TO_TS, "%s", err); }
  sync_send(FD_TO_TS, "pid %d", pid);
  /* A foreground stage 0 stays as the init's parent: out of the container's groups, so its limits,
   * pid count and kill-all never include it. */
  if (wait_child && cgroups_leave_self(plan, err, sizeof err) < 0) { kill(pid, SIGKILL); fail(FD_TO_TS, "%s", err); }
  sync_send(FD_TO_TS, "joined");

  static char line[65536];
  ssize_t got = sync_recv_line(FD_FROM_TS, line, sizeof line);
  if (got <= 0 || strncmp(line, "go", 2)) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); return 1; }
  sync_send(sp[0], "%s", line);

  got = sync_recv_line(sp[0], line, sizeof line);
  if (got <= 0) {
    int status = wait_exit_status(pid);
    fail(FD_TO_TS, "the container init died during setup (status %d)", status);
  }
  sync_send(FD_TO_TS, "%s", line);
  if (strncmp(line, "ready", 5)) { waitpid(pid, NULL, 0); return 1; }
  close(sp[0]);
  if (!wait_child) return 0;

  /* Foreground: the container's parent until it exits. */
  close(FD_TO_TS);
  return foreground_parent(pid, relay_fd);
}
