/* Init and exec: the process itself. Early: rlimits and oom_score_adj. Last: seccomp, user,
 * capabilities, no_new_privs in runc's order, the startContainer hooks, then every fd but stdio
 * (and preserved ones) marked close-on-exec (CVE-2024-21626 class), then execve. */
#include "core.h"
#include "security.h"
#include "../command-status.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <stdint.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int process_early(const struct plan *plan, char *err, size_t n) {
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (!strcmp(r->op, "rlimit") && r->argc == 3) {
      long long res, soft, hard;
      if (plan_int(r->argv[0], &res, err, n) < 0 || plan_int(r->argv[1], &soft, err, n) < 0 || plan_int(r->argv[2], &hard, err, n) < 0) return -1;
      struct rlimit rl = {.rlim_cur = soft < 0 ? RLIM_INFINITY : (rlim_t)soft, .rlim_max = hard < 0 ? RLIM_INFINITY : (rlim_t)hard};
      if (setrlimit((int)res, &rl) < 0) {
        snprintf(err, n, "setrlimit %lld to %lld/%lld: %s%s", res, soft, hard, strerror(errno),
                 errno == EPERM ? " (raising a hard limit needs CAP_SYS_RESOURCE, which this host does not grant)" : "");
        return -1;
      }
    } else if (!strcmp(r->op, "oom_score_adj") && r->argc == 1) {
      int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, r->argv[0], strlen(r->argv[0])) < 0) {
        snprintf(err, n, "set oom_score_adj %s: %s", r->argv[0], strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
      }
      close(fd);
    }
  }
  return 0;
}

static const char *env_get(const struct plan *plan, const char *key) {
  const struct plan_record *e = plan_find(plan, "env");
  size_t klen = strlen(key);
  if (!e) return NULL;
  for (int i = 0; i < e->argc; i++)
    if (!strncmp(e->argv[i], key, klen) && e->argv[i][klen] == '=') return e->argv[i] + klen + 1;
  return NULL;
}

static int is_executable(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int process_lookup(const struct plan *plan, char *out, size_t len, char *err, size_t n) {
  const struct plan_record *a = plan_find(plan, "args");
  if (!a || a->argc < 1 || !a->argv[0][0]) { snprintf(err, n, "process has no args"); return EXIT_NOT_FOUND; }
  const char *name = a->argv[0];
  if (strchr(name, '/')) {
    struct stat st;
    if (stat(name, &st) < 0) {
      int e = errno;
      snprintf(err, n, "exec: \"%s\": stat %s: %s", name, name, strerror(e));
      return command_exit_status(e);
    }
    if (S_ISDIR(st.st_mode)) { snprintf(err, n, "exec: \"%s\": is a directory", name); return command_exit_status(EISDIR); }
    /* No execute bit: refused here, before start, as runc's look-up (Go's exec.LookPath) does, so
     * the caller still gets 126 and the reason; execve's own failures come later (255). */
    if (!(st.st_mode & 0111)) { snprintf(err, n, "exec: \"%s\": permission denied", name); return command_exit_status(EACCES); }
    snprintf(out, len, "%s", name);
    return 0;
  }
  const char *path = env_get(plan, "PATH");
  if (!path) path = DEFAULT_PATH;
  char dir[PATH_MAX];
  for (const char *p = path;;) {
    const char *colon = strchr(p, ':');
    size_t dl = colon ? (size_t)(colon - p) : strlen(p);
    if (dl == 0) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", (int)dl, p);
    snprintf(out, len, "%s/%s", dir, name);
    if (is_executable(out)) return 0;
    if (!colon) break;
    p = colon + 1;
  }
  snprintf(err, n, "exec: \"%s\": executable file not found in $PATH", name);
  return EXIT_NOT_FOUND;
}

int process_make_cwd(const struct plan *plan, int rootfd, char *err, size_t n) {
  const struct plan_record *c = plan_find(plan, "cwd");
  if (!c || c->argc != 1) return 0;
  int fd = open_in_root(rootfd, c->argv[0], 1, 1, err, n);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

int process_chdir(const struct plan *plan, char *err, size_t n) {
  const struct plan_record *c = plan_find(plan, "cwd");
  const char *cwd = c && c->argc == 1 ? c->argv[0] : "/";
  int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) { snprintf(err, n, "open /: %s", strerror(errno)); return -1; }
  /* The init made it before the root could turn read-only (process_make_cwd); exec must not
   * create directories in a running container, only go where the caller said. */
  int fd = open_in_root(rootfd, cwd, 1, 0, err, n);
  close(rootfd);
  if (fd < 0) return -1;
  int rc = fchdir(fd);
  close(fd);
  if (rc < 0) { snprintf(err, n, "chdir to cwd %s: %s", cwd, strerror(errno)); return -1; }
  /* A cwd outside our root shows as "(unreachable)"; never start a process there (CVE-2024-21626). */
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf) || buf[0] != '/') { snprintf(err, n, "cwd %s is outside the container", cwd); return -1; }
  return 0;
}

#define ID_MAX 4294967294u
static int id_in_range(long long id) { return id >= 0 && id <= (long long)ID_MAX; }

/* As runc: the process's stdio (its pty above all) belongs to the process's user, or a non-root
 * process could not use its own terminal. Only the owner changes (the devpts gid= stays), and
 * /dev/null is left alone; a descriptor that cannot be chowned (EPERM, EINVAL) is left as it is. */
static void fix_stdio_owner(uid_t uid) {
  struct stat null_st;
  int have_null = stat("/dev/null", &null_st) == 0;
  for (int fd = 0; fd < 3; fd++) {
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_uid == uid) continue;
    if (have_null && S_ISCHR(st.st_mode) && st.st_rdev == null_st.st_rdev) continue;
    if (fchown(fd, uid, st.st_gid) < 0) { /* EPERM/EINVAL: not ours to change */ }
  }
}

static int set_user(const struct plan *plan, char *err, size_t n) {
  const struct plan_record *u = plan_find(plan, "user");
  long long uid = 0, gid = 0, umask_v = -1;
  if (u && u->argc == 3 && (plan_int(u->argv[0], &uid, err, n) < 0 || plan_int(u->argv[1], &gid, err, n) < 0 ||
                            plan_int(u->argv[2], &umask_v, err, n) < 0))
    return -1;
  /* Ids are 32-bit and (uid_t)-1 means "unchanged" to setresuid: anything else would wrap to a
   * different id, or leave the process root. TypeScript refuses these first; this is the last line. */
  if (!id_in_range(uid) || !id_in_range(gid)) { snprintf(err, n, "user %lld:%lld: ids range from 0 to %u", uid, gid, ID_MAX); return -1; }
  fix_stdio_owner((uid_t)uid);
  const struct plan_record *g = plan_find(plan, "groups");
  gid_t groups[NGROUPS_MAX];
  int ng = 0;
  for (int i = 0; g && i < g->argc && ng < NGROUPS_MAX; i++) {
    long long v;
    if (plan_int(g->argv[i], &v, err, n) < 0) return -1;
    if (!id_in_range(v)) { snprintf(err, n, "additional gid %lld: ids range from 0 to %u", v, ID_MAX); return -1; }
    groups[ng++] = (gid_t)v;
  }
  if (setgroups((size_t)ng, groups) < 0 && (ng > 0 || errno != EPERM)) {
    snprintf(err, n, "setgroups: %s", strerror(errno));
    return -1;
  }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) { snprintf(err, n, "keep caps: %s", strerror(errno)); return -1; }
  if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0) { snprintf(err, n, "setgid %lld: %s", gid, strerror(errno)); return -1; }
  if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) { snprintf(err, n, "setuid %lld: %s", uid, strerror(errno)); return -1; }
  if (umask_v >= 0) umask((mode_t)umask_v);
  return 0;
}

/* The layout of sched_setattr(2)'s argument up to SCHED_DEADLINE's fields (48 bytes). */
struct berth_sched_attr {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
};

/* process.scheduler and process.ioPriority, before the user and seccomp change (runc 1.2's order). */
static int process_sched_ioprio(const struct plan *plan, char *err, size_t n) {
  const struct plan_record *s = plan_find(plan, "scheduler");
  if (s && s->argc == 8) {
    long long v[8];
    for (int i = 0; i < 8; i++) if (plan_int(s->argv[i], &v[i], err, n) < 0) return -1;
    struct berth_sched_attr a = {.size = sizeof a, .policy = (uint32_t)v[0], .flags = (uint64_t)v[1], .nice = (int32_t)v[2],
                                 .priority = (uint32_t)v[3], .runtime = (uint64_t)v[4], .deadline = (uint64_t)v[5], .period = (uint64_t)v[6]};
    if (syscall(SYS_sched_setattr, 0, &a, 0) < 0) {
      /* SCHED_DEADLINE needs the task's affinity to span the whole root domain: a cpuset refuses it. */
      if (errno == EPERM && v[7]) snprintf(err, n, "process scheduler can't be used together with AllowedCPUs");
      else snprintf(err, n, "error setting scheduler: %s", strerror(errno));
      return -1;
    }
  }
  const struct plan_record *io = plan_find(plan, "ioprio");
  if (io && io->argc == 1) {
    long long v;
    if (plan_int(io->argv[0], &v, err, n) < 0) return -1;
    if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (int)v) < 0) {
      snprintf(err, n, "failed to set io priority: %s", strerror(errno));
      return -1;
    }
  }
  return 0;
}

void process_exec(const struct plan *plan, int report_fd) {
  char err[ERRLEN] = "";
  int nnp = plan_has(plan, "no_new_privs");
  char path[PATH_MAX];
  int status = process_lookup(plan, path, sizeof path, err, sizeof err);
  if (status) fail_command(report_fd, status, "%s", err);
  /* The CPU affinity the runtime was started with (taskset, systemd's CPUAffinity=) is not the
   * container's: reset it to every CPU, which the kernel clamps to the online CPUs of the cgroup's
   * cpuset (runc 1.2; since Linux 6.2 joining a cpuset no longer resets it). Best effort. */
  cpu_set_t all;
  memset(&all, 0xff, sizeof all);
  if (sched_setaffinity(0, sizeof all, &all) < 0)
    fprintf(stderr, "berth-init: resetting the CPU affinity failed (%s): the process keeps the runtime's\n", strerror(errno));
  if (process_sched_ioprio(plan, err, sizeof err) < 0) fail(report_fd, "%s", err);
  if (!nnp && seccomp_install(plan, err, sizeof err) < 0) fail(report_fd, "seccomp: %s", err);
  if (set_user(plan, err, sizeof err) < 0) fail(report_fd, "%s", err);
  if (caps_apply(plan, err, sizeof err) < 0) fail(report_fd, "capabilities: %s", err);
  if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(report_fd, "no_new_privs: %s", strerror(errno));
  if (nnp && seccomp_install(plan, err, sizeof err) < 0) fail(report_fd, "seccomp: %s", err);
  /* linux.personality last, as runc 1.2 sets it (after seccomp, right before exec). */
  const struct plan_record *pers = plan_find(plan, "personality");
  if (pers && pers->argc == 1) {
    long long dom;
    if (plan_int(pers->argv[0], &dom, err, sizeof err) < 0) fail(report_fd, "%s", err);
    if (personality((unsigned long)dom) < 0) fail(report_fd, "personality: %s", strerror(errno));
  }
  /* The container's startContainer hooks (none for exec): right before execve, under the
   * process's own seccomp filter, user and capabilities, as runc runs them. */
  if (hooks_run(plan, "startContainer", err, sizeof err) < 0) fail(report_fd, "%s", err);

  long long keep = 0;
  const struct plan_record *pf = plan_find(plan, "preserve_fds");
  if (pf && pf->argc == 1) plan_int(pf->argv[0], &keep, err, sizeof err);
  for (int fd = 3; fd < 3 + keep; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  syscall(SYS_close_range, (unsigned)(3 + keep), ~0U, CLOSE_RANGE_CLOEXEC);

  const struct plan_record *a = plan_find(plan, "args"), *e = plan_find(plan, "env");
  char **argv = calloc((size_t)a->argc + 1, sizeof(char *));
  char **envp = calloc((size_t)(e ? e->argc : 0) + 1, sizeof(char *));
  for (int i = 0; i < a->argc; i++) argv[i] = a->argv[i];
  for (int i = 0; e && i < e->argc; i++) envp[i] = e->argv[i];
  execve(path, argv, envp);
  /* Past this point the runtime has already been told the process started (runc 1.2 too: its
   * sync socket is closed by then), so the process says why on its own stderr, in runc 1.2's
   * words (Go's lower-case errno text), and exits 255 as runc's init does. */
  int failed = errno;
  (void)report_fd;
  char why[128];
  snprintf(why, sizeof why, "%s", strerror(failed));
  if (why[0] >= 'A' && why[0] <= 'Z') why[0] = (char)(why[0] - 'A' + 'a');
  dprintf(2, "exec %s: %s\n", path, why);
  _exit(255);
}
