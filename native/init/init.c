/* Init: the container's first process, from clone() to execve(). Waits for stage 0's "go"
 * (id maps written, cgroups joined), builds the root filesystem, reports "ready", then blocks
 * on exec.fifo until `start`, and finally becomes the user's process. */
#include "core.h"
#include "security.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>


/* A user namespace of the container's: a new one (with id maps) or one joined by path. */
static int in_user_namespace(const struct plan *plan) {
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (!strcmp(r->op, "ns") && r->argc >= 1 && !strcmp(r->argv[0], "user")) return 1;
  }
  return 0;
}

int init_main(void *arg) {
  struct init_args *a = arg;
  struct plan *plan = a->plan;
  int sync = a->sync_fd;
  char err[ERRLEN] = "";
  /* Until ready, die with stage 0 rather than linger half-built. */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

  static char line[65536];
  ssize_t got = sync_recv_line(sync, line, sizeof line);
  if (got <= 0 || strncmp(line, "go", 2)) _exit(1);
  trace_step("go");
  /* The init's own part of the plan: TypeScript wrote it while stage 0 cloned us. */
  const struct plan_record *more = plan_find(plan, "plan_more");
  if (more && (more->argc != 1 || plan_append(plan, more->argv[0], err, sizeof err) < 0)) fail(sync, "%s", err[0] ? err : "plan: plan_more needs a PATH");
  if (line[2] == ' ') plan_set_value(plan, "state_json", line + 3);
  /* Only now: a non-dumpable process's /proc files belong to root, and an unprivileged
   * stage 0 had to write our id maps first. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  if (ns_unshare_cgroup(plan, err, sizeof err) < 0) fail(sync, "%s", err);
  /* rlimits and oom_score_adj while we are still the host's uid 0: /proc/self/oom_score_adj of a
   * non-dumpable process belongs to the host's root, which the container's root (a subordinate
   * id on the host, after setresuid below) may not write (runc writes it from the parent). */
  if (process_early(plan, err, sizeof err) < 0) fail(sync, "%s", err);
  umask(0);
  trace_step("early (cgroupns, rlimits)");
  if (rootfs_set_hostname(plan, err, sizeof err) < 0) fail(sync, "%s", err);
  if (loopback_up(plan, err, sizeof err) < 0) fail(sync, "%s", err);

  trace_step("hostname, loopback");
  /* No "rootfs" record: the config has no mount namespace of its own. As runc, the root
   * filesystem is then left alone (prepareRootfs/finalizeRootfs run only for a new mount
   * namespace): no bind, no pivot_root in the mount namespace we share, no mounts or devices;
   * the process sees the filesystem of the namespace it joined. The plan refused what would
   * need one (masked/read-only paths, a read-only root). */
  int own_root = plan_has(plan, "rootfs");
  int rootfd;
  if (own_root) {
    if (rootfs_prepare(plan, &rootfd, err, sizeof err) < 0) fail(sync, "%s", err);
    trace_step("rootfs prepared");
  } else {
    rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) fail(sync, "open /: %s", strerror(errno));
  }
  /* Root of the user namespace only now: the rootfs was reached by its host path as the host's
   * uid 0 (an engine's state root may be 0700); from here on everything goes through rootfd, and
   * what the mounts create inside belongs to the container's root. In a joined user namespace too:
   * there the host's uid 0 is unmapped, and files it created would fail with EOVERFLOW. */
  if (in_user_namespace(plan)) {
    if (own_root && mounts_open_sources(plan, err, sizeof err) < 0) fail(sync, "%s", err);
    if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) fail(sync, "become root in the user namespace: %s", strerror(errno));
  }
  if (own_root) {
    if (mounts_apply(plan, rootfd, err, sizeof err) < 0) fail(sync, "%s", err);
    trace_step("mounts");
    if (devices_create(plan, rootfd, err, sizeof err) < 0) fail(sync, "%s", err);
    trace_step("devices");
  }
  mounts_close_sources();
  if (rootfs_write_sysctls(plan, rootfd, err, sizeof err) < 0) fail(sync, "%s", err);

  /* exec.fifo lives in the state dir on the host. Kept past pivot_root as an O_PATH fd of the fifo
   * itself plus one of the host's /proc to reopen it through (as runc 1.2 does): no fd of the
   * state directory stays open while the container waits in "created" (runc's fd leak check). */
  int fifo_path = -1, host_proc = -1;
  if (a->state_fd >= 0) {
    fifo_path = openat(a->state_fd, "exec.fifo", O_PATH | O_CLOEXEC);
    if (fifo_path < 0) fail(sync, "open exec.fifo: %s", strerror(errno));
    host_proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (host_proc < 0) fail(sync, "open /proc: %s", strerror(errno));
    close(a->state_fd);
  }
  /* Without a root of its own the cwd is the host's: go there, never create it. */
  if (own_root && process_make_cwd(plan, rootfd, err, sizeof err) < 0) fail(sync, "%s", err);

  trace_step("sysctls, cwd");
  /* createContainer hooks run in the container's mount namespace from its root, as in runc (a
   * hook may name paths relative to it, e.g. ./lib). */
  if (fchdir(rootfd) < 0) fail(sync, "chdir to the root filesystem: %s", strerror(errno));
  if (hooks_run(plan, "createContainer", err, sizeof err) < 0) fail(sync, "%s", err);
  /* Build the seccomp filter now (off the start path) and reach a listener socket while its
   * host path is still visible. */
  if (seccomp_prepare(plan, err, sizeof err) < 0 || seccomp_listener_connect(plan, err, sizeof err) < 0) fail(sync, "%s", err);
  trace_step("seccomp prepared");
  if (own_root) {
    if (rootfs_pivot(plan, rootfd, err, sizeof err) < 0) fail(sync, "%s", err);
    trace_step("pivoted");
  }
  close(rootfd);
  if (own_root && rootfs_finish(plan, err, sizeof err) < 0) fail(sync, "%s", err);
  trace_step("finished (masked, readonly)");
  if (console_setup(plan, a->console_fd, err, sizeof err) < 0) fail(sync, "%s", err);
  if (process_chdir(plan, err, sizeof err) < 0) fail(sync, "%s", err);
  char path[4096];
  int status = process_lookup(plan, path, sizeof path, err, sizeof err);
  if (status) fail_command(sync, status, "%s", err);
  umask(022);

  trace_step("console, cwd, lookup");
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  if (sync_send(sync, "ready") < 0) _exit(1);
  close(sync);

  int fifo = -1;
  if (fifo_path >= 0) {
    /* Blocks until `start` opens the fifo for reading. The fd stays open (close-on-exec) so
     * `start` sees end-of-file exactly when execve has happened, or reads why it did not. */
    char via[64];
    snprintf(via, sizeof via, "self/fd/%d", fifo_path);
    fifo = openat(host_proc, via, O_WRONLY | O_CLOEXEC);
    if (fifo < 0) { fprintf(stderr, "berth-init: open exec.fifo: %s\n", strerror(errno)); _exit(1); }
    close(fifo_path);
    close(host_proc);
    if (write(fifo, "0", 1) != 1) { fprintf(stderr, "berth-init: write exec.fifo: %s\n", strerror(errno)); _exit(1); }
  }
  /* startContainer hooks run inside process_exec, once the process's seccomp filter, user and
   * capabilities are in force (as runc: a hook's syscalls are filtered as the process's are). */
  process_exec(plan, fifo);
}
