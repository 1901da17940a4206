/* Exec: a new process in a running container (`berth-runtime exec`). Joins the container's
 * cgroups, then all its namespaces at once through a pidfd, takes its root, forks (the pid
 * namespace applies to children) and runs the process part of the plan. Non-dumpable while
 * it holds host resources, so nothing in the container can ptrace or reopen it. */
#include "core.h"
#include "security.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static int differing_namespaces(pid_t pid) {
  static const char *names[] = {"user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time"};
  int flags = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char theirs[64], ours[64];
    snprintf(theirs, sizeof theirs, "/proc/%d/ns/%s", pid, names[i]);
    snprintf(ours, sizeof ours, "/proc/self/ns/%s", names[i]);
    struct stat a, b;
    if (stat(theirs, &a) < 0 || stat(ours, &b) < 0) continue;
    if (a.st_ino != b.st_ino || a.st_dev != b.st_dev) flags |= ns_flag_of(names[i]);
  }
  return flags;
}

int exec_join(const struct plan *plan, int wait_child, int console_relay) {
  char err[ERRLEN];
  if (fcntl(FD_TO_TS, F_GETFD) < 0) {
    fprintf(stderr, "berth-init: exec must be started by berth-runtime (it passes its control pipes)\n");
    return 1;
  }
  fcntl(FD_TO_TS, F_SETFD, FD_CLOEXEC);
  if (fcntl(FD_FROM_TS, F_GETFD) >= 0) close(FD_FROM_TS);
  const struct plan_record *jp = plan_find(plan, "join_pid");
  long long pid;
  if (!jp || jp->argc != 1 || plan_int(jp->argv[0], &pid, err, sizeof err) < 0) fail(FD_TO_TS, "plan has no join_pid");

  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0) fail(FD_TO_TS, "container process %lld is gone: %s", pid, strerror(errno));
  char rootpath[64];
  snprintf(rootpath, sizeof rootpath, "/proc/%lld/root", pid);
  int rootfd = open(rootpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) fail(FD_TO_TS, "open container root: %s", strerror(errno));
  int flags = differing_namespaces((pid_t)pid);

  int console_fd = -1, relay_fd = -1;
  if (plan_has(plan, "terminal")) {
    const struct plan_record *cs = plan_find(plan, "console_socket");
    int pair[2];
    if (console_relay || !cs) {
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) fail(FD_TO_TS, "socketpair: %s", strerror(errno));
      relay_fd = pair[0];
      console_fd = pair[1];
    } else {
      console_fd = console_connect(cs->argv[0], err, sizeof err);
      if (console_fd < 0) fail(FD_TO_TS, "%s", err);
    }
  }

  if (seccomp_prepare(plan, err, sizeof err) < 0 || seccomp_listener_connect(plan, err, sizeof err) < 0) fail(FD_TO_TS, "%s", err);
  /* v1 by "0" to tasks (fast); v2 by writing cgroup.procs: clone3 into a group is refused once
   * we are inside the container's cgroup namespace, and the fork must follow setns. */
  if (cgroups_enter_self(plan, err, sizeof err) < 0 || cgroups_enter_v2_self(plan, err, sizeof err) < 0) fail(FD_TO_TS, "%s", err);
  if (flags && setns(pidfd, flags) < 0) fail(FD_TO_TS, "join the container's namespaces: %s", strerror(errno));
  close(pidfd);
  if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0) fail(FD_TO_TS, "enter the container's root: %s", strerror(errno));
  close(rootfd);

  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) fail(FD_TO_TS, "pipe: %s", strerror(errno));
  pid_t child = fork();
  if (child < 0) fail(FD_TO_TS, "fork: %s", strerror(errno));
  if (child == 0) {
    close(report[0]);
    if (relay_fd >= 0) close(relay_fd);
    if (process_early(plan, err, sizeof err) < 0) fail(report[1], "%s", err);
    if (console_setup(plan, console_fd, err, sizeof err) < 0) fail(report[1], "%s", err);
    if (process_chdir(plan, err, sizeof err) < 0) fail(report[1], "%s", err);
    process_exec(plan, report[1]);
  }
  close(report[1]);
  if (console_fd >= 0) close(console_fd);
  sync_send(FD_TO_TS, "pid %d", child);
  static char line[4096];
  ssize_t got = sync_recv_line(report[0], line, sizeof line);
  close(report[0]);
  if (got > 0) {
    sync_send(FD_TO_TS, "%s", line);
    return wait_exit_status(child);
  }
  sync_send(FD_TO_TS, "started");
  close(FD_TO_TS);
  if (!wait_child) return 0;
  return foreground_parent(child, relay_fd);
}
