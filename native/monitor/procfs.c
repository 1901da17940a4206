/* What the monitor reads from /proc and pid files about its processes (runtime mode). */
#include "monitor.h"
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* The pid in FILE; -1 with errno ENOENT/EAGAIN while it is not written yet, EINVAL for junk. */
pid_t read_pid_file(const char *path) {
  char buf[32];
  ssize_t n = read_small(path, buf, sizeof buf);
  if (n < 0) return -1;
  if (n == 0) { errno = EAGAIN; return -1; } /* not written yet */
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) n--;
  buf[n] = 0;
  unsigned long long v;
  if (parse_u64(buf, &v) < 0 || v < 2 || v > 0x3fffffff) { errno = EINVAL; return -1; }
  return (pid_t)v;
}

pid_t parent_of(pid_t pid) {
  char path[40] = "/proc/", buf[512];
  size_t at = 6 + fmt_u64(path + 6, (unsigned long long)pid);
  memcpy(path + at, "/stat", 6);
  if (read_small(path, buf, sizeof buf) <= 0) return -1;
  char *p = strrchr(buf, ')'); /* comm may contain spaces: fields follow the last ')' */
  if (!p || !p[1] || !p[2] || !p[3]) return -1;
  p += 4; /* ") S " */
  pid_t ppid = 0;
  while (*p >= '0' && *p <= '9') ppid = ppid * 10 + (*p++ - '0');
  return ppid;
}

/* SIGKILL whatever stage 0 left behind when it cannot be monitored: no unwatched container. */
void kill_children(void) {
  char path[64] = "/proc/self/task/", buf[4096];
  size_t at = 16 + fmt_u64(path + 16, (unsigned long long)getpid());
  memcpy(path + at, "/children", 10);
  if (read_small(path, buf, sizeof buf) <= 0) return;
  for (char *p = buf; *p;) {
    pid_t pid = 0;
    while (*p >= '0' && *p <= '9') pid = pid * 10 + (*p++ - '0');
    if (pid > 0) kill(pid, SIGKILL);
    while (*p == ' ' || *p == '\n') p++;
    if (*p && (*p < '0' || *p > '9')) break;
  }
}
