/* --periodic-command: run every --periodic-interval ms while the container runs (the engine's
 * healthcheck, `berth internal health ID`, which execs the probe in the container and records
 * the result). The monitor only keeps time, so a container without a healthcheck costs nothing
 * and one with a healthcheck needs no process of its own between probes. One run at a time: the
 * next is due an interval after the previous one ended (docker waits the interval between
 * probes the same way), so a slow probe is never doubled. */
#include "monitor.h"
#include <unistd.h>

static pid_t running;     /* the command in progress, 0 when none */
static long long due;     /* when the next run starts; 0 = not armed */

void periodic_arm(const struct config *cfg) {
  if (cfg->periodic_cmd && cfg->periodic_ms) due = now_ms() + (long long)cfg->periodic_ms;
}

int periodic_timeout(void) {
  if (!due || running) return -1;
  long long left = due - now_ms();
  return left < 0 ? 0 : (int)(left > 0x7fffffff ? 0x7fffffff : left);
}

int periodic_reaped(const struct config *cfg, pid_t pid) {
  if (!running || pid != running) return 0;
  running = 0;
  if (due) due = now_ms() + (long long)cfg->periodic_ms;
  return 1;
}

void periodic_tick(const struct config *cfg) {
  if (!due || running || now_ms() < due) return;
  pid_t pid = fork();
  if (pid < 0) { /* try again next interval */
    due = now_ms() + (long long)cfg->periodic_ms;
    return;
  }
  if (pid == 0) exec_detached(cfg->periodic_cmd, cfg->periodic_argv);
  running = pid;
}

/* The container is gone: no more runs (one in progress finishes on its own). */
void periodic_disarm(void) { due = 0; }
