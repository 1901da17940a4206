/* berth-monitor: the small parent of one container. It holds the container's stdio (pipes or a
 * pty), writes the log, serves attach clients, reaps the container (as child subreaper) and
 * records how it ended. Everything is static: no heap, one poll() loop, a few fixed buffers,
 * so the resident set stays well under 1 MiB. */
#ifndef BERTH_MONITOR_H
#define BERTH_MONITOR_H
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define IO_CHUNK 8192      /* one read from the container's output */
#define MAX_CLIENTS 8      /* attach connections served at once */
#define MAX_EXIT_ARGS 32   /* --exit-command-arg values */
#define MAX_PERIODIC_ARGS 16 /* --periodic-command-arg values */

enum stream { STREAM_STDIN = 0, STREAM_STDOUT = 1, STREAM_STDERR = 2 };

struct config {
  char **cmd;                    /* after "--" */
  int direct;                    /* CMD is the container process itself */
  const char *pid_file;          /* read after CMD exits (runtime) or written (direct) */
  unsigned long long pid_wait_ms;/* runtime: how long the pid file may take to appear */
  const char *log_path;
  unsigned long long log_max;    /* 0 = never rotate */
  const char *exit_file;
  const char *oom_file;
  unsigned long long oom_base;
  int tty;
  unsigned short rows, cols;
  const char *console_socket;    /* tty: the runtime sends the pty master here */
  int open_stdin;
  const char *attach_socket;
  const char *exit_cmd;
  const char *exit_unless_locked; /* skip the exit command while someone holds flock(2) on this file, or when it is gone */
  const char *exit_argv[MAX_EXIT_ARGS + 2];
  int exit_argc;
  const char *periodic_cmd;      /* run every periodic_ms while the container runs (healthcheck) */
  unsigned long long periodic_ms;
  const char *periodic_argv[MAX_PERIODIC_ARGS + 2];
  int periodic_argc;
  int ready_fd;                  /* -1 = none */
  int preserve_fds;              /* fds 3..3+N-1 are passed to CMD */
};

/* util.c */
int write_all(int fd, const void *buf, size_t n);
size_t fmt_u64(char *out, unsigned long long v);
size_t fmt_time(char *out, const struct timespec *ts); /* RFC3339Nano UTC, 30 chars */
int parse_u64(const char *s, unsigned long long *out);
/* Builds "berth-monitor: A: B" (B may be NULL) plus strerror(err) when err != 0. */
const char *describe(const char *a, const char *b, int err);
void warn_msg(const char *msg);
int write_file_atomic(const char *path, const char *data, size_t n);
/* A small file (pid file, /proc or cgroup file) in one read, NUL-terminated: its length, 0 when
 * nothing could be read, -1 (errno from open) when it cannot be opened. */
ssize_t read_small(const char *path, char *buf, size_t size);
int set_nonblock(int fd);
int dev_null(int flags);
long long now_ms(void);
/* exitcmd.c: the child's side of a command the monitor starts and does not wait on in its
 * loop (--exit-command, the periodic healthcheck): default signals, its own session, /dev/null
 * stdio, execv; exits with the shell's 126/127 if it cannot run. */
void exec_detached(const char *cmd, const char *const *argv) __attribute__((noreturn));

/* sock.c: bind a listening unix socket, also for paths longer than sun_path. */
int unix_listen(const char *path);

/* pty.c */
int pty_open(int *slave, unsigned short rows, unsigned short cols);
void pty_resize(int master, unsigned short rows, unsigned short cols);
int console_receive(int listen_fd); /* the pty master sent by the runtime, or -1 */

/* logfile.c */
int log_open(const char *path, unsigned long long max_bytes);
void log_write(enum stream s, const char *buf, size_t n);
void log_close(void);

/* attach.c */
struct pollfd;
void attach_init(int listen_fd, int framed);
int attach_poll(struct pollfd *p, int accept_input); /* fills slots, returns count */
void attach_events(struct pollfd *p, int n);
void attach_broadcast(enum stream s, const char *buf, size_t n);
int attach_pending(void);             /* output not yet taken by every client */
void attach_close_all(void);
/* Where client input goes: the container's stdin (pipe or pty master) and the pty for resize. */
void attach_set_stdin(int fd, int is_pty);
void attach_set_pty(int master);
int attach_stdin_fd_wants_write(void);
void attach_stdin_writable(void);

/* spawn.c: the child's pid; -1 when fork failed; -pid when exec failed (reap it). */
pid_t spawn_cmd(char **argv, int in, int out, int err, int tty, int preserve, const char **why);

/* procfs.c */
pid_t read_pid_file(const char *path);
pid_t parent_of(pid_t pid);    /* -1 when unknown */
void kill_children(void);      /* SIGKILL every child of the monitor */

/* exitfile.c */
struct outcome {
  int status_valid;   /* a wait status was collected */
  int status;         /* raw wait status */
  int start_failed;
  const char *error;  /* start failure text, or NULL */
  pid_t pid;
  struct timespec started, finished;
  int oom_checked;    /* an OOM file was given and read */
  int oom_killed;
};
/* Reads the cgroup's oom_kill counter into o (right at reaping: the cgroup may go soon after). */
void check_oom(struct outcome *o, const char *oom_file, unsigned long long oom_base);
int write_exit_file(const char *path, const struct outcome *o);

/* exitcmd.c */
void run_exit_command(const struct config *cfg);

/* periodic.c: --periodic-command (the healthcheck's clock) */
void periodic_arm(const struct config *cfg);
int periodic_timeout(void);                     /* ms until the next run, -1 when none is due */
int periodic_reaped(const struct config *cfg, pid_t pid); /* 1 when pid was the periodic command */
void periodic_tick(const struct config *cfg);   /* start it when due */
void periodic_disarm(void);

/* loop.c */
int monitor_run(struct config *cfg);

#endif
