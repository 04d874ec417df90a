/* csd-cclient: the yardstick load client. As little as a client can do:
 * fork one process per client, blocking sockets, send "N\n", read N bytes,
 * read to EOF, close. It counts nothing but failures and prints only the
 * elapsed time and the rate, so that csd-client's rate can be compared with
 * it against the same server: if they match, csd-client is not the limit.
 *
 *   csd-cclient -i HOST -p PORT [-c CLIENTS] [-t CONNS] [-b BYTES]
 *
 * Exit status: 0 all connections ok, 1 any failed, 2 bad usage. */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char buffer[64 * 1024];

static void usage(const char* prog) {
  fprintf(stderr, "usage: %s -i HOST -p PORT [-c CLIENTS (5)] [-t CONNS (500)] [-b BYTES (3000)]\n",
          prog);
}

static int parse_long(const char* text, long min, long max, long* out) {
  char* end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One connection. Returns 0 if it got exactly `bytes` bytes and then EOF;
 * otherwise prints why (the call and errno text) and returns -1. */
static int fetch(const struct addrinfo* ai, const char* request, size_t request_len, long bytes) {
  int fd = socket(ai->ai_family, SOCK_STREAM, 0);
  if (fd < 0) {
    perror("socket");
    return -1;
  }
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    perror("connect");
    close(fd);
    return -1;
  }
  for (size_t off = 0; off < request_len;) {
    ssize_t n = send(fd, request + off, request_len - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      perror("send");
      close(fd);
      return -1;
    }
    off += (size_t)n;
  }
  long got = 0;
  for (;;) {
    /* Never read past the reply, so extra bytes show as such. */
    size_t want = got < bytes ? (size_t)(bytes - got) : sizeof buffer;
    if (want > sizeof buffer)
      want = sizeof buffer;
    ssize_t n = recv(fd, buffer, want, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      perror("recv");
      close(fd);
      return -1;
    }
    if (n == 0)
      break;
    got += n;
    if (got > bytes)
      break;
  }
  close(fd);
  if (got != bytes) {
    fprintf(stderr, "%s reply: %ld of %ld bytes\n", got < bytes ? "short" : "long", got, bytes);
    return -1;
  }
  return 0;
}

/* A client process: `conns` sequential connections. Exit 1 if any failed. */
static void run_client(const struct addrinfo* ai, long conns, long bytes) {
  char request[32];
  int len = snprintf(request, sizeof request, "%ld\n", bytes);
  long failures = 0;
  for (long i = 0; i < conns; i++) {
    if (fetch(ai, request, (size_t)len, bytes) < 0)
      failures++;
  }
  if (failures > 0)
    fprintf(stderr, "client %d: %ld of %ld connections failed\n", (int)getpid(), failures, conns);
  _exit(failures > 0 ? 1 : 0);
}

int main(int argc, char** argv) {
  const char* host = NULL;
  const char* port = NULL;
  long clients = 5, conns = 500, bytes = 3000, port_num = 0;
  int opt;
  while ((opt = getopt(argc, argv, "i:p:c:t:b:h")) != -1) {
    switch (opt) {
      case 'i':
        host = optarg;
        break;
      case 'p':
        port = optarg;
        break;
      case 'c':
        if (parse_long(optarg, 1, 100000, &clients) < 0)
          goto bad;
        break;
      case 't':
        if (parse_long(optarg, 1, LONG_MAX, &conns) < 0)
          goto bad;
        break;
      case 'b':
        if (parse_long(optarg, 0, LONG_MAX, &bytes) < 0)
          goto bad;
        break;
      case 'h':
        usage(argv[0]);
        return 0;
      default:
        goto bad;
    }
  }
  if (host == NULL || port == NULL || optind != argc || parse_long(port, 1, 65535, &port_num) < 0)
    goto bad;

  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET; /* as client.py; fall back to any family */
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0) {
    hints.ai_family = AF_UNSPEC;
    rc = getaddrinfo(host, port, &hints, &ai);
  }
  if (rc != 0) {
    fprintf(stderr, "getaddrinfo: %s: %s\n", host, gai_strerror(rc));
    return 2;
  }

  double start = now_s();
  for (long c = 0; c < clients; c++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0)
      run_client(ai, conns, bytes);
  }
  int failed = 0, status;
  for (;;) {
    pid_t pid = wait(&status);
    if (pid < 0) {
      if (errno == EINTR)
        continue;
      break; /* ECHILD: all done */
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      failed++;
  }
  double elapsed = now_s() - start;
  freeaddrinfo(ai);
  printf("elapsed %.3f s, %.1f conns/s\n", elapsed, (double)(clients * conns) / elapsed);
  if (failed > 0) {
    fprintf(stderr, "%d of %ld clients saw failures\n", failed, clients);
    return 1;
  }
  return 0;

bad:
  usage(argv[0]);
  return 2;
}
