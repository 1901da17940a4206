/* Stage 0 or exec with --console-relay (foreground `run` of a terminal container): receives
 * the pty master from the container process and copies between it and our own stdio, in raw
 * mode (output processing kept), following window-size changes, until the pty closes
 * (foreground.c then waits). */
#include "core.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t winch = 1;
static void on_winch(int sig) { (void)sig; winch = 1; }

static int recv_fd(int sock) {
  char data;
  struct iovec iov = {.iov_base = &data, .iov_len = 1};
  union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

static int copy_once(int from, int to) {
  char buf[16384];
  ssize_t r = read(from, buf, sizeof buf);
  if (r <= 0) return -1;
  for (ssize_t off = 0; off < r;) {
    ssize_t w = write(to, buf + off, (size_t)(r - off));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    off += w;
  }
  return 0;
}

void relay_console(int sock) {
  int master = recv_fd(sock);
  close(sock);
  if (master < 0) return;
  /* As runc's own console: no \n -> \r\n on the container's output, which reaches a terminal of
   * ours (raw below, which does its own translation) or a file or pipe as the process wrote it. */
  struct termios mt;
  if (tcgetattr(master, &mt) == 0) {
    mt.c_oflag &= ~(tcflag_t)ONLCR;
    tcsetattr(master, TCSANOW, &mt);
  }
  struct termios saved, raw;
  int tty = isatty(0) && tcgetattr(0, &saved) == 0;
  if (tty) {
    raw = saved;
    cfmakeraw(&raw);
    raw.c_oflag |= OPOST; /* our terminal still turns \n into \r\n (the pty no longer does) */
    tcsetattr(0, TCSANOW, &raw);
    signal(SIGWINCH, on_winch);
  }
  int stdin_open = 1;
  for (;;) {
    if (winch && tty) {
      struct winsize ws;
      if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
      winch = 0;
    }
    struct pollfd p[2] = {{.fd = master, .events = POLLIN}, {.fd = stdin_open ? 0 : -1, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; break; }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) { if (copy_once(master, 1) < 0) break; }
    if (p[1].revents & (POLLIN | POLLHUP)) {
      if (copy_once(0, master) < 0) { stdin_open = 0; char eot = 4; if (write(master, &eot, 1) < 0) break; }
    }
  }
  if (tty) tcsetattr(0, TCSANOW, &saved);
  close(master);
}
