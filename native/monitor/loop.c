/* The monitor's life: give CMD its stdio and start it, learn the container's pid, then one
 * poll() loop that moves output to the log and attach clients, input to stdin, forwards
 * signals and reaps; when the container is gone, drain its output, write the exit file and
 * run the exit command.
 *
 * Runtime mode: CMD is the runtime's stage 0, which exits after setting up the container and
 * leaves the container init orphaned; as child subreaper the monitor inherits it. The init's
 * pid is read from --pid-file once stage 0 exited with status 0. Direct mode: CMD is the
 * container process. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DRAIN_MS 5000   /* at most this long for the last output once the container is gone */
#define EARLY_MAX 16

enum { SRC_OUT, SRC_ERR, SRC_PTY, SRC_COUNT };
enum { P_SIG, P_SRC, P_STDIN = P_SRC + SRC_COUNT, P_CONSOLE, P_ATTACH, P_COUNT = P_ATTACH + MAX_CLIENTS + 1 };

static struct config *cfg;
static struct outcome oc;
static pid_t child_pid, container_pid;
static int done;                  /* the container was reaped */
static long long pid_wait_until;  /* stage 0 succeeded, its pid file is awaited */
static int sig_fd = -1, console_fd = -1;
static struct { int fd; enum stream s; } src[SRC_COUNT];
static struct { pid_t pid; int status; } early[EARLY_MAX]; /* reaped before the pid was known */
static int early_n;
static char iobuf[IO_CHUNK];
static char errcap[400];          /* CMD's first stderr bytes, for a start failure message */
static size_t errcap_len;

static int pump(int i);

/* Whatever stage 0 wrote before it exited is in the pipes already: log it (and keep its
 * stderr for the failure message). */
static void drain_pipes(void) {
  for (int i = 0; i < SRC_COUNT; i++)
    while (src[i].fd >= 0 && pump(i)) {}
}

static void ready_close(void) {
  int fd = cfg->ready_fd;
  if (fd < 0) return;
  cfg->ready_fd = -1;
  if (fd <= 2) { /* keep 0-2 valid: point it at /dev/null */
    int null = dev_null(O_RDWR);
    if (null >= 0) { dup2(null, fd); close(null); }
  } else {
    close(fd);
  }
}

static void ready_ok(void) {
  if (cfg->ready_fd >= 0) write_all(cfg->ready_fd, "", 1); /* one NUL byte: running */
  ready_close();
}

static void fail_start(const char *msg, int status_valid, int status) {
  static char full[1024];
  size_t n = strlen(msg);
  if (n > 600) n = 600;
  memcpy(full, msg, n);
  size_t cap = errcap_len;
  while (cap && (errcap[cap - 1] == '\n' || errcap[cap - 1] == '\r')) cap--;
  if (cap) {
    memcpy(full + n, ": ", 2);
    memcpy(full + n + 2, errcap, cap);
    n += 2 + cap;
  }
  full[n] = 0;
  warn_msg(full);
  if (cfg->ready_fd >= 0) write_all(cfg->ready_fd, full, n);
  ready_close();
  log_close();
  if (cfg->exit_file) {
    oc.start_failed = 1;
    oc.error = full;
    oc.status_valid = status_valid;
    oc.status = status;
    clock_gettime(CLOCK_REALTIME, &oc.finished);
    write_exit_file(cfg->exit_file, &oc);
  }
  if (cfg->attach_socket) unlink(cfg->attach_socket);
  if (cfg->console_socket) unlink(cfg->console_socket);
  _exit(1);
}

static void container_exited(int status) {
  done = 1;
  periodic_disarm();
  oc.status_valid = 1;
  oc.status = status;
  clock_gettime(CLOCK_REALTIME, &oc.finished);
  check_oom(&oc, cfg->oom_file, cfg->oom_base);
}

/* The runtime made the pty inside the container and sent its master over the console socket. */
static void adopt_console(void) {
  int m = console_receive(console_fd);
  if (m < 0) return;
  src[SRC_PTY].fd = m;
  set_nonblock(m);
  attach_set_pty(m);
  if (cfg->open_stdin) attach_set_stdin(m, 1);
  if (cfg->rows && cfg->cols) pty_resize(m, cfg->rows, cfg->cols);
  close(console_fd);
  console_fd = -1;
}

static void adopt(pid_t pid) {
  container_pid = pid;
  oc.pid = pid;
  clock_gettime(CLOCK_REALTIME, &oc.started);
  for (int i = 0; i < early_n; i++)
    if (early[i].pid == pid) { container_exited(early[i].status); break; }
  if (!done && parent_of(pid) != getpid()) {
    kill_children();
    fail_start(describe("the process named in the pid file is not the monitor's child:", cfg->pid_file, 0), 0, 0);
  }
  /* The console socket sent the master before stage 0 exited: it is queued already. */
  if (console_fd >= 0) adopt_console();
  if (!done) periodic_arm(cfg);
  ready_ok();
}

/* The engine may write the pid file only after stage 0 reported "ready" and exited: wait for it
 * (the orphaned init is ours meanwhile; should it die, reap() keeps its status). */
static void try_adopt(void) {
  pid_t pid = read_pid_file(cfg->pid_file);
  if (pid > 0) {
    pid_wait_until = 0;
    adopt(pid);
    return;
  }
  if ((errno == ENOENT || errno == EAGAIN) && now_ms() < pid_wait_until) return;
  kill_children();
  fail_start(describe("read the container pid from", cfg->pid_file, errno == EAGAIN ? ENODATA : errno), 0, 0);
}

/* Stage 0 finished: on success, adopt the container init it left behind. */
static void stage0_exited(int status) {
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    drain_pipes();
    kill_children(); /* a crashed stage 0 may have left an init nobody would watch */
    char what[48] = "exited with status ";
    size_t at = 19;
    if (!WIFEXITED(status)) { memcpy(what, "was killed by signal ", 21); at = 21; }
    what[at + fmt_u64(what + at, WIFEXITED(status) ? (unsigned)WEXITSTATUS(status) : (unsigned)WTERMSIG(status))] = 0;
    fail_start(describe(cfg->cmd[0], what, 0), 1, status);
  }
  pid_wait_until = now_ms() + (long long)cfg->pid_wait_ms;
  try_adopt();
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (periodic_reaped(cfg, pid)) continue;
    if (pid == container_pid && !done) container_exited(status);
    else if (pid == child_pid && !container_pid) stage0_exited(status);
    else if (!container_pid) {
      if (early_n == EARLY_MAX) { memmove(early, early + 1, sizeof early[0] * (EARLY_MAX - 1)); early_n--; }
      early[early_n].pid = pid;
      early[early_n++].status = status;
    }
  }
}

static void on_signal(void) {
  struct signalfd_siginfo si;
  while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
    if (si.ssi_signo == SIGCHLD) { reap(); continue; }
    pid_t to = container_pid ? container_pid : child_pid;
    if (!done && to > 0) kill(to, (int)si.ssi_signo);
  }
}

/* One read from an output source. Returns 1 when data moved, 0 when none was there. */
static int pump(int i) {
  ssize_t n = read(src[i].fd, iobuf, sizeof iobuf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (n <= 0) { /* EOF, or EIO from a pty master whose slave is closed everywhere */
    close(src[i].fd);
    src[i].fd = -1;
    return 0;
  }
  if (!container_pid && src[i].s == STREAM_STDERR) {
    size_t room = sizeof errcap - errcap_len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(errcap + errcap_len, iobuf, take);
    errcap_len += take;
  }
  log_write(src[i].s, iobuf, (size_t)n);
  attach_broadcast(src[i].s, iobuf, (size_t)n);
  return 1;
}

static int make_pipe(int fds[2], const char *what) {
  if (pipe2(fds, O_CLOEXEC) == 0) return 0;
  fail_start(describe("create pipe for", what, errno), 0, 0);
  return -1;
}

/* The fds CMD gets, and the monitor's own ends of them. */
static void setup_stdio(int *in, int *out, int *err) {
  for (int i = 0; i < SRC_COUNT; i++) src[i].fd = -1;
  src[SRC_OUT].s = src[SRC_PTY].s = STREAM_STDOUT;
  src[SRC_ERR].s = STREAM_STDERR;
  int null = dev_null(O_RDWR);
  if (null < 0) fail_start(describe("open", "/dev/null", errno), 0, 0);
  if (cfg->tty && !cfg->console_socket) {
    int slave;
    int master = pty_open(&slave, cfg->rows, cfg->cols);
    if (master < 0) fail_start(describe("open a pty", NULL, errno), 0, 0);
    src[SRC_PTY].fd = master;
    attach_set_pty(master);
    if (cfg->open_stdin) attach_set_stdin(master, 1);
    *in = *out = *err = slave;
    close(null);
    return;
  }
  int o[2], e[2];
  make_pipe(o, "stdout");
  make_pipe(e, "stderr");
  src[SRC_OUT].fd = o[0];
  src[SRC_ERR].fd = e[0];
  *out = o[1];
  *err = e[1];
  *in = null;
  if (cfg->open_stdin && !cfg->tty) {
    int i[2];
    make_pipe(i, "stdin");
    attach_set_stdin(i[1], 0);
    *in = i[0];
    close(null);
  }
}

static void start(void) {
  sigset_t set;
  sigemptyset(&set);
  int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&set, sigs[i]);
  sigprocmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sig_fd < 0) fail_start(describe("signalfd", NULL, errno), 0, 0);

  int attach_fd = -1;
  if (cfg->attach_socket && (attach_fd = unix_listen(cfg->attach_socket)) < 0)
    fail_start(describe("listen on attach socket", cfg->attach_socket, errno), 0, 0);
  attach_init(attach_fd, !cfg->tty);
  if (cfg->console_socket && (console_fd = unix_listen(cfg->console_socket)) < 0)
    fail_start(describe("listen on console socket", cfg->console_socket, errno), 0, 0);
  if (cfg->log_path && log_open(cfg->log_path, cfg->log_max) < 0)
    fail_start(describe("open log", cfg->log_path, errno), 0, 0);

  int in, out, err;
  setup_stdio(&in, &out, &err);
  const char *why = NULL;
  clock_gettime(CLOCK_REALTIME, &oc.started);
  pid_t pid = spawn_cmd(cfg->cmd, in, out, err, cfg->tty && !cfg->console_socket, cfg->preserve_fds, &why);
  close(in);
  if (out != in) close(out);
  if (err != out) close(err);
  for (int fd = 3; fd < 3 + cfg->preserve_fds; fd++) close(fd); /* CMD has them now */
  if (pid == -1) fail_start(why, 0, 0);
  if (pid < -1) {
    int status = 0;
    waitpid(-pid, &status, 0);
    fail_start(why, 1, status);
  }
  child_pid = pid;
  /* Do not keep the engine's working directory busy (it may be a mount to undo later) unless a
   * relative path still needs it. */
  const char *paths[] = {cfg->pid_file, cfg->log_path, cfg->exit_file, cfg->oom_file, cfg->attach_socket, cfg->console_socket};
  int relative = 0;
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) relative |= paths[i] && paths[i][0] != '/';
  if (!relative && chdir("/") < 0) warn_msg(describe("chdir", "/", errno));
  for (int i = 0; i < SRC_COUNT; i++)
    if (src[i].fd >= 0) set_nonblock(src[i].fd);
  if (cfg->direct) {
    container_pid = oc.pid = pid;
    if (cfg->pid_file) {
      char buf[24];
      size_t n = fmt_u64(buf, (unsigned long long)pid);
      buf[n++] = '\n';
      if (write_file_atomic(cfg->pid_file, buf, n) < 0) warn_msg(describe("write pid file", cfg->pid_file, errno));
    }
    periodic_arm(cfg);
    ready_ok();
  }
}

static void finish(void) {
  if (cfg->exit_file && write_exit_file(cfg->exit_file, &oc) < 0)
    warn_msg(describe("write exit file", cfg->exit_file, errno));
  attach_close_all(); /* clients see EOF once the exit file is there */
  log_close();
  if (cfg->attach_socket) unlink(cfg->attach_socket);
  if (cfg->console_socket) unlink(cfg->console_socket);
  run_exit_command(cfg);
}

int monitor_run(struct config *c) {
  cfg = c;
  start();
  struct pollfd p[P_COUNT];
  long long deadline = 0;
  for (;;) {
    int pending = attach_pending();
    if (done) {
      if (!deadline) deadline = now_ms() + DRAIN_MS;
      int open_src = 0;
      for (int i = 0; i < SRC_COUNT; i++) open_src |= src[i].fd >= 0;
      if ((!open_src && !pending) || now_ms() >= deadline) break;
    }
    p[P_SIG].fd = sig_fd;
    p[P_SIG].events = POLLIN;
    for (int i = 0; i < SRC_COUNT; i++) {
      p[P_SRC + i].fd = pending ? -1 : src[i].fd;
      p[P_SRC + i].events = POLLIN;
    }
    p[P_STDIN].fd = done ? -1 : attach_stdin_fd_wants_write();
    p[P_STDIN].events = POLLOUT;
    p[P_CONSOLE].fd = console_fd;
    p[P_CONSOLE].events = POLLIN;
    attach_poll(p + P_ATTACH, !done);

    int timeout = pending ? 1000 : -1;
    if (pid_wait_until) timeout = 10;
    int pt = done ? -1 : periodic_timeout();
    if (pt >= 0 && (timeout < 0 || pt < timeout)) timeout = pt;
    if (done) {
      long long left = deadline - now_ms();
      /* Pipe output is complete once the container is reaped; a pty's last bytes may still be
       * on their way through the line discipline, so wait for its hangup. */
      if (!pending) timeout = src[SRC_PTY].fd >= 0 ? (int)left : 0;
      else if (left < timeout) timeout = (int)left;
    }
    int was_done = done; /* reaping below must not count as "drained": revents predate it */
    int n = poll(p, P_COUNT, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_start(describe("poll", NULL, errno), 0, 0);
    }
    /* Clients first: one that connected in the same wakeup as the first output must get it. */
    attach_events(p + P_ATTACH, MAX_CLIENTS + 1);
    for (int i = 0; i < SRC_COUNT; i++)
      if (p[P_SRC + i].fd >= 0 && p[P_SRC + i].revents) {
        if (!pump(i) && was_done && src[i].fd >= 0 && i != SRC_PTY) { close(src[i].fd); src[i].fd = -1; }
      } else if (was_done && !pending && p[P_SRC + i].fd >= 0 && i != SRC_PTY) {
        close(src[i].fd); /* drained: nothing left in the pipe */
        src[i].fd = -1;
      }
    if (p[P_STDIN].fd >= 0 && p[P_STDIN].revents) attach_stdin_writable();
    if (p[P_CONSOLE].fd >= 0 && (p[P_CONSOLE].revents & POLLIN)) adopt_console();
    if (pid_wait_until) try_adopt();
    if (p[P_SIG].revents) on_signal(); /* last: output read above came before the exit */
    if (!done && container_pid) periodic_tick(cfg);
  }
  finish();
  return 0;
}
