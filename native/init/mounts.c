/* Init, before pivot_root: the config's mounts, in order. Every destination is created and
 * opened inside the rootfs with openat2(RESOLVE_IN_ROOT), so a symlink in the image can never
 * redirect a mount onto the host (CVE-2021-30465 class); the mount is made onto the opened fd. */
#include "core.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static int openat2_in_root(int rootfd, const char *path, int flags) {
  struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  while (*path == '/') path++;
  if (!*path) path = ".";
  return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

void fd_path(int fd, char *buf, size_t len) { snprintf(buf, len, "/proc/self/fd/%d", fd); }

int open_in_root(int rootfd, const char *path, int want_dir, int create, char *err, size_t n) {
  int fd = openat2_in_root(rootfd, path, O_PATH);
  if (fd >= 0 || errno != ENOENT || !create) {
    if (fd < 0) snprintf(err, n, "open %s inside the container: %s", path, strerror(errno));
    return fd;
  }
  /* Create missing components one at a time, each relative to its (checked) parent. Trailing
   * and repeated slashes are dropped first so every component is a name. */
  char buf[4096];
  if (strlen(path) >= sizeof buf) { snprintf(err, n, "path too long: %s", path); return -1; }
  size_t w = 0;
  for (const char *r = path; *r; r++)
    if (*r != '/' || (w > 0 && buf[w - 1] != '/')) buf[w++] = *r;
  while (w > 0 && buf[w - 1] == '/') w--;
  buf[w] = 0;
  if (w == 0) return openat2_in_root(rootfd, "/", O_PATH);
  char *p = buf;
  while (*p == '/') p++;
  for (;;) {
    char *slash = strchr(p, '/');
    int last = slash == NULL;
    if (slash) *slash = 0;
    if (*p) {
      fd = openat2_in_root(rootfd, buf, O_PATH);
      if (fd < 0 && errno == ENOENT) {
        char *cut = strrchr(buf, '/');
        const char *name = cut ? cut + 1 : buf;
        int parent;
        if (cut && cut != buf) { *cut = 0; parent = openat2_in_root(rootfd, buf, O_PATH | O_DIRECTORY); *cut = '/'; }
        else parent = openat2_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
        if (parent < 0) { snprintf(err, n, "open parent of %s: %s", buf, strerror(errno)); return -1; }
        int rc;
        if (!last || want_dir) rc = mkdirat(parent, name, 0755);
        else {
          rc = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
          if (rc >= 0) { close(rc); rc = 0; }
        }
        if (rc < 0 && errno != EEXIST) { snprintf(err, n, "create %s inside the container: %s", buf, strerror(errno)); close(parent); return -1; }
        close(parent);
        fd = openat2_in_root(rootfd, buf, O_PATH);
      }
      if (fd < 0) { snprintf(err, n, "open %s inside the container: %s", buf, strerror(errno)); return -1; }
      if (!last) close(fd);
    }
    if (last) return fd;
    *slash = '/';
    p = slash + 1;
  }
}

/* Flags the kernel forces us to keep when remounting a bind (locked in a user namespace). */
static unsigned long locked_flags(const char *path) {
  struct statvfs sv;
  if (statvfs(path, &sv) < 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

/* An fd to read the directory an O_PATH fd names, or -1. */
static int reopen_dir(int pathfd) {
  char p[64];
  fd_path(pathfd, p, sizeof p);
  return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* tmpcopyup: what lay in the directory before the tmpfs covered it, copied into the tmpfs (as
 * runc does): directories, files, symlinks and device nodes with their modes and owners. SRC is
 * an fd opened on the covered directory before the mount, which still reads it. */
static int copy_tree(int src, int dst, const char *dest, int depth, char *err, size_t n);

/* One entry of copy_tree; -1 with errno set (err untouched), or -2 when err is already set. */
static int copy_entry(int src, int dst, const char *name, const char *dest, int depth, char *err, size_t n) {
  struct stat st;
  if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return -1;
  mode_t mode = st.st_mode & 07777;
  if (S_ISDIR(st.st_mode)) {
    if (mkdirat(dst, name, mode) < 0) return -1;
    int s2 = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int d2 = s2 < 0 ? -1 : openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc = d2 < 0 ? -1 : (copy_tree(s2, d2, dest, depth + 1, err, n) < 0 ? -2 : 0);
    int e = errno;
    if (s2 >= 0) close(s2);
    if (d2 >= 0) close(d2);
    errno = e;
    if (rc < 0) return rc;
  } else if (S_ISREG(st.st_mode)) {
    int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int out = in < 0 ? -1 : openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    char buf[65536];
    ssize_t got = 0;
    while (out >= 0 && (got = read(in, buf, sizeof buf)) > 0)
      if (write(out, buf, (size_t)got) != got) { got = -1; break; }
    int e = errno, failed = in < 0 || out < 0 || got < 0;
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    errno = e;
    if (failed) return -1;
  } else if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t len = readlinkat(src, name, target, sizeof target - 1);
    if (len < 0) return -1;
    target[len] = 0;
    if (symlinkat(target, dst, name) < 0) return -1;
  } else if (mknodat(dst, name, st.st_mode, st.st_rdev) < 0) {
    return -1;
  }
  if (fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EINVAL && errno != EPERM) return -1;
  /* chown clears set-id bits: the mode goes on last. */
  if (!S_ISLNK(st.st_mode) && fchmodat(dst, name, mode, 0) < 0) return -1;
  return 0;
}

/* tmpcopyup: what lay in the directory before the tmpfs covered it, copied into the tmpfs (as
 * runc does): directories, files, symlinks and device nodes with their modes and owners. SRC is
 * an fd opened on the covered directory before the mount, which still reads it. */
static int copy_tree(int src, int dst, const char *dest, int depth, char *err, size_t n) {
  if (depth > 256) { snprintf(err, n, "tmpcopyup %s: too deep", dest); return -1; }
  int dupfd = dup(src);
  DIR *d = dupfd < 0 ? NULL : fdopendir(dupfd);
  if (!d) { snprintf(err, n, "tmpcopyup %s: read the directory: %s", dest, strerror(errno)); if (dupfd >= 0) close(dupfd); return -1; }
  struct dirent *e;
  int rc = 0;
  while (rc == 0 && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    rc = copy_entry(src, dst, e->d_name, dest, depth, err, n);
    if (rc == -1) snprintf(err, n, "tmpcopyup %s: copy %s: %s", dest, e->d_name, strerror(errno));
  }
  closedir(d);
  return rc < 0 ? -1 : 0;
}

static int one_mount(int rootfd, const struct plan_record *r, char *err, size_t n) {
  const char *source = r->argv[0], *dest = r->argv[1], *type = r->argv[2], *data = r->argv[5];
  unsigned long long flags, prop, bindflags;
  if (plan_u64(r->argv[3], &flags, err, n) < 0 || plan_u64(r->argv[4], &prop, err, n) < 0 ||
      plan_u64(r->argv[6], &bindflags, err, n) < 0)
    return -1;
  int is_bind = (flags & MS_BIND) != 0;
  int copyup = r->argc == 8 && !strcmp(r->argv[7], "tmpcopyup");
  int want_dir = 1;
  if (is_bind) {
    struct stat st;
    if (stat(source, &st) < 0) { snprintf(err, n, "bind mount source %s: %s", source, strerror(errno)); return -1; }
    want_dir = S_ISDIR(st.st_mode);
  }
  /* A tmpfs over a directory that exists takes that directory's mode (set-id and sticky bits
   * too) unless the options give one (a later mode= wins), as runc mounts it; with tmpcopyup the
   * directory's contents are read through an fd opened before the mount covers them. */
  static char tmpfs_data[8192];
  int under = -1;
  if (!is_bind && !strcmp(type, "tmpfs")) {
    char scratch[ERRLEN];
    int existing = open_in_root(rootfd, dest, 1, 0, scratch, sizeof scratch);
    struct stat st;
    if (existing >= 0 && fstat(existing, &st) == 0 && S_ISDIR(st.st_mode)) {
      snprintf(tmpfs_data, sizeof tmpfs_data, "mode=%04o%s%s", (unsigned)(st.st_mode & 07777), *data ? "," : "", data);
      data = tmpfs_data;
      if (copyup && (under = reopen_dir(existing)) < 0) {
        snprintf(err, n, "tmpcopyup %s: open the directory: %s", dest, strerror(errno));
        close(existing);
        return -1;
      }
    }
    if (existing >= 0) close(existing);
  }
  int fd = open_in_root(rootfd, dest, want_dir, 1, err, n);
  if (fd < 0) { if (under >= 0) close(under); return -1; }
  char target[64];
  fd_path(fd, target, sizeof target);
  if (mount(is_bind ? source : (*source ? source : type), target, is_bind ? NULL : type,
            is_bind ? (flags & (MS_BIND | MS_REC)) : flags, is_bind || !*data ? NULL : data) < 0) {
    snprintf(err, n, "mount %s on %s (%s): %s", *source ? source : type, dest, is_bind ? "bind" : type, strerror(errno));
    close(fd);
    if (under >= 0) close(under);
    return -1;
  }
  close(fd);
  if (under >= 0) {
    int top = open_in_root(rootfd, dest, 1, 0, err, n);
    int topdir = top < 0 ? -1 : reopen_dir(top);
    if (top >= 0) close(top);
    int rc = topdir < 0 ? -1 : copy_tree(under, topdir, dest, 0, err, n);
    if (topdir < 0 && top >= 0) snprintf(err, n, "tmpcopyup %s: open the tmpfs: %s", dest, strerror(errno));
    if (topdir >= 0) close(topdir);
    close(under);
    if (rc < 0) return -1;
  }
  if (!(is_bind && bindflags) && !prop) return 0;
  /* Reopen: the fd we mounted onto refers to what lies under the new mount. */
  fd = open_in_root(rootfd, dest, want_dir, 0, err, n);
  if (fd < 0) return -1;
  fd_path(fd, target, sizeof target);
  if (is_bind && bindflags) {
    unsigned long f = MS_BIND | MS_REMOUNT | (unsigned long)bindflags | locked_flags(target);
    if (mount(NULL, target, NULL, f, NULL) < 0) {
      snprintf(err, n, "remount %s with its options: %s", dest, strerror(errno));
      close(fd);
      return -1;
    }
  }
  if (prop && mount(NULL, target, NULL, (unsigned long)prop, NULL) < 0) {
    snprintf(err, n, "set propagation of %s: %s", dest, strerror(errno));
    close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

/* The sources mounts_open_sources opened, closed by mounts_close_sources once every mount is
 * made (they must not stay open while the container waits in "created"). */
static int opened_sources[1024];
static int opened_count;

void mounts_close_sources(void) {
  for (int i = 0; i < opened_count; i++) close(opened_sources[i]);
  opened_count = 0;
}

int mounts_open_sources(struct plan *plan, char *err, size_t n) {
  /* In a user namespace the init turns into the container's root (a subordinate id on the host)
   * before it mounts; a bind's source under a 0700 state root is then out of its reach. Each
   * source is opened here, while we are still the host's uid 0, and named by its fd from now on
   * (runc opens them in its parent for the same reason). */
  for (int i = 0; i < plan->count; i++) {
    struct plan_record *r = &plan->records[i];
    if (strcmp(r->op, "mount") || (r->argc != 7 && r->argc != 8)) continue;
    unsigned long long flags;
    if (plan_u64(r->argv[3], &flags, err, n) < 0) return -1;
    if (!(flags & MS_BIND)) continue;
    int fd = open(r->argv[0], O_PATH | O_CLOEXEC);
    if (fd < 0) { snprintf(err, n, "bind mount source %s: %s", r->argv[0], strerror(errno)); return -1; }
    if (opened_count < (int)(sizeof opened_sources / sizeof opened_sources[0])) opened_sources[opened_count++] = fd;
    char *name = malloc(32);
    if (!name) { snprintf(err, n, "out of memory"); return -1; }
    fd_path(fd, name, 32);
    r->argv[0] = name;
  }
  return 0;
}

/* mount_attr DEST SET CLEAR: the recursive options (rro, rnosuid, ...) over the mount just made
 * at DEST and everything under it, as mount_setattr(2) attributes. The atime mode is set only
 * with all of MOUNT_ATTR__ATIME cleared (plan.ts clears it whenever it sets one). */
static int mount_attr(int rootfd, const struct plan_record *r, char *err, size_t n) {
  unsigned long long set, clear;
  if (plan_u64(r->argv[1], &set, err, n) < 0 || plan_u64(r->argv[2], &clear, err, n) < 0) return -1;
  int fd = open_in_root(rootfd, r->argv[0], 1, 0, err, n);
  if (fd < 0) return -1;
  struct mount_attr attr = {.attr_set = set, .attr_clr = clear};
  int rc = (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
  if (rc < 0)
    snprintf(err, n, "set recursive mount options on %s: %s%s", r->argv[0], strerror(errno),
             errno == ENOSYS ? " (mount_setattr needs Linux 5.12)" : "");
  close(fd);
  return rc;
}

int mounts_apply(const struct plan *plan, int rootfd, char *err, size_t n) {
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (!strcmp(r->op, "mount_attr")) {
      if (r->argc != 3) { snprintf(err, n, "plan: mount_attr record needs 3 fields"); return -1; }
      if (mount_attr(rootfd, r, err, n) < 0) return -1;
      continue;
    }
    if (strcmp(r->op, "mount")) continue;
    if (r->argc != 7 && r->argc != 8) { snprintf(err, n, "plan: mount record needs 7 or 8 fields"); return -1; }
    if (one_mount(rootfd, r, err, n) < 0) return -1;
  }
  return 0;
}
