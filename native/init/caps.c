/* Capability sets of the container process (the `caps` record). Runs after the uid switch, so
 * the bounding set is dropped with CAP_SETPCAP borrowed from the permitted set kept by
 * PR_SET_KEEPCAPS; the final sets are then written exactly as the plan says. */
#include "security.h"
#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

struct capsets { uint64_t effective, permitted, inheritable; };

static int cap_get(struct capsets *out) {
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capget, &hdr, data) < 0) return -1;
  out->effective = (uint64_t)data[1].effective << 32 | data[0].effective;
  out->permitted = (uint64_t)data[1].permitted << 32 | data[0].permitted;
  out->inheritable = (uint64_t)data[1].inheritable << 32 | data[0].inheritable;
  return 0;
}

static int cap_set(const struct capsets *in) {
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)(in->effective >> (32 * i));
    data[i].permitted = (uint32_t)(in->permitted >> (32 * i));
    data[i].inheritable = (uint32_t)(in->inheritable >> (32 * i));
  }
  return (int)syscall(SYS_capset, &hdr, data);
}

/* Highest capability this kernel knows: probe the bounding set instead of reading procfs,
 * which may be masked or absent in the container. */
static int last_cap(void) {
  int cap = 0;
  while (cap < 64 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0) cap++;
  return cap - 1;
}

/* Names only for error messages (the numbers are the ABI): the `caps` record carries them after
 * its five masks, by bit number, from the one table in src/security/capabilities.ts. */
static const char *cap_name(const struct plan_record *rec, int cap, char *buf, size_t len) {
  if (cap >= 0 && 5 + cap < rec->argc) return rec->argv[5 + cap];
  snprintf(buf, len, "capability %d", cap);
  return buf;
}

int caps_apply(const struct plan *plan, char *err, size_t errlen) {
  const struct plan_record *rec = plan_find(plan, "caps");
  if (!rec) return 0;
  if (rec->argc < 5) { snprintf(err, errlen, "plan: caps needs 5 masks, got %d fields", rec->argc); return -1; }
  unsigned long long m[5];
  for (int i = 0; i < 5; i++)
    if (plan_u64(rec->argv[i], &m[i], err, errlen) < 0) return -1;
  uint64_t bounding = m[0], effective = m[1], permitted = m[2], inheritable = m[3], ambient = m[4];

  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) { snprintf(err, errlen, "prctl(PR_SET_KEEPCAPS, 0): %s", strerror(errno)); return -1; }

  int last = last_cap();
  uint64_t known = last >= 63 ? ~0ULL : ((1ULL << (last + 1)) - 1);
  /* Bits this kernel does not know are ignored, as runc does with caps newer than the kernel. */
  bounding &= known; effective &= known; permitted &= known; inheritable &= known; ambient &= known;

  struct capsets now;
  if (cap_get(&now) < 0) { snprintf(err, errlen, "capget: %s", strerror(errno)); return -1; }
  uint64_t missing = permitted & ~now.permitted;
  if (missing) {
    int cap = __builtin_ctzll(missing);
    char buf[32];
    snprintf(err, errlen, "capability %s was asked for but the runtime does not hold it (is it outside the host's bounding set?)",
             cap_name(rec, cap, buf, sizeof buf));
    return -1;
  }

  /* After setresuid to a non-root uid the effective set is empty; borrow the permitted set
   * (CAP_SETPCAP) to drop the bounding set. */
  struct capsets borrow = { .effective = now.permitted, .permitted = now.permitted, .inheritable = now.inheritable };
  if (cap_set(&borrow) < 0) { snprintf(err, errlen, "capset (raise effective): %s", strerror(errno)); return -1; }
  for (int cap = 0; cap <= last; cap++) {
    if (bounding & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
      char buf[32];
      snprintf(err, errlen, "drop %s from the bounding set: %s", cap_name(rec, cap, buf, sizeof buf), strerror(errno));
      return -1;
    }
  }

  struct capsets want = { .effective = effective, .permitted = permitted, .inheritable = inheritable };
  if (cap_set(&want) < 0) {
    snprintf(err, errlen, "capset(effective=%#llx permitted=%#llx inheritable=%#llx): %s%s",
             (unsigned long long)effective, (unsigned long long)permitted, (unsigned long long)inheritable, strerror(errno),
             errno == EPERM ? " (effective and inheritable must be within permitted and the bounding set)" : "");
    return -1;
  }

  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
    snprintf(err, errlen, "clear the ambient set: %s", strerror(errno));
    return -1;
  }
  for (int cap = 0; cap <= last; cap++) {
    if (!(ambient & (1ULL << cap))) continue;
    /* A cap missing from permitted or inheritable cannot be ambient; runc only warns about
     * this (configs made by `runc spec` ask for it), so it is skipped, not fatal. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EPERM) {
      char buf[32];
      snprintf(err, errlen, "raise %s in the ambient set: %s", cap_name(rec, cap, buf, sizeof buf), strerror(errno));
      return -1;
    }
  }
  return 0;
}
