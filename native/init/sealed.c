/* Stage 0 and exec, first thing: run from a sealed, anonymous copy of this binary so that no
 * process inside a container can ever reach (and overwrite) the host's berth-init through
 * /proc/PID/exe (the runc CVE-2019-5736 class). The copy is a memfd with write/grow/shrink seals. */
#include "core.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static int is_sealed_memfd(void) {
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  int seals = fcntl(fd, F_GET_SEALS);
  close(fd);
  return seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_SEAL)) == (F_SEAL_WRITE | F_SEAL_SEAL);
}

void ensure_sealed_self(char **argv) {
  if (is_sealed_memfd()) return;
  int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (src < 0) { perror("berth-init: open /proc/self/exe"); _exit(1); }
  struct stat st;
  if (fstat(src, &st) < 0) { perror("berth-init: fstat"); _exit(1); }
  int mem = memfd_create("berth-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) { perror("berth-init: memfd_create"); _exit(1); }
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = sendfile(mem, src, &off, (size_t)(st.st_size - off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { perror("berth-init: copying self"); _exit(1); }
  }
  close(src);
  if (fcntl(mem, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    perror("berth-init: sealing memfd");
    _exit(1);
  }
  fexecve(mem, argv, environ);
  perror("berth-init: fexecve sealed copy");
  _exit(1);
}
