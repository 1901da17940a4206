/* Attach: a unix stream socket; every connection gets a live copy of the container's output and
 * may feed its stdin.
 *
 * monitor -> client: tty: the raw terminal bytes. pipes: frames with Docker's stdcopy header,
 *   [stream(1=stdout 2=stderr), 0, 0, 0, length (u32 big-endian)] then the bytes.
 * client -> monitor: always frames [kind, 0, 0, 0, length (u32 BE)] then the payload:
 *   kind 0 = stdin bytes, kind 1 = resize (rows u16 BE, cols u16 BE), kind 2 = close stdin.
 * When the container is gone the monitor closes the connection (after the last output).
 *
 * Output is one shared chunk: the next read from the container waits until every client took
 * the current one, so attached clients see everything, and a client that stalls for
 * STALL_MS is dropped rather than holding the container's output forever. */
#include "monitor.h"
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STALL_MS 30000

struct client {
  int fd;
  size_t sent;                 /* bytes of the current chunk already sent */
  unsigned char hdr[8];        /* input frame header being read */
  unsigned hdr_len;
  unsigned long remaining;     /* payload bytes of the current input frame still to read */
  unsigned char ctl[4];
  unsigned ctl_len;
  long long progress_at;
};

static struct client clients[MAX_CLIENTS];
static int listen_fd = -1, framed, pty_fd = -1;
static unsigned char chunk[8 + IO_CHUNK];
static size_t chunk_len;
static int stdin_fd = -1, stdin_is_pty;
static unsigned char inbuf[IO_CHUNK];
static size_t in_off, in_len;

void attach_init(int fd, int frames) {
  listen_fd = fd;
  framed = frames;
  for (int i = 0; i < MAX_CLIENTS; i++) clients[i].fd = -1;
}

void attach_set_stdin(int fd, int is_pty) {
  stdin_fd = fd;
  stdin_is_pty = is_pty;
  if (fd >= 0) set_nonblock(fd);
}

void attach_set_pty(int master) { pty_fd = master; }

static void drop(struct client *c) {
  close(c->fd);
  c->fd = -1;
}

static void close_stdin(void) {
  if (stdin_fd >= 0 && !stdin_is_pty) close(stdin_fd); /* the container reads EOF */
  stdin_fd = -1;
  in_off = in_len = 0;
}

static void feed_stdin(void) {
  while (in_off < in_len) {
    ssize_t w = write(stdin_fd, inbuf + in_off, in_len - in_off);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      close_stdin(); /* the container closed its stdin: drop what is left */
      return;
    }
    in_off += (size_t)w;
  }
  in_off = in_len = 0;
}

int attach_stdin_fd_wants_write(void) { return in_off < in_len ? stdin_fd : -1; }
void attach_stdin_writable(void) { feed_stdin(); }

static void send_pending(struct client *c) {
  while (c->sent < chunk_len) {
    ssize_t w = send(c->fd, chunk + c->sent, chunk_len - c->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) drop(c);
      return;
    }
    c->sent += (size_t)w;
    c->progress_at = now_ms();
  }
}

static unsigned be32(const unsigned char *p) {
  return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

static void frame_done(struct client *c) {
  unsigned char kind = c->hdr[0];
  if (kind == 1 && c->ctl_len == 4 && pty_fd >= 0)
    pty_resize(pty_fd, (unsigned short)(c->ctl[0] << 8 | c->ctl[1]), (unsigned short)(c->ctl[2] << 8 | c->ctl[3]));
  else if (kind == 2)
    close_stdin();
  c->hdr_len = 0;
}

/* Reads input frames until the socket is empty or stdin cannot take more. */
static void read_input(struct client *c) {
  while (c->fd >= 0 && in_off == in_len) {
    ssize_t r;
    if (c->hdr_len < 8) {
      r = read(c->fd, c->hdr + c->hdr_len, 8 - c->hdr_len);
      if (r > 0) {
        c->hdr_len += (unsigned)r;
        if (c->hdr_len == 8) {
          c->remaining = be32(c->hdr + 4);
          c->ctl_len = 0;
          if (c->remaining == 0) frame_done(c);
        }
      }
    } else {
      size_t want = c->remaining < sizeof inbuf ? c->remaining : sizeof inbuf;
      r = read(c->fd, inbuf, want);
      if (r > 0) {
        c->remaining -= (unsigned long)r;
        if (c->hdr[0] == 0 && stdin_fd >= 0) {
          in_off = 0;
          in_len = (size_t)r;
          feed_stdin();
        } else if (c->hdr[0] == 1) {
          for (ssize_t i = 0; i < r && c->ctl_len < sizeof c->ctl; i++) c->ctl[c->ctl_len++] = inbuf[i];
        }
        if (c->remaining == 0) frame_done(c);
      }
    }
    if (r == 0) { drop(c); return; }
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) drop(c);
      return;
    }
  }
}

static void accept_clients(void) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    struct client *c = NULL;
    for (int i = 0; i < MAX_CLIENTS && !c; i++)
      if (clients[i].fd < 0) c = &clients[i];
    if (!c) { close(fd); continue; }
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->sent = chunk_len; /* start at the next chunk, never mid-frame */
    c->progress_at = now_ms();
  }
}

int attach_poll(struct pollfd *p, int accept_input) {
  long long now = now_ms();
  p[0].fd = accept_input ? listen_fd : -1;
  p[0].events = POLLIN;
  for (int i = 0; i < MAX_CLIENTS; i++) {
    struct client *c = &clients[i];
    int pending = c->fd >= 0 && c->sent < chunk_len;
    if (pending && now - c->progress_at > STALL_MS) { drop(c); pending = 0; }
    p[i + 1].fd = c->fd;
    p[i + 1].events = (short)((pending ? POLLOUT : 0) | (accept_input && in_off == in_len ? POLLIN : 0));
    if (!p[i + 1].events) p[i + 1].fd = -1;
  }
  return MAX_CLIENTS + 1;
}

void attach_events(struct pollfd *p, int n) {
  (void)n;
  if (p[0].fd >= 0 && (p[0].revents & POLLIN)) accept_clients();
  for (int i = 0; i < MAX_CLIENTS; i++) {
    struct client *c = &clients[i];
    short re = p[i + 1].revents;
    if (c->fd < 0 || p[i + 1].fd != c->fd || !re) continue;
    if (re & POLLOUT) send_pending(c);
    /* EOF from a client means it detached (our client never half-closes); a hangup or error
     * without data to read leaves nothing to serve either. */
    if (c->fd >= 0 && (re & POLLIN)) read_input(c);
    else if (c->fd >= 0 && (re & (POLLHUP | POLLERR))) drop(c);
  }
}

void attach_broadcast(enum stream s, const char *buf, size_t n) {
  int any = 0;
  for (int i = 0; i < MAX_CLIENTS; i++) any |= clients[i].fd >= 0;
  if (!any || n == 0) return;
  size_t at = 0;
  if (framed) {
    chunk[0] = (unsigned char)s;
    chunk[1] = chunk[2] = chunk[3] = 0;
    chunk[4] = (unsigned char)(n >> 24);
    chunk[5] = (unsigned char)(n >> 16);
    chunk[6] = (unsigned char)(n >> 8);
    chunk[7] = (unsigned char)n;
    at = 8;
  }
  memcpy(chunk + at, buf, n);
  chunk_len = at + n;
  long long now = now_ms();
  for (int i = 0; i < MAX_CLIENTS; i++) {
    struct client *c = &clients[i];
    if (c->fd < 0) continue;
    c->sent = 0;
    c->progress_at = now;
    send_pending(c);
  }
}

int attach_pending(void) {
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (clients[i].fd >= 0 && clients[i].sent < chunk_len) return 1;
  return 0;
}

void attach_close_all(void) {
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (clients[i].fd >= 0) drop(&clients[i]);
  if (listen_fd >= 0) close(listen_fd);
  listen_fd = -1;
}
