/* Parses the plan file written by TypeScript into records (see PLAN.md). Runs in stage 0,
 * before any namespace is touched. */
#include "plan.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *read_file(const char *path, int flags, size_t *len, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0) { snprintf(err, errlen, "open plan %s: %s", path, strerror(errno)); return NULL; }
  struct stat st;
  if (fstat(fd, &st) < 0) { snprintf(err, errlen, "stat plan: %s", strerror(errno)); close(fd); return NULL; }
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf) { snprintf(err, errlen, "out of memory"); close(fd); return NULL; }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { snprintf(err, errlen, "read plan: %s", n < 0 ? strerror(errno) : "short read"); free(buf); close(fd); return NULL; }
    got += (size_t)n;
  }
  close(fd);
  buf[got] = 0;
  *len = got;
  return buf;
}

/* Appends one record, keeping room for one more after it (plan_set_value adds one). */
static int push_record(struct plan_record **recs, int *count, int *cap, struct plan_record rec, char *err, size_t errlen) {
  if (*count + 1 >= *cap) {
    int grown = *cap * 2 + 64;
    struct plan_record *r = realloc(*recs, (size_t)grown * sizeof **recs);
    if (!r) { snprintf(err, errlen, "out of memory"); return -1; }
    *recs = r;
    *cap = grown;
  }
  (*recs)[(*count)++] = rec;
  return 0;
}

/* Splits one file's text into records appended to *recs (grown as needed). */
static int split_records(char *buf, size_t len, struct plan_record **recs, int *count, int *cap, char *err, size_t errlen) {
  size_t tokens = 0;
  for (size_t i = 0; i < len; i++) if (buf[i] == 0) tokens++;
  char **tok = calloc(tokens + 1, sizeof(char *));
  if (!tok) { snprintf(err, errlen, "out of memory"); return -1; }
  size_t t = 0;
  for (size_t i = 0; i < len && t < tokens; ) { tok[t++] = buf + i; i += strlen(buf + i) + 1; }
  for (size_t i = 0; i < tokens; ) {
    if (i + 1 >= tokens) { snprintf(err, errlen, "plan truncated after %s", tok[i]); return -1; }
    long long n;
    if (plan_int(tok[i + 1], &n, err, errlen) < 0 || n < 0 || i + 2 + (size_t)n > tokens) {
      snprintf(err, errlen, "plan record %s has a bad field count", tok[i]);
      return -1;
    }
    if (push_record(recs, count, cap, (struct plan_record){ .op = tok[i], .argc = (int)n, .argv = tok + i + 2 }, err, errlen) < 0) return -1;
    i += 2 + (size_t)n;
  }
  return 0;
}

/* `include PATH KEY`: records TypeScript keeps in a file of their own because they are the same
 * for many containers (a seccomp profile's rules); spliced in where the include stands. The
 * file must begin with `included KEY`, so a file swapped under another name is refused. */
static int splice_include(const struct plan_record *inc, struct plan_record **recs, int *count, int *cap, char *err, size_t errlen) {
  if (inc->argc != 2) { snprintf(err, errlen, "plan: include needs PATH KEY"); return -1; }
  size_t len;
  char *buf = read_file(inc->argv[0], O_NOFOLLOW, &len, err, errlen);
  if (!buf) return -1;
  int first = *count;
  if (split_records(buf, len, recs, count, cap, err, errlen) < 0) return -1;
  const struct plan_record *head = *count > first ? &(*recs)[first] : NULL;
  if (!head || strcmp(head->op, "included") || head->argc != 1 || strcmp(head->argv[0], inc->argv[1])) {
    snprintf(err, errlen, "plan include %s was not written for key %s (remove it; it is rebuilt)", inc->argv[0], inc->argv[1]);
    return -1;
  }
  for (const struct plan_record *r = head + 1; r < *recs + *count; r++)
    if (!strcmp(r->op, "include")) { snprintf(err, errlen, "plan include %s includes another file", inc->argv[0]); return -1; }
  return 0;
}

/* Appends the records of the file at path to recs (includes spliced in). */
static int load_into(const char *path, struct plan_record **recs, int *count, int *cap, char *err, size_t errlen) {
  size_t len;
  char *buf = read_file(path, 0, &len, err, errlen);
  if (!buf) return -1;
  struct plan_record *file_recs = NULL;
  int file_count = 0, file_cap = 0;
  if (split_records(buf, len, &file_recs, &file_count, &file_cap, err, errlen) < 0) return -1;
  for (int i = 0; i < file_count; i++) {
    if (!strcmp(file_recs[i].op, "include")) {
      if (splice_include(&file_recs[i], recs, count, cap, err, errlen) < 0) return -1;
      continue;
    }
    if (push_record(recs, count, cap, file_recs[i], err, errlen) < 0) return -1;
  }
  free(file_recs);
  /* An empty plan still has room for the one record plan_set_value may add. */
  if (!*recs) {
    *cap = 1;
    if (!(*recs = calloc(1, sizeof **recs))) { snprintf(err, errlen, "out of memory"); return -1; }
  }
  return 0;
}

int plan_load(struct plan *plan, const char *path, char *err, size_t errlen) {
  plan->records = NULL;
  plan->count = plan->cap = 0;
  return load_into(path, &plan->records, &plan->count, &plan->cap, err, errlen);
}

int plan_append(struct plan *plan, const char *path, char *err, size_t errlen) {
  return load_into(path, &plan->records, &plan->count, &plan->cap, err, errlen);
}

const struct plan_record *plan_find(const struct plan *plan, const char *op) {
  for (int i = 0; i < plan->count; i++)
    if (strcmp(plan->records[i].op, op) == 0) return &plan->records[i];
  return NULL;
}

int plan_has(const struct plan *plan, const char *op) { return plan_find(plan, op) != NULL; }

int plan_int(const char *text, long long *out, char *err, size_t errlen) {
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno || end == text || *end) { snprintf(err, errlen, "plan: bad number '%s'", text); return -1; }
  *out = v;
  return 0;
}

int plan_u64(const char *text, unsigned long long *out, char *err, size_t errlen) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || end == text || *end || text[0] == '-') { snprintf(err, errlen, "plan: bad number '%s'", text); return -1; }
  *out = v;
  return 0;
}

int plan_set_value(struct plan *plan, const char *op, char *value) {
  static char *slot[1];
  for (int i = 0; i < plan->count; i++)
    if (strcmp(plan->records[i].op, op) == 0) { plan->records[i].argv[0] = value; plan->records[i].argc = 1; return 0; }
  /* plan_load leaves room for one record more than the plan had. */
  slot[0] = value;
  plan->records[plan->count].op = op;
  plan->records[plan->count].argc = 1;
  plan->records[plan->count].argv = slot;
  plan->count++;
  return 0;
}
