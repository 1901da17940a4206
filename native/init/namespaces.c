/* Stage 0: namespaces. New ones become clone() flags; ones given by path are joined with
 * setns() before the clone (user namespace first, mount namespace last, so the paths of the
 * others still resolve); a new time namespace is unshared here so the init is born into it. */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int ns_flag_of(const char *type) {
  if (!strcmp(type, "user")) return CLONE_NEWUSER;
  if (!strcmp(type, "pid")) return CLONE_NEWPID;
  if (!strcmp(type, "net")) return CLONE_NEWNET;
  if (!strcmp(type, "ipc")) return CLONE_NEWIPC;
  if (!strcmp(type, "uts")) return CLONE_NEWUTS;
  if (!strcmp(type, "mnt")) return CLONE_NEWNS;
  if (!strcmp(type, "cgroup")) return CLONE_NEWCGROUP;
  if (!strcmp(type, "time")) return CLONE_NEWTIME;
  return 0;
}

int ns_clone_flags(const struct plan *plan) {
  int flags = 0;
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (strcmp(r->op, "ns") || r->argc != 2 || r->argv[1][0]) continue;
    int f = ns_flag_of(r->argv[0]);
    /* time: unshared by stage 0 (ns_setup_time); cgroup: by the init once it sits in its own
     * cgroups, so that they become the namespace's root (ns_unshare_cgroup). */
    if (f != CLONE_NEWTIME && f != CLONE_NEWCGROUP) flags |= f;
  }
  return flags;
}

int ns_join_paths(const struct plan *plan, char *err, size_t n) {
  /* Open every path first: joining one namespace (mnt, user) can change how later paths resolve. */
  /* time first: a time namespace another container unshared before entering its user namespace
   * belongs to the host's user namespace, which we are no longer privileged in once we joined
   * the container's user namespace (runc 1.2's suite joins both). One owned by the container's
   * user namespace and refused here (EPERM, rootless) is tried again after it. */
  static const char *order[] = {"time", "user", "pid", "net", "ipc", "uts", "cgroup", "mnt"};
  int fds[8];
  for (int k = 0; k < 8; k++) {
    fds[k] = -1;
    for (int i = 0; i < plan->count; i++) {
      const struct plan_record *r = &plan->records[i];
      if (strcmp(r->op, "ns") || r->argc != 2 || !r->argv[1][0] || strcmp(r->argv[0], order[k])) continue;
      fds[k] = open(r->argv[1], O_RDONLY | O_CLOEXEC);
      if (fds[k] < 0) { snprintf(err, n, "open %s namespace %s: %s", order[k], r->argv[1], strerror(errno)); return -1; }
    }
  }
  int time_later = 0;
  for (int k = 0; k < 8; k++) {
    if (fds[k] < 0) continue;
    if (setns(fds[k], ns_flag_of(order[k])) < 0) {
      if (k == 0 && errno == EPERM && fds[1] >= 0) { time_later = 1; continue; }
      snprintf(err, n, "join %s namespace: %s", order[k], strerror(errno));
      return -1;
    }
    close(fds[k]);
  }
  if (time_later) {
    if (setns(fds[0], CLONE_NEWTIME) < 0) { snprintf(err, n, "join time namespace: %s", strerror(errno)); return -1; }
    close(fds[0]);
  }
  return 0;
}

static int write_file(const char *path, const char *text, char *err, size_t n) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) { snprintf(err, n, "open %s: %s", path, strerror(errno)); return -1; }
  ssize_t len = (ssize_t)strlen(text);
  if (write(fd, text, (size_t)len) != len) {
    snprintf(err, n, "write %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

int ns_setup_time(const struct plan *plan, char *err, size_t n) {
  int wanted = 0;
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (!strcmp(r->op, "ns") && r->argc == 2 && !strcmp(r->argv[0], "time") && !r->argv[1][0]) wanted = 1;
  }
  if (!wanted) return 0;
  if (unshare(CLONE_NEWTIME) < 0) { snprintf(err, n, "unshare time namespace: %s", strerror(errno)); return -1; }
  char buf[256];
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (strcmp(r->op, "timens") || r->argc != 3) continue;
    snprintf(buf, sizeof buf, "%s %s %s\n", r->argv[0], r->argv[1], r->argv[2]);
    if (write_file("/proc/self/timens_offsets", buf, err, n) < 0) return -1;
  }
  return 0;
}

static int write_map(const struct plan *plan, const char *op, pid_t child, const char *file, char *err, size_t n) {
  char text[4096] = "";
  size_t used = 0;
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (strcmp(r->op, op) || r->argc != 3) continue;
    int w = snprintf(text + used, sizeof text - used, "%s %s %s\n", r->argv[0], r->argv[1], r->argv[2]);
    if (w < 0 || (size_t)w >= sizeof text - used) { snprintf(err, n, "%s too long", op); return -1; }
    used += (size_t)w;
  }
  if (!used) return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", child, file);
  return write_file(path, text, err, n);
}

int ns_write_id_maps(const struct plan *plan, pid_t child, char *err, size_t n) {
  if (write_map(plan, "uidmap", child, "uid_map", err, n) < 0) return -1;
  if (geteuid() != 0 && plan_has(plan, "gidmap")) {
    /* An unprivileged parent may only write gid_map once setgroups is denied (user_namespaces(7)). */
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/setgroups", child);
    if (write_file(path, "deny", err, n) < 0) return -1;
  }
  return write_map(plan, "gidmap", child, "gid_map", err, n);
}

int ns_unshare_cgroup(const struct plan *plan, char *err, size_t n) {
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (strcmp(r->op, "ns") || r->argc != 2 || strcmp(r->argv[0], "cgroup") || r->argv[1][0]) continue;
    if (unshare(CLONE_NEWCGROUP) < 0) { snprintf(err, n, "unshare cgroup namespace: %s", strerror(errno)); return -1; }
  }
  return 0;
}
