/* BERTH_TRACE=1: milliseconds between the init's setup steps, on stderr (for finding where
 * container creation spends its time; silent otherwise). */
#include "core.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void trace_step(const char *step) {
  static int enabled = -1;
  static struct timespec last;
  if (enabled < 0) enabled = getenv("BERTH_TRACE") != NULL;
  if (!enabled) return;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double ms = last.tv_sec ? (double)(now.tv_sec - last.tv_sec) * 1e3 + (double)(now.tv_nsec - last.tv_nsec) / 1e6 : 0;
  last = now;
  fprintf(stderr, "[init trace +%.2fms] %s\n", ms, step);
}
