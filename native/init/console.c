/* Init, after pivot_root: the terminal. A pty is opened in the container's own devpts, its
 * peer taken by fd (TIOCGPTPEER, never by path), the slave becomes stdio and the controlling
 * terminal, and the master is sent to whoever asked (console socket or stage 0's relay). */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

static int send_fd(int sock, int fd, char *err, size_t n) {
  char data = 'M';
  struct iovec iov = {.iov_base = &data, .iov_len = 1};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (sendmsg(sock, &msg, 0) < 0) { snprintf(err, n, "send pty master to console socket: %s", strerror(errno)); return -1; }
  return 0;
}

int console_setup(const struct plan *plan, int console_fd, char *err, size_t n) {
  const struct plan_record *t = plan_find(plan, "terminal");
  if (!t) return 0;
  if (console_fd < 0) { snprintf(err, n, "terminal requested but no console socket was given (use --console-socket)"); return -1; }
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) { snprintf(err, n, "open /dev/ptmx in the container (is devpts mounted on /dev/pts?): %s", strerror(errno)); return -1; }
  struct stat st;
  if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5) {
    snprintf(err, n, "/dev/ptmx in the container is not a pty multiplexer");
    return -1;
  }
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) { snprintf(err, n, "unlock pty: %s", strerror(errno)); return -1; }
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) { snprintf(err, n, "open pty peer: %s", strerror(errno)); return -1; }
  long long rows = 0, cols = 0;
  if (t->argc == 2 && plan_int(t->argv[0], &rows, err, n) == 0 && plan_int(t->argv[1], &cols, err, n) == 0 && rows && cols) {
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    ioctl(slave, TIOCSWINSZ, &ws);
  }
  /* /dev/console is the pty too, as in runc. Bound by fd, so a symlinked target cannot redirect it. */
  int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int cons = rootfd < 0 ? -1 : open_in_root(rootfd, "/dev/console", 0, 1, err, n);
  if (cons >= 0) {
    char src[64], dst[64];
    fd_path(slave, src, sizeof src);
    fd_path(cons, dst, sizeof dst);
    mount(src, dst, NULL, MS_BIND, NULL);
    close(cons);
  }
  if (rootfd >= 0) close(rootfd);
  if (send_fd(console_fd, master, err, n) < 0) return -1;
  close(master);
  close(console_fd);
  if (setsid() < 0 && errno != EPERM) { snprintf(err, n, "setsid: %s", strerror(errno)); return -1; }
  if (ioctl(slave, TIOCSCTTY, 0) < 0) { snprintf(err, n, "make the pty the controlling terminal: %s", strerror(errno)); return -1; }
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) { snprintf(err, n, "dup pty to stdio: %s", strerror(errno)); return -1; }
  if (slave > 2) close(slave);
  return 0;
}

int console_connect(const char *path, char *err, size_t n) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) { snprintf(err, n, "console socket path too long"); return -1; }
  strcpy(addr.sun_path, path);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    snprintf(err, n, "connect to console socket %s: %s", path, strerror(errno));
    return -1;
  }
  return fd;
}
