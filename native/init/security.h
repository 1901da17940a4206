/* Container hardening in the init, between pivot_root and execve: capability sets (caps.c) and
 * the seccomp filter (seccomp.c). Both read their records from the plan (see PLAN.md: `caps`,
 * `seccomp_*`) and decide nothing beyond what the plan says. */
#ifndef BERTH_SECURITY_H
#define BERTH_SECURITY_H
#include <stddef.h>
#include "plan.h"

/* Called after setresuid/setresgid (PR_SET_KEEPCAPS was set before them; it is cleared here).
 * Drops the bounding set to the plan's mask, sets effective/permitted/inheritable with
 * capset(2) (v3) and raises the ambient set. No `caps` record: leaves the sets alone.
 * Returns 0, or -1 with err filled. */
int caps_apply(const struct plan *plan, char *err, size_t errlen);

/* Connects to the seccomp_listener socket while its host path is still reachable, i.e. before
 * pivot_root (and notes this process's host pid for the message). Optional: without it,
 * seccomp_install connects at install time. No-op returning 0 without a seccomp_listener record. */
int seccomp_listener_connect(const struct plan *plan, char *err, size_t errlen);

/* Compiles the filter (libseccomp; ~2 ms for Docker's profile on one architecture, ~10-20 ms
 * with x86+x32 added) and keeps it for seccomp_install. Optional: call it early, off the critical
 * path (e.g. in the init while TypeScript joins cgroups, or in stage 0 before clone — the result
 * survives clone/fork); seccomp_install compiles itself when this was not called. No-op without
 * a seccomp_default record. Returns 0, or -1 with err filled. */
int seccomp_prepare(const struct plan *plan, char *err, size_t errlen);

/* Builds the filter from the plan's seccomp_* records with libseccomp and loads it with
 * seccomp(2) (no_new_privs is left to the caller). No-op returning 0 without a
 * seccomp_default record. Syscall names unknown to libseccomp are skipped, as runc does.
 * With a seccomp_listener record, sends the notify fd and the container process state
 * (built around the plan's state_json) over the unix socket, as runc does.
 * Returns 0, or -1 with err filled. */
int seccomp_install(const struct plan *plan, char *err, size_t errlen);

#endif
