/* berth-monitor [options] -- CMD ARGS...
 *
 *   --direct                CMD is the container process (no runtime stage 0, no pid file read)
 *   --pid-file FILE         runtime mode: the container pid, read once CMD exited 0 (the
 *                           engine may write it just after: it is awaited --pid-wait MS,
 *                           default 30000); direct mode: written with CMD's pid
 *   --log FILE              container log (CRI format, see logfile.c)
 *   --log-max BYTES         rotate FILE to FILE.1 beyond this size
 *   --exit-file FILE        JSON outcome, written atomically (see exitfile.c)
 *   --oom-file PATH         cgroup file with the "oom_kill N" counter; --oom-base N its start value
 *   --tty                   a terminal instead of pipes; --tty-size ROWS,COLS
 *   --console-socket PATH   with --tty: the runtime sends the pty master here (else the monitor
 *                           makes the pty and CMD gets the slave)
 *   --stdin                 keep the container's stdin open for attach clients
 *   --attach-socket PATH    serve attach (protocol in attach.c)
 *   --exit-command PATH     run after the exit file is written; --exit-command-arg ARG (repeatable)
 *   --exit-command-unless-locked FILE
 *                           ...unless FILE is gone or another process holds flock(2) on it (a
 *                           foreground client that settles the container itself)
 *   --periodic-command PATH --periodic-interval MS
 *                           run PATH (--periodic-command-arg ARG, repeatable) every MS while the
 *                           container runs, one at a time, detached (the engine's healthcheck)
 *   --ready-fd N            one NUL byte once the container runs, or an error message
 *   --preserve-fds N        pass fds 3..3+N-1 on to CMD
 *
 * Exit status: 0 once the container's outcome is recorded, 1 when it could not start, 2 on usage. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#define CLOSE_RANGE_CLOEXEC_FLAG 4 /* CLOSE_RANGE_CLOEXEC; not in every libc's headers */

static struct config cfg;

/* Every inherited fd from `first` on becomes close-on-exec; kernels before 5.11 lack
 * close_range, so fall back to fcntl over the fd table's usual range. */
static void mark_cloexec_from(int first) {
  if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC_FLAG) == 0) return;
  for (int fd = first; fd < 4096; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void usage(const char *what, const char *arg) {
  warn_msg(describe(what, arg, 0));
  if (cfg.ready_fd >= 0) {
    const char *m = describe(what, arg, 0);
    write_all(cfg.ready_fd, m, strlen(m));
  }
  _exit(2);
}

static unsigned long long number(const char *opt, const char *v) {
  unsigned long long n;
  if (!v || parse_u64(v, &n) < 0) usage(opt, "needs a non-negative number");
  return n;
}

static unsigned short dimension(const char *s, const char **end) {
  unsigned v = 0;
  const char *p = s;
  while (*p >= '0' && *p <= '9' && v < 100000) v = v * 10 + (unsigned)(*p++ - '0');
  if (p == s || v == 0 || v > 65535) usage("--tty-size", "needs ROWS,COLS (1-65535 each)");
  *end = p;
  return (unsigned short)v;
}

static void parse(int argc, char **argv) {
  cfg.ready_fd = -1;
  cfg.pid_wait_ms = 30000;
  /* The ready fd is needed early, to report usage errors through it too. */
  for (int i = 1; i + 1 < argc && strcmp(argv[i], "--"); i++)
    if (!strcmp(argv[i], "--ready-fd")) {
      unsigned long long fd;
      if (parse_u64(argv[i + 1], &fd) == 0 && fd < 1024 && fcntl((int)fd, F_GETFD) >= 0) cfg.ready_fd = (int)fd;
    }
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--")) { i++; break; }
    if (!strcmp(a, "--direct")) { cfg.direct = 1; continue; }
    if (!strcmp(a, "--tty")) { cfg.tty = 1; continue; }
    if (!strcmp(a, "--stdin")) { cfg.open_stdin = 1; continue; }
    if (!v) usage(a, "needs a value (or is unknown)");
    i++;
    if (!strcmp(a, "--pid-file")) cfg.pid_file = v;
    else if (!strcmp(a, "--pid-wait")) cfg.pid_wait_ms = number(a, v);
    else if (!strcmp(a, "--log")) cfg.log_path = v;
    else if (!strcmp(a, "--log-max")) cfg.log_max = number(a, v);
    else if (!strcmp(a, "--exit-file")) cfg.exit_file = v;
    else if (!strcmp(a, "--oom-file")) cfg.oom_file = v;
    else if (!strcmp(a, "--oom-base")) cfg.oom_base = number(a, v);
    else if (!strcmp(a, "--console-socket")) cfg.console_socket = v;
    else if (!strcmp(a, "--attach-socket")) cfg.attach_socket = v;
    else if (!strcmp(a, "--exit-command")) cfg.exit_cmd = v;
    else if (!strcmp(a, "--exit-command-unless-locked")) cfg.exit_unless_locked = v;
    else if (!strcmp(a, "--exit-command-arg")) {
      if (cfg.exit_argc >= MAX_EXIT_ARGS) usage(a, "given too often");
      cfg.exit_argv[1 + cfg.exit_argc++] = v;
    } else if (!strcmp(a, "--periodic-command")) cfg.periodic_cmd = v;
    else if (!strcmp(a, "--periodic-interval")) cfg.periodic_ms = number(a, v);
    else if (!strcmp(a, "--periodic-command-arg")) {
      if (cfg.periodic_argc >= MAX_PERIODIC_ARGS) usage(a, "given too often");
      cfg.periodic_argv[1 + cfg.periodic_argc++] = v;
    } else if (!strcmp(a, "--ready-fd")) {
      if (cfg.ready_fd < 0) usage(a, "is not an open file descriptor");
    } else if (!strcmp(a, "--preserve-fds")) cfg.preserve_fds = (int)number(a, v);
    else if (!strcmp(a, "--tty-size")) {
      const char *p;
      cfg.rows = dimension(v, &p);
      if (*p != ',') usage(a, "needs ROWS,COLS");
      cfg.cols = dimension(p + 1, &p);
      if (*p) usage(a, "needs ROWS,COLS");
    } else usage("unknown option", a);
  }
  if (i >= argc) usage("missing", "-- CMD [ARGS...]");
  cfg.cmd = argv + i;
  if (!cfg.direct && !cfg.pid_file) usage("--pid-file", "is required unless --direct is given");
  if (cfg.console_socket && !cfg.tty) usage("--console-socket", "needs --tty");
  /* A pty made here would be stage 0's controlling terminal: its exit would hang up the container. */
  if (cfg.tty && !cfg.direct && !cfg.console_socket) usage("--tty", "needs --console-socket unless --direct (the runtime makes the container's terminal)");
  if (cfg.preserve_fds > 1000) usage("--preserve-fds", "is too large");
  if (cfg.ready_fd >= 3 && cfg.ready_fd < 3 + cfg.preserve_fds) usage("--ready-fd", "must not be one of the preserved fds");
  if (cfg.exit_cmd && cfg.exit_cmd[0] != '/') usage("--exit-command", "needs an absolute path (it runs detached, without a PATH search)");
  if (cfg.exit_cmd) cfg.exit_argv[0] = cfg.exit_cmd;
  if (cfg.periodic_cmd && cfg.periodic_cmd[0] != '/') usage("--periodic-command", "needs an absolute path");
  if (cfg.periodic_cmd && !cfg.periodic_ms) usage("--periodic-command", "needs --periodic-interval (milliseconds, above 0)");
  if (cfg.periodic_cmd) cfg.periodic_argv[0] = cfg.periodic_cmd;
}

int main(int argc, char **argv) {
  /* fds 0-2 must exist, or a pipe made later could land there and be mistaken for stdio. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && dev_null(O_RDWR) < 0) return 1;
  for (int fd = 0; fd < 3; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
  parse(argc, argv);
  /* Nothing the engine left open reaches the container; preserved fds are reopened for CMD. */
  mark_cloexec_from(3);
  setsid(); /* fails harmlessly when the engine already made us a session leader */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
    warn_msg(describe("become child subreaper", NULL, errno));
    return 1;
  }
  return monitor_run(&cfg);
}
