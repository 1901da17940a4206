/* Init, before pivot_root: device nodes and /dev symlinks, created fd-relative inside the
 * rootfs. Where mknod is not allowed (a user namespace) the host's node is bind-mounted. */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int split_parent(int rootfd, const char *path, int *parent, const char **name, char *err, size_t n) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash || !slash[1]) { snprintf(err, n, "bad device path %s", path); return -1; }
  size_t len = (size_t)(slash - path);
  if (len >= sizeof dir) { snprintf(err, n, "path too long: %s", path); return -1; }
  memcpy(dir, path, len);
  dir[len] = 0;
  *parent = open_in_root(rootfd, len ? dir : "/", 1, 1, err, n);
  *name = slash + 1;
  return *parent < 0 ? -1 : 0;
}

static int one_device(int rootfd, const struct plan_record *r, char *err, size_t n) {
  const char *path = r->argv[0], *type = r->argv[1];
  long long major, minor, mode, uid, gid;
  if (plan_int(r->argv[2], &major, err, n) < 0 || plan_int(r->argv[3], &minor, err, n) < 0 ||
      plan_int(r->argv[4], &mode, err, n) < 0 || plan_int(r->argv[5], &uid, err, n) < 0 ||
      plan_int(r->argv[6], &gid, err, n) < 0)
    return -1;
  mode_t kind = type[0] == 'b' ? S_IFBLK : type[0] == 'p' ? S_IFIFO : S_IFCHR;
  int parent;
  const char *name;
  if (split_parent(rootfd, path, &parent, &name, err, n) < 0) return -1;
  unlinkat(parent, name, 0); /* replace whatever the image put there (never followed) */
  if (mknodat(parent, name, kind | (mode_t)(mode & 07777), makedev(major, minor)) == 0) {
    if (fchownat(parent, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0) {
      snprintf(err, n, "chown device %s: %s", path, strerror(errno));
      close(parent);
      return -1;
    }
    close(parent);
    return 0;
  }
  if (errno != EPERM) { snprintf(err, n, "mknod %s: %s", path, strerror(errno)); close(parent); return -1; }
  /* No mknod here: bind the host's node onto an empty file. */
  int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  close(parent);
  if (f < 0) { snprintf(err, n, "create %s: %s", path, strerror(errno)); return -1; }
  close(f);
  int fd = open_in_root(rootfd, path, 0, 0, err, n);
  if (fd < 0) return -1;
  char target[64];
  fd_path(fd, target, sizeof target);
  int rc = mount(path, target, NULL, MS_BIND, NULL);
  if (rc < 0) snprintf(err, n, "bind device %s from the host: %s", path, strerror(errno));
  close(fd);
  return rc;
}

static int one_symlink(int rootfd, const struct plan_record *r, char *err, size_t n) {
  int parent;
  const char *name;
  if (split_parent(rootfd, r->argv[1], &parent, &name, err, n) < 0) return -1;
  int rc = symlinkat(r->argv[0], parent, name);
  if (rc < 0 && errno == EEXIST) rc = 0;
  if (rc < 0) snprintf(err, n, "symlink %s: %s", r->argv[1], strerror(errno));
  close(parent);
  return rc;
}

int devices_create(const struct plan *plan, int rootfd, char *err, size_t n) {
  for (int i = 0; i < plan->count; i++) {
    const struct plan_record *r = &plan->records[i];
    if (!strcmp(r->op, "device")) {
      if (r->argc != 7) { snprintf(err, n, "plan: device record needs 7 fields"); return -1; }
      if (one_device(rootfd, r, err, n) < 0) return -1;
    } else if (!strcmp(r->op, "symlink")) {
      if (r->argc != 2) { snprintf(err, n, "plan: symlink record needs 2 fields"); return -1; }
      if (one_symlink(rootfd, r, err, n) < 0) return -1;
    }
  }
  return 0;
}
