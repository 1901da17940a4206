/* Putting a new container process into its cgroups without the kernel's slow path.
 *
 * A pid written to cgroup.procs takes the kernel's global threadgroup lock for writing, which
 * waits for an RCU grace period (5-25 ms for the first migration after a quiet moment). Instead:
 *   - v1: the single-threaded stage writes "0" to each group's `tasks` file, which moves only the
 *     calling thread and skips that lock; the init it then clones inherits the groups;
 *   - v2: the init is created by clone3(CLONE_INTO_CGROUP) straight into the group.
 * Plan records: cgroup_enter TASKS_FILE, cgroup_clone_into V2_DIR, cgroup_leave TASKS_FILE; and the
 * "cgroup" control lines that make the groups. */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

static int write_self(const char *file, char *err, size_t n) {
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "0", 1) != 1) {
    snprintf(err, n, "join cgroup %s: %s", file, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

static int write_all(const struct plan *plan, const char *op, char *err, size_t n) {
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (!strcmp(r->op, op) && r->argc == 1 && write_self(r->argv[0], err, n) < 0) return -1;
  }
  return 0;
}

/* A new v1 cpuset group has no CPUs and no memory nodes, and refuses tasks until it gets both:
 * it starts with its parent's. The parent may be new too and still empty (another stage 0 made
 * it a moment ago and has not filled it yet): then it is filled first, the same way. */
static ssize_t read_value(const char *path, char *value, size_t len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t got = fd < 0 ? -1 : read(fd, value, len - 1);
  if (fd >= 0) close(fd);
  if (got >= 0) value[got] = 0;
  return got;
}

static int inherit_cpuset(const char *dir, int depth, char *err, size_t n) {
  static const char *files[] = {"cpuset.cpus", "cpuset.mems"};
  char parent_dir[4200];
  snprintf(parent_dir, sizeof parent_dir, "%s", dir);
  char *slash = strrchr(parent_dir, '/');
  if (!slash || slash == parent_dir) return 0;
  *slash = 0;
  for (int i = 0; i < 2; i++) {
    char path[4300], parent[4300], value[4096];
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    snprintf(parent, sizeof parent, "%s/%s", parent_dir, files[i]);
    ssize_t got = read_value(path, value, sizeof value);
    if (got > 0 && value[0] != '\n') continue; /* set already */
    got = read_value(parent, value, sizeof value);
    if (got >= 0 && (got == 0 || value[0] == '\n') && depth < 64) {
      if (inherit_cpuset(parent_dir, depth + 1, err, n) < 0) return -1;
      got = read_value(parent, value, sizeof value);
    }
    if (got <= 0 || value[0] == '\n') { snprintf(err, n, "read %s: %s", parent, got < 0 ? strerror(errno) : "empty"); return -1; }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, value, (size_t)got) != got) {
      snprintf(err, n, "write %s: %s", path, strerror(errno));
      if (fd >= 0) close(fd);
      return -1;
    }
    close(fd);
  }
  return 0;
}

/* "cgroup CPUSET MOUNT DIR" from TypeScript, before the plan (src/runtime/cgroup-entry.ts): makes
 * DIR and any missing parent below MOUNT, while TypeScript builds the plan. Another container's
 * teardown may remove a shared, empty parent between two mkdirs (ENOENT): start again. */
int cgroups_make(const char *line, char *err, size_t n) {
  char buf[8300];
  snprintf(buf, sizeof buf, "%s", line);
  char *cpuset = strtok(buf, " "), *mount = strtok(NULL, " "), *dir = strtok(NULL, " ");
  size_t ml = mount ? strlen(mount) : 0;
  if (!cpuset || !mount || !dir || strtok(NULL, " ") || strncmp(dir, mount, ml) || dir[ml] != '/') {
    snprintf(err, n, "bad cgroup line: %s", line);
    return -1;
  }
  for (int attempt = 0;; attempt++) {
    int retry = 0;
    for (char *p = dir + ml + 1;; p++) {
      if (*p != '/' && *p != 0) continue;
      char saved = *p;
      *p = 0;
      if (mkdir(dir, 0755) == 0) {
        if (cpuset[0] == '1' && inherit_cpuset(dir, 0, err, n) < 0) return -1;
      } else if (errno == ENOENT && attempt < 5) {
        retry = 1;
      } else if (errno != EEXIST) {
        snprintf(err, n, "cannot create cgroup %s: %s%s", dir, strerror(errno), errno == EACCES || errno == EPERM ? " (need root or a delegated cgroup)" : "");
        return -1;
      }
      *p = saved;
      if (retry || saved == 0) break;
    }
    if (!retry) return 0;
  }
}

int cgroups_enter_self(const struct plan *plan, char *err, size_t n) { return write_all(plan, "cgroup_enter", err, n); }

int cgroups_leave_self(const struct plan *plan, char *err, size_t n) { return write_all(plan, "cgroup_leave", err, n); }

int cgroups_enter_v2_self(const struct plan *plan, char *err, size_t n) {
  const struct plan_record *r = plan_find(plan, "cgroup_clone_into");
  if (!r || r->argc != 1) return 0;
  char file[4096];
  snprintf(file, sizeof file, "%s/cgroup.procs", r->argv[0]);
  return write_self(file, err, n);
}

/* The kernel's struct clone_args (v2, with the cgroup field), spelled out so no kernel header is needed. */
struct clone_args_v2 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

pid_t cgroups_fork_into(const struct plan *plan, int ns_flags, char *err, size_t n) {
  const struct plan_record *r = plan_find(plan, "cgroup_clone_into");
  int cgfd = -1;
  if (r && r->argc == 1) {
    cgfd = open(r->argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cgfd < 0) { snprintf(err, n, "open cgroup %s: %s", r->argv[0], strerror(errno)); return -1; }
  }
  struct clone_args_v2 args = {.flags = (uint64_t)(unsigned)ns_flags, .exit_signal = SIGCHLD};
  if (cgfd >= 0) { args.flags |= CLONE_INTO_CGROUP; args.cgroup = (uint64_t)cgfd; }
  /* No stack given: the child continues on a copy of ours, like fork(). */
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && cgfd >= 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL)) {
    /* A kernel without clone3 or CLONE_INTO_CGROUP (before 5.7): join by writing, the slow way. */
    if (cgroups_enter_v2_self(plan, err, n) < 0) { close(cgfd); return -1; }
    args.flags &= ~CLONE_INTO_CGROUP;
    args.cgroup = 0;
    pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0 && errno == ENOSYS) pid = syscall(SYS_clone, (unsigned long)(ns_flags | SIGCHLD), 0, 0, 0, 0);
  } else if (pid < 0 && errno == ENOSYS) {
    pid = syscall(SYS_clone, (unsigned long)(ns_flags | SIGCHLD), 0, 0, 0, 0);
  }
  int saved = errno;
  if (cgfd >= 0) close(cgfd);
  if (pid < 0) {
    snprintf(err, n, "clone the container init%s%s: %s", cgfd >= 0 ? " into cgroup " : "", cgfd >= 0 ? r->argv[0] : "", strerror(saved));
    return -1;
  }
  return (pid_t)pid;
}
