/* csd-citerative: the baseline for csd-bench. The smallest iterative server
 * that speaks the size protocol correctly, in plain C: UNP 30.4's yardstick,
 * the row every other design's figures are a ratio to.
 *
 *   csd-citerative [-i HOST (127.0.0.1)] [-p PORT (0 = ephemeral)]
 *
 * One client at a time: accept, read the request "N\n" (the bare digits also
 * count once the client sends nothing more for 50 ms, or at EOF), write N
 * bytes (64 KiB per write at most), close first, accept the next. A request
 * that is not a number, or asks for more than 1 GiB, gets the connection
 * closed. Blocking sockets, no signal handling beyond ignoring SIGPIPE:
 * SIGTERM/SIGINT end it with the default action. It prints one line
 * "listening on HOST:PORT" when ready.
 *
 * Exit status: 2 on bad usage, 1 when it cannot listen. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define REPLY_CHUNK (64 * 1024)
#define MAX_REPLY (UINT64_C(1) << 30)
#define BARE_GRACE_MS 50
#define MAX_DIGITS 19

static char reply[REPLY_CHUNK];

static void usage(FILE* out, const char* prog) {
  fprintf(out, "usage: %s [-i HOST (127.0.0.1)] [-p PORT (0 = ephemeral)]\n", prog);
}

static int parse_port(const char* text, unsigned* out) {
  char* end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 0 || v > 65535)
    return -1;
  *out = (unsigned)v;
  return 0;
}

/* A listening socket on HOST:PORT, or -1 (reported). */
static int listen_on(const char* host, const char* port) {
  struct addrinfo hints, *found = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = getaddrinfo(host, port, &hints, &found);
  if (rc != 0) {
    fprintf(stderr, "csd-citerative: getaddrinfo %s: %s\n", host, gai_strerror(rc));
    return -1;
  }
  int fd = socket(found->ai_family, SOCK_STREAM, 0);
  if (fd < 0) {
    fprintf(stderr, "csd-citerative: socket: %s\n", strerror(errno));
    freeaddrinfo(found);
    return -1;
  }
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (bind(fd, found->ai_addr, found->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
    fprintf(stderr, "csd-citerative: bind/listen %s:%s: %s\n", host, port, strerror(errno));
    freeaddrinfo(found);
    close(fd);
    return -1;
  }
  freeaddrinfo(found);
  return fd;
}

/* Prints "listening on HOST:PORT" with the port the kernel gave. */
static int announce(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char host[INET6_ADDRSTRLEN], port[8];
  if (getsockname(fd, (struct sockaddr*)&ss, &len) < 0 ||
      getnameinfo((struct sockaddr*)&ss, len, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    fprintf(stderr, "csd-citerative: getsockname: %s\n", strerror(errno));
    return -1;
  }
  printf(ss.ss_family == AF_INET6 ? "listening on [%s]:%s\n" : "listening on %s:%s\n", host, port);
  fflush(stdout);
  return 0;
}

/* Reads the request. Returns the byte count asked for, or -1 if the request
 * is bad or the client went away. Digits without a newline count once
 * nothing more arrives for BARE_GRACE_MS, or at EOF. */
static int64_t read_request(int fd) {
  uint64_t value = 0;
  int digits = 0;
  char buf[64];
  for (;;) {
    if (digits > 0) {
      struct pollfd p = {fd, POLLIN, 0};
      int ready = poll(&p, 1, BARE_GRACE_MS);
      if (ready < 0 && errno == EINTR)
        continue;
      if (ready == 0)
        return (int64_t)value; /* the bare number, as client.py sends it */
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (n == 0)
      return digits > 0 ? (int64_t)value : -1;
    for (ssize_t i = 0; i < n; i++) {
      char c = buf[i];
      if (c == '\n')
        return digits > 0 ? (int64_t)value : -1;
      if (c < '0' || c > '9' || ++digits > MAX_DIGITS)
        return -1;
      value = value * 10 + (uint64_t)(c - '0');
      if (value > MAX_REPLY)
        return -1;
    }
  }
}

/* Writes `bytes` bytes, REPLY_CHUNK per write at most. -1 if the client went away. */
static int write_reply(int fd, uint64_t bytes) {
  while (bytes > 0) {
    size_t want = bytes < sizeof reply ? (size_t)bytes : sizeof reply;
    ssize_t n = write(fd, reply, want);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    bytes -= (uint64_t)n;
  }
  return 0;
}

int main(int argc, char** argv) {
  const char* host = "127.0.0.1";
  const char* port = "0";
  unsigned port_num = 0;
  int opt;
  while ((opt = getopt(argc, argv, "i:p:h")) != -1) {
    switch (opt) {
      case 'i':
        host = optarg;
        break;
      case 'p':
        port = optarg;
        if (parse_port(port, &port_num) < 0) {
          fprintf(stderr, "csd-citerative: -p %s: not a port (0..65535)\n", optarg);
          return 2;
        }
        break;
      case 'h':
        usage(stdout, argv[0]);
        return 0;
      default:
        usage(stderr, argv[0]);
        return 2;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "csd-citerative: unexpected argument '%s'\n", argv[optind]);
    usage(stderr, argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN); /* a client that resets must not kill the server */
  memset(reply, 'x', sizeof reply);

  int listener = listen_on(host, port);
  if (listener < 0 || announce(listener) < 0)
    return 1;
  for (;;) {
    int conn = accept(listener, NULL, NULL);
    if (conn < 0) {
      if (errno != EINTR && errno != ECONNABORTED)
        fprintf(stderr, "csd-citerative: accept: %s\n", strerror(errno));
      continue;
    }
    int64_t bytes = read_request(conn);
    if (bytes >= 0)
      write_reply(conn, (uint64_t)bytes);
    close(conn); /* the server closes first: TIME_WAIT stays on its side */
  }
}
