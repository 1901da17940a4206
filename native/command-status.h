/* One rule, for every place that starts a user's command (berth-init for run and exec, the
 * monitor's direct mode): the exit status when the command could not be started at all, as a
 * shell and docker give it. 127 when the file does not exist (a missing interpreter too: execve
 * says ENOENT), 126 when it exists but cannot be run: a directory, no execute permission, a
 * path through a non-directory, a bad format. The PATH search that finds nothing is 127. */
#ifndef BERTH_COMMAND_STATUS_H
#define BERTH_COMMAND_STATUS_H
#include <errno.h>

#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127

static inline int command_exit_status(int err) { return err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE; }

#endif
