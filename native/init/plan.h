/* The plan: records handed over by TypeScript (see PLAN.md). Parsed once, read by every
 * module of the C core. Each module scans for the ops it owns. */
#ifndef BERTH_PLAN_H
#define BERTH_PLAN_H
#include <stddef.h>

struct plan_record {
  const char *op;
  int argc;
  char **argv;
};

struct plan {
  struct plan_record *records;
  int count;
  int cap; /* room in records; always at least one more than count (plan_set_value) */
};

/* Reads the whole file and splits it into records. Returns 0, or -1 with err filled. */
int plan_load(struct plan *plan, const char *path, char *err, size_t errlen);

/* Adds the records of another plan file (`plan_more`: the init's part, written while stage 0 clones). */
int plan_append(struct plan *plan, const char *path, char *err, size_t errlen);

/* First record with this op, or NULL. */
const struct plan_record *plan_find(const struct plan *plan, const char *op);
/* True when a record with this op exists. */
int plan_has(const struct plan *plan, const char *op);

/* Strict number parsing for fields; on junk they return -1 and fill err. */
int plan_int(const char *text, long long *out, char *err, size_t errlen);
int plan_u64(const char *text, unsigned long long *out, char *err, size_t errlen);

/* Sets (or adds) a one-field record, e.g. state_json once the pid is known. One add at most. */
int plan_set_value(struct plan *plan, const char *op, char *value);

#endif
