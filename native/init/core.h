/* Declarations shared by the files of berth-init. Each .c file owns one concern and says at
 * its top which process runs it: stage 0 (spawned by TypeScript), init (the container's first
 * process, before execve), or exec (joining a running container). */
#ifndef BERTH_CORE_H
#define BERTH_CORE_H
#include <stddef.h>
#include <sys/types.h>
#include "plan.h"

#define ERRLEN 512

/* Fds TypeScript gives stage 0: messages to TS and from TS. They sit after any fds the caller
 * preserves (--preserve-fds), so main.c reads their numbers from --control-fds OUT,IN. */
extern int FD_TO_TS, FD_FROM_TS;

/* sync.c: line messages over pipes/sockets. */
int sync_send(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads one line (without the newline) into buf; returns its length, 0 on EOF, -1 on error. */
ssize_t sync_recv_line(int fd, char *buf, size_t len);
/* Reports a fatal error to TS (or the sync socket) and exits 1. */
void fail(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* The container's command could not be started: reports "exec-error STATUS MSG" and exits with
 * STATUS (126 or 127, see command-status.h), so TS never guesses the status from the words. */
void fail_command(int fd, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));

/* sealed.c: re-execute from a sealed memfd copy unless already done (CVE-2019-5736). */
void ensure_sealed_self(char **argv);

/* namespaces.c */
int ns_clone_flags(const struct plan *plan);                     /* CLONE_NEW* for namespaces to create */
int ns_join_paths(const struct plan *plan, char *err, size_t n);  /* setns for namespaces given by path */
int ns_setup_time(const struct plan *plan, char *err, size_t n);  /* unshare + offsets for a new time ns */
int ns_write_id_maps(const struct plan *plan, pid_t child, char *err, size_t n);
int ns_flag_of(const char *type);
int ns_unshare_cgroup(const struct plan *plan, char *err, size_t n); /* init, after "go" */

void trace_step(const char *step); /* trace.c: BERTH_TRACE=1 timings on stderr */

/* cgroups.c: entering the container's cgroups without the kernel's slow path */
int cgroups_make(const char *line, char *err, size_t n);                /* a "cgroup CPUSET MOUNT DIR" control line */
int cgroups_enter_self(const struct plan *plan, char *err, size_t n);    /* "0" to each v1 tasks file */
int cgroups_leave_self(const struct plan *plan, char *err, size_t n);    /* back to the caller's v1 groups */
int cgroups_enter_v2_self(const struct plan *plan, char *err, size_t n); /* "0" to the v2 group's cgroup.procs */
pid_t cgroups_fork_into(const struct plan *plan, int ns_flags, char *err, size_t n); /* clone3 into the v2 group; 0 in the child */

/* loopback.c (init): bring up lo in a new network namespace */
int loopback_up(const struct plan *plan, char *err, size_t n);

/* rootfs.c (init, before and after pivot_root) */
int rootfs_prepare(const struct plan *plan, int *rootfd, char *err, size_t n);
int rootfs_set_hostname(const struct plan *plan, char *err, size_t n);
int rootfs_write_sysctls(const struct plan *plan, int rootfd, char *err, size_t n);
int rootfs_pivot(const struct plan *plan, int rootfd, char *err, size_t n);
int rootfs_finish(const struct plan *plan, char *err, size_t n);

/* mounts.c (init): safe, fd-relative creation of paths inside the root and the mounts. */
int mounts_apply(const struct plan *plan, int rootfd, char *err, size_t n);
int mounts_open_sources(struct plan *plan, char *err, size_t n);
void mounts_close_sources(void); /* once the mounts are made */
/* Opens (creating as needed) PATH inside rootfd without ever following a symlink out of it.
 * want_dir: create a directory (1) or an empty file (0) when missing. Returns an O_PATH fd. */
int open_in_root(int rootfd, const char *path, int want_dir, int create, char *err, size_t n);
/* Makes a /proc/self/fd/N path for mounting onto an opened fd. */
void fd_path(int fd, char *buf, size_t len);

/* devices.c (init) */
int devices_create(const struct plan *plan, int rootfd, char *err, size_t n);

/* console.c (init, after pivot_root) */
int console_setup(const struct plan *plan, int console_fd, char *err, size_t n);
/* Stage 0 / exec: connect to the --console-socket path. */
int console_connect(const char *path, char *err, size_t n);

/* hooks.c (init) */
int hooks_run(const struct plan *plan, const char *stage, char *err, size_t n);

/* process.c (init and exec): the last steps before execve. */
int process_early(const struct plan *plan, char *err, size_t n);       /* rlimits, oom_score_adj */
/* argv[0] in PATH: 0, or the exit status the failure means (126/127, command-status.h) with err set. */
int process_lookup(const struct plan *plan, char *path, size_t len, char *err, size_t n);
int process_chdir(const struct plan *plan, char *err, size_t n);
int process_make_cwd(const struct plan *plan, int rootfd, char *err, size_t n); /* before pivot: the root may become read-only */
void process_exec(const struct plan *plan, int report_fd) __attribute__((noreturn));

/* The clone()d init's arguments (create.c -> init.c). */
struct init_args {
  struct plan *plan;
  int sync_fd;    /* socket to stage 0 */
  int console_fd; /* where the pty master goes, or -1 */
  int state_fd;   /* O_PATH of the state dir (holds exec.fifo), opened by stage 0 as host root, or -1 */
};
int init_main(void *arg);

/* foreground.c: stay the parent of a `--wait` container process (forward signals, relay the pty
 * from relay_fd unless it is -1) and return its exit status (128+N for signal N). */
int foreground_parent(pid_t child, int relay_fd);
int wait_exit_status(pid_t pid);
/* relay.c: copy between the pty master received on sock and our stdio until the pty closes. */
void relay_console(int sock);

/* main.c entry points per mode */
int stage0_create(const struct plan *plan, int wait_child, int console_relay);
int exec_join(const struct plan *plan, int wait_child, int console_relay);

#endif
