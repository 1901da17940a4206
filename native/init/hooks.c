/* Init: the createContainer and startContainer hooks, run by the container's init (so in the
 * container's namespaces), each with the state JSON on stdin and an optional timeout. */
#include "core.h"
#include "../command-status.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A signal as Go names it in "signal: ..." (runc's hook errors): strsignal's text, lower case first. */
static void signal_text(int sig, char *out, size_t len) {
  const char *s = strsignal(sig);
  snprintf(out, len, "%s", s ? s : "unknown signal");
  if (out[0] >= 'A' && out[0] <= 'Z') out[0] = (char)(out[0] - 'A' + 'a');
}

/* hook STAGE TIMEOUT PATH NARGS ARG... ENV...; INDEX is its place among the stage's hooks. A
 * failure reads as runc's (1.1 and 1.2 alike): "error running STAGE hook #INDEX: error running
 * hook PATH: exit status N" or "...: signal: bad system call". */
static int run_hook(const struct plan_record *r, int index, const char *state, char *err, size_t n) {
  long long timeout, nargs;
  if (r->argc < 4 || plan_int(r->argv[1], &timeout, err, n) < 0 || plan_int(r->argv[3], &nargs, err, n) < 0 ||
      nargs < 0 || 4 + nargs > r->argc) {
    snprintf(err, n, "plan: malformed hook record");
    return -1;
  }
  const char *path = r->argv[2];
  char **args = calloc((size_t)nargs + 2, sizeof(char *));
  int nenv = r->argc - 4 - (int)nargs;
  char **env = calloc((size_t)nenv + 1, sizeof(char *));
  if (!args || !env) { snprintf(err, n, "out of memory"); return -1; }
  for (int i = 0; i < nargs; i++) args[i] = r->argv[4 + i];
  if (nargs == 0) args[0] = (char *)path;
  for (int i = 0; i < nenv; i++) env[i] = r->argv[4 + nargs + i];
  int in[2];
  if (pipe2(in, O_CLOEXEC) < 0) { snprintf(err, n, "pipe: %s", strerror(errno)); return -1; }
  pid_t pid = fork();
  if (pid < 0) { snprintf(err, n, "fork hook: %s", strerror(errno)); return -1; }
  if (pid == 0) {
    dup2(in[0], 0);
    execve(path, args, env);
    int e = errno;
    fprintf(stderr, "hook %s: %s\n", path, strerror(e));
    _exit(command_exit_status(e));
  }
  close(in[0]);
  signal(SIGPIPE, SIG_IGN);
  size_t len = strlen(state);
  if (write(in[1], state, len) != (ssize_t)len) { /* a hook may ignore stdin */ }
  close(in[1]);
  long long deadline = timeout > 0 ? now_ms() + timeout * 1000 : 0;
  int status;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) { snprintf(err, n, "wait for hook %s: %s", path, strerror(errno)); return -1; }
    if (deadline && now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      snprintf(err, n, "error running %s hook #%d: error running hook %s: timed out after %llds", r->argv[0], index, path, timeout);
      return -1;
    }
    poll(NULL, 0, 5);
  }
  free(args);
  free(env);
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    snprintf(err, n, "error running %s hook #%d: error running hook %s: exit status %d", r->argv[0], index, path, WEXITSTATUS(status));
    return -1;
  }
  if (WIFSIGNALED(status)) {
    char sig[64];
    signal_text(WTERMSIG(status), sig, sizeof sig);
    snprintf(err, n, "error running %s hook #%d: error running hook %s: signal: %s%s", r->argv[0], index, path, sig, WCOREDUMP(status) ? " (core dumped)" : "");
    return -1;
  }
  return 0;
}

int hooks_run(const struct plan *plan, const char *stage, char *err, size_t n) {
  const struct plan_record *s = plan_find(plan, "state_json");
  const char *state = s && s->argc == 1 ? s->argv[0] : "{}";
  int index = 0;
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (strcmp(r->op, "hook") || r->argc < 1 || strcmp(r->argv[0], stage)) continue;
    if (run_hook(r, index++, state, err, n) < 0) return -1;
  }
  return 0;
}
