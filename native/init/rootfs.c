/* Init: the root filesystem. Before pivot_root: propagation, the rootfs bind, hostname,
 * sysctls. Then pivot_root (or MS_MOVE+chroot with no_pivot). After: masked and read-only
 * paths, read-only root, final propagation. */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *rootfs_path(const struct plan *plan) {
  const struct plan_record *r = plan_find(plan, "rootfs");
  return r && r->argc == 1 ? r->argv[0] : NULL;
}

/* Undoes mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape_mountinfo(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] && r[3]) { *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0')); r += 3; }
    else *w++ = *r;
  }
  *w = 0;
}

/* The mount point under which PATH lies, from /proc/self/mountinfo (longest prefix wins). */
static int parent_mount_point(const char *path, char *out, size_t len) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return -1;
  char line[8192], best[4096] = "/";
  size_t best_len = 1;
  while (fgets(line, sizeof line, f)) {
    char mp[4096];
    if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1) continue;
    unescape_mountinfo(mp);
    size_t l = strlen(mp);
    if (l > best_len && !strncmp(path, mp, l) && (path[l] == '/' || path[l] == 0)) { strcpy(best, mp); best_len = l; }
  }
  fclose(f);
  snprintf(out, len, "%s", best);
  return 0;
}

int rootfs_prepare(const struct plan *plan, int *rootfd, char *err, size_t n) {
  const char *root = rootfs_path(plan);
  if (!root) { snprintf(err, n, "plan has no rootfs"); return -1; }
  /* Nothing we mount may propagate back to the host (unless the config asks for shared). */
  unsigned long long prop = 0;
  const struct plan_record *pr = plan_find(plan, "rootfs_propagation");
  if (pr && pr->argc == 1 && plan_u64(pr->argv[0], &prop, err, n) < 0) return -1;
  if (!prop) prop = MS_SLAVE | MS_REC;
  if (mount(NULL, "/", NULL, (unsigned long)prop, NULL) < 0) { snprintf(err, n, "set propagation of /: %s", strerror(errno)); return -1; }
  /* pivot_root refuses a shared parent, and binding from an unbindable one fails: make the
   * mount holding the rootfs private (in our namespace only), as runc does. */
  char parent[4096];
  if (parent_mount_point(root, parent, sizeof parent) == 0 && mount(NULL, parent, NULL, MS_PRIVATE, NULL) < 0) {
    snprintf(err, n, "make %s private: %s", parent, strerror(errno));
    return -1;
  }
  /* pivot_root needs the new root to be a mount point. */
  if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0) { snprintf(err, n, "bind rootfs %s: %s", root, strerror(errno)); return -1; }
  *rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*rootfd < 0) { snprintf(err, n, "open rootfs %s: %s", root, strerror(errno)); return -1; }
  return 0;
}

int rootfs_set_hostname(const struct plan *plan, char *err, size_t n) {
  const struct plan_record *h = plan_find(plan, "hostname"), *d = plan_find(plan, "domainname");
  if (h && sethostname(h->argv[0], strlen(h->argv[0])) < 0) { snprintf(err, n, "sethostname: %s", strerror(errno)); return -1; }
  if (d && setdomainname(d->argv[0], strlen(d->argv[0])) < 0) { snprintf(err, n, "setdomainname: %s", strerror(errno)); return -1; }
  return 0;
}

int rootfs_write_sysctls(const struct plan *plan, int rootfd, char *err, size_t n) {
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (strcmp(r->op, "sysctl") || r->argc != 2) continue;
    char rel[4096];
    snprintf(rel, sizeof rel, "/proc/sys/%s", r->argv[0]);
    for (char *p = rel + 10; *p; p++) if (*p == '.') *p = '/';
    int pfd = open_in_root(rootfd, rel, 0, 0, err, n);
    if (pfd < 0) { snprintf(err, n, "sysctl %s: not available in the container (is /proc mounted?)", r->argv[0]); return -1; }
    /* Write only through the container's own procfs, never to a file the image planted. */
    struct statfs sfs;
    if (fstatfs(pfd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
      snprintf(err, n, "sysctl %s: %s is not on procfs", r->argv[0], rel);
      close(pfd);
      return -1;
    }
    char path[64];
    fd_path(pfd, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    close(pfd);
    if (fd < 0) { snprintf(err, n, "sysctl %s: %s", r->argv[0], strerror(errno)); return -1; }
    ssize_t len = (ssize_t)strlen(r->argv[1]);
    if (write(fd, r->argv[1], (size_t)len) != len) { snprintf(err, n, "sysctl %s=%s: %s", r->argv[0], r->argv[1], strerror(errno)); close(fd); return -1; }
    close(fd);
  }
  return 0;
}

/* --no-pivot keeps the host's mounts in the container's mount namespace, under the chroot. The
 * kernel lets a user namespace mount a new procfs or sysfs only if one is already fully visible
 * (no locked submounts over it) in the mount namespace, and the host's whole /proc and /sys would
 * count: unshare -mrpf inside the container could then mount a bare /proc and reach what
 * maskedPaths hide. So, as runc does before MS_MOVE, every whole (root "/") procfs and sysfs mount
 * outside the rootfs is detached here, or covered with a tmpfs where it cannot be. */
static int hide_host_proc_sys(const char *rootfs, char *err, size_t n) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) { snprintf(err, n, "read mountinfo: %s", strerror(errno)); return -1; }
  char line[8192];
  char (*points)[4096] = NULL;
  size_t count = 0;
  size_t rlen = strlen(rootfs);
  while (fgets(line, sizeof line, f)) {
    char root[4096], mp[4096], type[64];
    const char *sep = strstr(line, " - ");
    if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mp) != 2 || sscanf(sep + 3, "%63s", type) != 1) continue;
    unescape_mountinfo(root);
    unescape_mountinfo(mp);
    if (strcmp(root, "/") || (strcmp(type, "proc") && strcmp(type, "sysfs")) ||
        (!strncmp(mp, rootfs, rlen) && (mp[rlen] == '/' || mp[rlen] == 0)))
      continue;
    char (*grown)[4096] = realloc(points, (count + 1) * sizeof *points);
    if (!grown) { free(points); fclose(f); snprintf(err, n, "out of memory"); return -1; }
    points = grown;
    snprintf(points[count++], sizeof *points, "%s", mp);
  }
  fclose(f);
  int rc = 0;
  for (size_t i = 0; i < count && rc == 0; i++) {
    const char *p = points[i];
    /* Nothing of this may propagate to the host. ENOENT: a mount above it went first. */
    if (mount(NULL, p, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
      if (errno == ENOENT) continue;
      snprintf(err, n, "make %s a slave: %s", p, strerror(errno));
      rc = -1;
    } else if (umount2(p, MNT_DETACH) < 0) {
      if ((errno != EINVAL && errno != EPERM) || mount("tmpfs", p, "tmpfs", 0, NULL) < 0) {
        snprintf(err, n, "hide the host's %s: %s", p, strerror(errno));
        rc = -1;
      }
    }
  }
  free(points);
  return rc;
}

int rootfs_pivot(const struct plan *plan, int rootfd, char *err, size_t n) {
  if (fchdir(rootfd) < 0) { snprintf(err, n, "chdir rootfs: %s", strerror(errno)); return -1; }
  if (plan_has(plan, "no_pivot")) {
    if (hide_host_proc_sys(rootfs_path(plan), err, n) < 0) return -1;
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0) { snprintf(err, n, "move rootfs to /: %s", strerror(errno)); return -1; }
    if (chroot(".") < 0) { snprintf(err, n, "chroot: %s", strerror(errno)); return -1; }
  } else {
    int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (oldroot < 0) { snprintf(err, n, "open old root: %s", strerror(errno)); return -1; }
    if (syscall(SYS_pivot_root, ".", ".") < 0) { snprintf(err, n, "pivot_root: %s", strerror(errno)); close(oldroot); return -1; }
    /* The old root is now stacked on /; step into it explicitly (the kernel promises nothing
     * about our cwd), make it a slave so nothing propagates to the host, and detach it. */
    if (fchdir(oldroot) < 0) { snprintf(err, n, "chdir old root: %s", strerror(errno)); close(oldroot); return -1; }
    close(oldroot);
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) { snprintf(err, n, "make old root a slave: %s", strerror(errno)); return -1; }
    if (umount2(".", MNT_DETACH) < 0) { snprintf(err, n, "detach old root: %s", strerror(errno)); return -1; }
  }
  if (chdir("/") < 0) { snprintf(err, n, "chdir /: %s", strerror(errno)); return -1; }
  return 0;
}

static int mask_path(int rootfd, int nullfd, const char *path, char *err, size_t n) {
  int fd = open_in_root(rootfd, path, 0, 0, err, n);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  struct stat st;
  char target[64], source[64];
  fd_path(fd, target, sizeof target);
  int rc;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    rc = mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0k");
  } else {
    fd_path(nullfd, source, sizeof source);
    rc = mount(source, target, NULL, MS_BIND, NULL);
  }
  if (rc < 0) snprintf(err, n, "mask %s: %s", path, strerror(errno));
  close(fd);
  return rc;
}

static int readonly_path(int rootfd, const char *path, char *err, size_t n) {
  int fd = open_in_root(rootfd, path, 0, 0, err, n);
  if (fd < 0) return errno == ENOENT ? 0 : -1;
  char target[64];
  fd_path(fd, target, sizeof target);
  if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0) { snprintf(err, n, "bind %s read-only: %s", path, strerror(errno)); close(fd); return -1; }
  close(fd);
  fd = open_in_root(rootfd, path, 0, 0, err, n);
  if (fd < 0) return -1;
  fd_path(fd, target, sizeof target);
  struct statvfs sv;
  unsigned long keep = 0;
  if (statvfs(target, &sv) == 0) {
    if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
  }
  int rc = mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL);
  if (rc < 0) snprintf(err, n, "remount %s read-only: %s", path, strerror(errno));
  close(fd);
  return rc;
}

int rootfs_finish(const struct plan *plan, char *err, size_t n) {
  int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) { snprintf(err, n, "open /: %s", strerror(errno)); return -1; }
  int nullfd = -1;
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (!strcmp(r->op, "masked") && r->argc == 1) {
      if (nullfd < 0) {
        /* Mask with the real null device only: /dev/null swapped for something else must not be bound (CVE-2025-31133). */
        nullfd = open_in_root(rootfd, "/dev/null", 0, 0, err, n);
        struct stat st;
        if (nullfd < 0 || fstat(nullfd, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
          snprintf(err, n, "masking paths needs /dev/null to be the null device (1:3) in the container");
          return -1;
        }
      }
      if (mask_path(rootfd, nullfd, r->argv[0], err, n) < 0) return -1;
    } else if (!strcmp(r->op, "readonly_path") && r->argc == 1) {
      if (readonly_path(rootfd, r->argv[0], err, n) < 0) return -1;
    }
  }
  /* A read-only /dev, mounted writable to be filled (plan.ts): read-only now, with its other flags. */
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (strcmp(r->op, "remount_ro") || r->argc != 2) continue;
    unsigned long long flags;
    if (plan_u64(r->argv[1], &flags, err, n) < 0) return -1;
    int fd = open_in_root(rootfd, r->argv[0], 1, 0, err, n);
    if (fd < 0) return -1;
    char target[64];
    fd_path(fd, target, sizeof target);
    int rc = mount(NULL, target, NULL, MS_REMOUNT | MS_RDONLY | (unsigned long)flags, NULL);
    if (rc < 0) snprintf(err, n, "remount %s read-only: %s", r->argv[0], strerror(errno));
    close(fd);
    if (rc < 0) return -1;
  }
  if (nullfd >= 0) close(nullfd);
  close(rootfd);
  if (plan_has(plan, "readonly_rootfs")) {
    struct statvfs sv;
    unsigned long keep = 0;
    if (statvfs("/", &sv) == 0) {
      if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
      if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
      if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
    }
    if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0) {
      snprintf(err, n, "remount / read-only: %s", strerror(errno));
      return -1;
    }
  }
  const struct plan_record *prop = plan_find(plan, "rootfs_propagation");
  if (prop && prop->argc == 1) {
    unsigned long long flags;
    if (plan_u64(prop->argv[0], &flags, err, n) < 0) return -1;
    if (flags && mount(NULL, "/", NULL, (unsigned long)flags, NULL) < 0) {
      snprintf(err, n, "set rootfs propagation: %s", strerror(errno));
      return -1;
    }
  }
  return 0;
}
