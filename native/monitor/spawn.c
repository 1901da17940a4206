/* Starting CMD: a new session, the given stdio, the preserved fds 3..3+N-1, default signal
 * state, and exec. Every other fd the monitor holds is close-on-exec, so none leaks into the
 * container. An exec failure comes back over a close-on-exec pipe as an errno. */
#include "monitor.h"
#include "../command-status.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void into(int fd, int target) {
  if (fd == target) fcntl(fd, F_SETFD, 0); /* keep it across exec */
  else dup2(fd, target);                   /* dup2 clears close-on-exec on the copy */
}

static void child(char **argv, int in, int out, int err, int tty, int preserve, int report) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  setsid();
  if (tty) ioctl(out, TIOCSCTTY, 0);
  into(in, 0);
  into(out, 1);
  into(err, 2);
  for (int fd = 3; fd < 3 + preserve; fd++) fcntl(fd, F_SETFD, 0);
  execvp(argv[0], argv);
  int e = errno;
  write_all(report, &e, sizeof e);
  _exit(command_exit_status(e));
}

pid_t spawn_cmd(char **argv, int in, int out, int err, int tty, int preserve, const char **why) {
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) { *why = describe("pipe", NULL, errno); return -1; }
  pid_t pid = fork();
  if (pid < 0) {
    *why = describe("fork", NULL, errno);
    close(pfd[0]);
    close(pfd[1]);
    return -1;
  }
  if (pid == 0) child(argv, in, out, err, tty, preserve, pfd[1]);
  close(pfd[1]);
  int e = 0;
  ssize_t r;
  do r = read(pfd[0], &e, sizeof e); while (r < 0 && errno == EINTR);
  close(pfd[0]);
  if (r == (ssize_t)sizeof e) {
    *why = describe("exec", argv[0], e);
    errno = e;
    return -pid; /* the child exits with 126/127; the caller reaps it */
  }
  return pid;
}
