/* Small helpers shared by the monitor's files. Number and time formatting are written here
 * rather than taken from printf/strftime: those pull locale and time-zone machinery into a
 * static binary and would cost more resident memory than everything else together. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename */
#include <string.h>
#include <unistd.h>

int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

size_t fmt_u64(char *out, unsigned long long v) {
  char tmp[20];
  size_t n = 0;
  do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

static char *two(char *p, unsigned v) { p[0] = (char)('0' + v / 10 % 10); p[1] = (char)('0' + v % 10); return p + 2; }

size_t fmt_time(char *out, const struct timespec *ts) {
  long long secs = ts->tv_sec;
  long long days = secs / 86400, rem = secs % 86400;
  if (rem < 0) { rem += 86400; days--; }
  /* Civil date from days since 1970-01-01 (proleptic Gregorian, era-based). */
  long long z = days + 719468;
  long long era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long y = (long long)yoe + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  char *p = out;
  unsigned yy = (unsigned)y;
  p = two(p, yy / 100); p = two(p, yy % 100); *p++ = '-';
  p = two(p, m); *p++ = '-';
  p = two(p, d); *p++ = 'T';
  p = two(p, (unsigned)(rem / 3600)); *p++ = ':';
  p = two(p, (unsigned)(rem / 60 % 60)); *p++ = ':';
  p = two(p, (unsigned)(rem % 60)); *p++ = '.';
  unsigned long ns = (unsigned long)ts->tv_nsec;
  for (int i = 8; i >= 0; i--) { p[i] = (char)('0' + ns % 10); ns /= 10; }
  p += 9;
  *p++ = 'Z';
  return (size_t)(p - out);
}

int parse_u64(const char *s, unsigned long long *out) {
  unsigned long long v = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    unsigned long long next = v * 10 + (unsigned)(*s - '0');
    if (next / 10 != v) return -1;
    v = next;
  }
  *out = v;
  return 0;
}

static char msgbuf[512];

static size_t append(size_t at, const char *s) {
  while (s && *s && at < sizeof msgbuf - 1) msgbuf[at++] = *s++;
  msgbuf[at] = 0;
  return at;
}

const char *describe(const char *a, const char *b, int err) {
  size_t n = append(0, "berth-monitor: ");
  n = append(n, a);
  if (b) { n = append(n, " "); n = append(n, b); }
  if (err) { n = append(n, ": "); n = append(n, strerror(err)); }
  return msgbuf;
}

void warn_msg(const char *msg) {
  write_all(2, msg, strlen(msg));
  write_all(2, "\n", 1);
}

/* Write to PATH.tmp and rename over PATH, so readers never see a half-written file. */
int write_file_atomic(const char *path, const char *data, size_t n) {
  static char tmp[4096 + 8];
  size_t len = strlen(path);
  if (len + 5 > sizeof tmp) { errno = ENAMETOOLONG; return -1; }
  memcpy(tmp, path, len);
  memcpy(tmp + len, ".tmp", 5);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  int rc = write_all(fd, data, n);
  int saved = errno;
  close(fd);
  if (rc == 0 && rename(tmp, path) == 0) return 0;
  if (rc == 0) saved = errno;
  unlink(tmp);
  errno = saved;
  return -1;
}

ssize_t read_small(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n < 0) n = 0;
  buf[n] = 0;
  return n;
}

int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int dev_null(int flags) { return open("/dev/null", flags | O_CLOEXEC); }

long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
