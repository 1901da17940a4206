/* berth-init: the C core's entry. Usage (by berth-runtime only):
 *   berth-init create PLAN [--wait] [--console-relay]
 *   berth-init exec PLAN [--wait] [--console-relay]
 *   berth-init userns-hold
 * PLAN "-": the first control line is "plan PATH" (berth-runtime starts us before the plan is
 * written, so our exec and self-sealing overlap with its work).
 * See native/PLAN.md for the plan and the order of processes. */
#include "core.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

/* userns-hold: a new user namespace, held until stdin closes (the engine writes its id maps,
 * opens /proc/PID/ns/user for idmapped mounts, then closes the pipe or dies). One exec of ours
 * instead of `unshare --user` + `sleep`; not sealed: it runs nothing and reads no plan. */
static int userns_hold(void) {
  if (unshare(CLONE_NEWUSER) < 0) { perror("berth-init: unshare(CLONE_NEWUSER)"); return 1; }
  char b;
  while (read(0, &b, 1) > 0) {}
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "userns-hold")) return userns_hold();
  if (argc < 3 || (strcmp(argv[1], "create") && strcmp(argv[1], "exec"))) {
    fprintf(stderr, "usage: berth-init create|exec PLAN [--wait] [--console-relay] [--control-fds OUT,IN]\n"
                    "berth-init is the C core of berth-runtime and is started by it; run berth-runtime instead.\n");
    return 2;
  }
  ensure_sealed_self(argv);
  int wait_child = 0, console_relay = 0;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--wait")) wait_child = 1;
    else if (!strcmp(argv[i], "--console-relay")) console_relay = 1;
    else if (!strcmp(argv[i], "--control-fds") && i + 1 < argc) {
      if (sscanf(argv[++i], "%d,%d", &FD_TO_TS, &FD_FROM_TS) != 2 || FD_TO_TS < 3 || FD_FROM_TS < 3) {
        fprintf(stderr, "berth-init: --control-fds needs OUT,IN\n");
        return 2;
      }
    }
    else { fprintf(stderr, "berth-init: unknown option %s\n", argv[i]); return 2; }
  }
  struct plan plan;
  char err[ERRLEN];
  static char plan_line[8300];
  const char *plan_path = argv[2];
  if (!strcmp(plan_path, "-")) {
    ssize_t got;
    /* "cgroup ..." lines first: the groups are made while berth-runtime builds the plan. */
    while ((got = sync_recv_line(FD_FROM_TS, plan_line, sizeof plan_line)) > 0 && !strncmp(plan_line, "cgroup ", 7))
      if (cgroups_make(plan_line + 7, err, sizeof err) < 0) fail(FD_TO_TS, "%s", err);
    if (got <= 0) return 1; /* berth-runtime gave up before the plan was ready */
    if (strncmp(plan_line, "plan /", 6)) fail(FD_TO_TS, "expected \"plan PATH\" on the control pipe");
    plan_path = plan_line + 5;
  }
  if (plan_load(&plan, plan_path, err, sizeof err) < 0) fail(FD_TO_TS, "%s", err);
  if (!strcmp(argv[1], "create")) return stage0_create(&plan, wait_child, console_relay);
  return exec_join(&plan, wait_child, console_relay);
}
