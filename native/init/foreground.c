/* Stage 0 (`create --wait`) and exec (`--wait`) staying as the container process's parent until
 * it exits: forward the signals a shell sends to a foreground job, relay the pty when asked
 * (relay.c), and return the process's exit status as a shell reports it. */
#include "core.h"
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>

static pid_t child_pid;

static void forward_signal(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

int wait_exit_status(pid_t pid) {
  int status;
  for (;;) {
    pid_t w = waitpid(pid, &status, 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return 255;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int foreground_parent(pid_t child, int relay_fd) {
  child_pid = child;
  struct sigaction sa = {.sa_handler = forward_signal};
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
  if (relay_fd >= 0) relay_console(relay_fd);
  return wait_exit_status(child);
}
