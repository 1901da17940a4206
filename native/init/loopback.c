/* Init: a new network namespace starts with `lo` down; containers expect 127.0.0.1 to work
 * (runc brings it up too). One ioctl, no netlink needed. */
#include "core.h"
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int loopback_up(const struct plan *plan, char *err, size_t n) {
  if (!plan_has(plan, "loopback_up")) return 0;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { snprintf(err, n, "socket for lo: %s", strerror(errno)); return -1; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
  if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  if (rc < 0) snprintf(err, n, "bring up lo: %s", strerror(errno));
  close(fd);
  return rc;
}
