/* --exit-command: run once the exit file is written (the engine's hook for --rm, restart
 * policies and cleanup). It runs detached in its own session with /dev/null stdio; the
 * monitor exits right after, so it is reparented and nobody waits for it here. */
#include "monitor.h"
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

void run_exit_command(const struct config *cfg) {
  if (!cfg->exit_cmd) return;
  pid_t pid = fork();
  if (pid != 0) return;
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
  execv(cfg->exit_cmd, (char *const *)cfg->exit_argv);
  _exit(127);
}
