/* The exit file, written once (atomically) when the container is gone:
 *   {"exitCode":N,"signal":S|null,"oomKilled":B,"pid":P,"startedAt":"…","finishedAt":"…"}
 * exitCode is 128+S when a signal killed it (shell convention, as docker reports it).
 * oomKilled is present when --oom-file was given: the cgroup's oom_kill counter (v1
 * memory.oom_control, v2 memory.events) read when the container was reaped, compared with
 * --oom-base.
 * A start failure adds "startFailed":true and "error":"…". */
#include "monitor.h"
#include <errno.h>
#include <string.h>
#include <sys/wait.h>

/* -1 when the counter cannot be read. */
static long long read_oom_kills(const char *path) {
  static char buf[4096];
  if (read_small(path, buf, sizeof buf) <= 0) return -1;
  for (char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    if (strncmp(line, "oom_kill ", 9)) continue;
    long long v = 0;
    for (char *p = line + 9; *p >= '0' && *p <= '9'; p++) v = v * 10 + (*p - '0');
    return v;
  }
  return -1;
}

static char json[2048];
static size_t len;

static void put(const char *s, size_t n) {
  if (len + n >= sizeof json) n = sizeof json - 1 - len;
  memcpy(json + len, s, n);
  len += n;
}
static void puts_(const char *s) { put(s, strlen(s)); }
static void put_num(long long v) {
  char b[24];
  if (v < 0) { put("-", 1); v = -v; }
  put(b, fmt_u64(b, (unsigned long long)v));
}
static void put_time(const struct timespec *ts) {
  char b[40];
  put("\"", 1);
  put(b, fmt_time(b, ts));
  put("\"", 1);
}
static void put_string(const char *s) {
  put("\"", 1);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') { put("\\", 1); put(s, 1); }
    else if (ch < 0x20) { put(ch == '\n' ? "\\n" : " ", ch == '\n' ? 2 : 1); }
    else put(s, 1);
  }
  put("\"", 1);
}

void check_oom(struct outcome *o, const char *oom_file, unsigned long long oom_base) {
  if (!oom_file) return;
  long long kills = read_oom_kills(oom_file);
  o->oom_checked = 1;
  o->oom_killed = kills >= 0 && (unsigned long long)kills > oom_base;
}

int write_exit_file(const char *path, const struct outcome *o) {
  int code = -1, sig = 0;
  if (o->status_valid) {
    if (WIFSIGNALED(o->status)) { sig = WTERMSIG(o->status); code = 128 + sig; }
    else code = WEXITSTATUS(o->status);
  }
  len = 0;
  puts_("{\"exitCode\":");
  put_num(code);
  puts_(",\"signal\":");
  if (sig) put_num(sig); else puts_("null");
  if (o->oom_checked) {
    puts_(",\"oomKilled\":");
    puts_(o->oom_killed ? "true" : "false");
  }
  puts_(",\"pid\":");
  put_num(o->pid);
  puts_(",\"startedAt\":");
  put_time(&o->started);
  puts_(",\"finishedAt\":");
  put_time(&o->finished);
  if (o->start_failed) {
    puts_(",\"startFailed\":true,\"error\":");
    put_string(o->error ? o->error : "start failed");
  }
  puts_("}\n");
  return write_file_atomic(path, json, len);
}
