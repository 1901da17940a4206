/* Listening unix sockets (attach, console). sun_path holds 107 bytes; container state paths can
 * be longer, so a long path is bound through /proc/self/fd/DIR/NAME of its opened directory. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int unix_listen(const char *path) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  int dirfd = -1;
  size_t len = strlen(path);
  if (len < sizeof sa.sun_path) {
    memcpy(sa.sun_path, path, len + 1);
  } else {
    const char *slash = strrchr(path, '/');
    static char dir[4096];
    if (!slash || (size_t)(slash - path) >= sizeof dir) { errno = ENAMETOOLONG; return -1; }
    size_t dl = slash == path ? 1 : (size_t)(slash - path);
    memcpy(dir, path, dl);
    dir[dl] = 0;
    dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return -1;
    char *p = sa.sun_path;
    memcpy(p, "/proc/self/fd/", 14);
    p += 14;
    p += fmt_u64(p, (unsigned)dirfd);
    size_t bl = strlen(slash);
    if ((size_t)(p - sa.sun_path) + bl >= sizeof sa.sun_path) { close(dirfd); errno = ENAMETOOLONG; return -1; }
    memcpy(p, slash, bl + 1);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) goto fail;
  unlink(sa.sun_path); /* a stale socket from an earlier monitor of this container */
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) goto fail;
  chmod(sa.sun_path, 0600); /* attach gives stdin and output: root only */
  if (listen(fd, MAX_CLIENTS) < 0) goto fail;
  if (dirfd >= 0) close(dirfd);
  return fd;
fail:;
  int saved = errno;
  if (fd >= 0) close(fd);
  if (dirfd >= 0) close(dirfd);
  errno = saved;
  return -1;
}
