/* The container log, in the CRI line format:
 *   2026-11-23T16:00:00.123456789Z stdout F text
 * one record per line of output; F = the line ended with a newline (not stored), P = a partial
 * line whose rest follows in the next record(s). Each read from the container becomes its
 * records at once (a prompt without a newline is logged right away as P). When the file would
 * grow past --log-max it is renamed to FILE.1 (replacing the previous one) and a new FILE
 * begun; records are never split across the two. */
#include "monitor.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_MAX 48

static int log_fd = -1;
static const char *log_path;
static unsigned long long log_max, log_size;
static char out[IO_CHUNK + 2 * HEADER_MAX + 8192];
static size_t out_len;
static int warned;

static int open_log(void) {
  log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0) return -1;
  struct stat st;
  log_size = fstat(log_fd, &st) == 0 ? (unsigned long long)st.st_size : 0;
  return 0;
}

int log_open(const char *path, unsigned long long max_bytes) {
  log_path = path;
  log_max = max_bytes;
  return open_log();
}

static void flush(void) {
  if (!out_len || log_fd < 0) { out_len = 0; return; }
  if (write_all(log_fd, out, out_len) < 0 && !warned) {
    warned = 1; /* keep serving the container; a full disk must not kill it */
    warn_msg(describe("write log", log_path, errno));
  }
  log_size += out_len;
  out_len = 0;
}

static void rotate(void) {
  static char old[4096 + 3];
  size_t len = strlen(log_path);
  if (len + 3 > sizeof old) return;
  memcpy(old, log_path, len);
  memcpy(old + len, ".1", 3);
  if (rename(log_path, old) < 0) { warn_msg(describe("rotate log", log_path, errno)); return; }
  close(log_fd);
  if (open_log() < 0) warn_msg(describe("reopen log", log_path, errno));
}

static void record(const char *hdr, size_t hl, const char *text, size_t tl, int full) {
  size_t need = hl + 2 + tl + 1;
  if (out_len + need > sizeof out) flush();
  if (log_max && log_size + out_len + need > log_max && log_size + out_len > 0) {
    flush();
    rotate();
  }
  memcpy(out + out_len, hdr, hl);
  out_len += hl;
  out[out_len++] = full ? 'F' : 'P';
  out[out_len++] = ' ';
  memcpy(out + out_len, text, tl);
  out_len += tl;
  out[out_len++] = '\n';
}

void log_write(enum stream s, const char *buf, size_t n) {
  if (log_fd < 0 || n == 0) return;
  char hdr[HEADER_MAX];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  size_t hl = fmt_time(hdr, &ts);
  memcpy(hdr + hl, s == STREAM_STDERR ? " stderr " : " stdout ", 8);
  hl += 8;
  while (n > 0) {
    const char *nl = memchr(buf, '\n', n);
    size_t tl = nl ? (size_t)(nl - buf) : n;
    record(hdr, hl, buf, tl, nl != NULL);
    if (!nl) break;
    buf += tl + 1;
    n -= tl + 1;
  }
  flush();
}

void log_close(void) {
  flush();
  if (log_fd >= 0) close(log_fd);
  log_fd = -1;
}
