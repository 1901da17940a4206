/* --exit-command: run once the exit file is written (the engine's hook for --rm, restart
 * policies and cleanup). It runs detached in its own session with /dev/null stdio; the
 * monitor exits right after, so it is reparented and nobody waits for it here. */
#include "monitor.h"
#include "../command-status.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

/* Whether FILE still exists and nobody holds its lock (probed with a non-blocking flock that is
 * released at once): a client holding it is settling the container itself. */
static int lock_free(const char *file) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  int free = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd);
  return free;
}

void run_exit_command(const struct config *cfg) {
  if (!cfg->exit_cmd) return;
  if (cfg->exit_unless_locked && !lock_free(cfg->exit_unless_locked)) return;
  if (fork() == 0) exec_detached(cfg->exit_cmd, cfg->exit_argv);
}

void exec_detached(const char *cmd, const char *const *argv) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  setsid();
  int null = dev_null(O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  execv(cmd, (char *const *)argv);
  _exit(command_exit_status(errno));
}
