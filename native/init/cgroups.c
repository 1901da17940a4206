/* Stage 0: puts the new init into the container's cgroups (the cgroup_join records), before it
 * runs anything of the container's. Done here rather than by TypeScript so the kernel's wait in a
 * cgroup migration overlaps with the runtime's own work (see create.c). */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cgroups_join_pid(const struct plan *plan, pid_t pid, char *err, size_t n) {
  char text[32];
  int len = snprintf(text, sizeof text, "%d", pid);
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (strcmp(r->op, "cgroup_join") || r->argc != 1) continue;
    int fd = open(r->argv[0], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, (size_t)len) != len) {
      snprintf(err, n, "join cgroup %s: %s", r->argv[0], strerror(errno));
      if (fd >= 0) close(fd);
      return -1;
    }
    close(fd);
  }
  return 0;
}
