/* Line messages between the processes (stage 0 <-> TypeScript, stage 0 <-> init). */
#include "core.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The control channel to TypeScript (core.h); main.c moves it past preserved fds. */
int FD_TO_TS = 3, FD_FROM_TS = 4;

int sync_send(int fd, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (len < 0) return -1;
  if (len > (int)sizeof buf - 2) len = sizeof buf - 2;
  for (int i = 0; i < len; i++) if (buf[i] == '\n') buf[i] = ' ';
  buf[len++] = '\n';
  for (int off = 0; off < len;) {
    ssize_t w = write(fd, buf + off, (size_t)(len - off));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    off += (int)w;
  }
  return 0;
}

/* Reads are buffered per fd (a message of a few hundred bytes was one read(2) per byte); what
 * follows a line stays for the next call on the same fd. */
struct line_buffer {
  int fd;
  size_t start, end;
  char data[4096];
};
static struct line_buffer buffers[4] = {{.fd = -1}, {.fd = -1}, {.fd = -1}, {.fd = -1}};

static struct line_buffer *buffer_for(int fd) {
  for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) if (buffers[i].fd == fd) return &buffers[i];
  for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) {
    if (buffers[i].fd < 0) { buffers[i].fd = fd; buffers[i].start = buffers[i].end = 0; return &buffers[i]; }
  }
  return NULL;
}

ssize_t sync_recv_line(int fd, char *buf, size_t len) {
  struct line_buffer *b = buffer_for(fd);
  size_t got = 0;
  while (got + 1 < len) {
    char c;
    if (b && b->start == b->end) {
      ssize_t r = read(fd, b->data, sizeof b->data);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return -1;
      if (r == 0) break;
      b->start = 0;
      b->end = (size_t)r;
    }
    if (b) {
      c = b->data[b->start++];
    } else {
      ssize_t r = read(fd, &c, 1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return -1;
      if (r == 0) break;
    }
    if (c == '\n') { buf[got] = 0; return (ssize_t)got ? (ssize_t)got : 1; }
    buf[got++] = c;
  }
  buf[got] = 0;
  return (ssize_t)got;
}

void fail(int fd, const char *fmt, ...) {
  char buf[ERRLEN * 2];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (fd < 0 || sync_send(fd, "error %s", buf) < 0) fprintf(stderr, "berth-init: %s\n", buf);
  _exit(1);
}

void fail_command(int fd, int status, const char *fmt, ...) {
  char buf[ERRLEN * 2];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (fd < 0 || sync_send(fd, "exec-error %d %s", status, buf) < 0) fprintf(stderr, "berth-init: %s\n", buf);
  _exit(status);
}
