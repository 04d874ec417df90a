// csd-prefork: a pool of children, each blocking in accept() on the shared listener
// (UNP 30.6, serv02.c); --wait select|epoll|epoll-exclusive has them wait for readiness first.
// Verify behavior for the sequence: one new connection wakes one idle child (accept),
// every idle child (select, epoll: the thundering herd; the losers get EAGAIN), or the
// first idle child in the listener's wait queue (epoll-exclusive).
// Watch: the counts printed on SIGINT, "accept() returned EAGAIN K times" after them,
// and the children's context switches (grep ctxt /proc/PID/status).
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/types.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "protocols.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"
#include "workers.hpp"

namespace {

using namespace csd::impl;

enum class Wait { accept, select, epoll, epoll_exclusive };

const std::vector<std::pair<std::string, Wait>> kWaitModes{
    {"accept", Wait::accept},
    {"select", Wait::select},
    {"epoll", Wait::epoll},
    {"epoll-exclusive", Wait::epoll_exclusive}};

bool uses_epoll(Wait mode) { return mode == Wait::epoll || mode == Wait::epoll_exclusive; }

// The child's own epoll instance watching the listener. Made after fork():
// an instance created before would be one interest list shared by every
// child, woken as a single waiter, and a different design.
csd::Fd epoll_on_listener(int listen_fd, bool exclusive) {
  csd::Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll)
    throw syscall_error("epoll_create1");
  epoll_event ev{};
  ev.events = exclusive ? EPOLLIN | EPOLLEXCLUSIVE : EPOLLIN;
  ev.data.fd = listen_fd;
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, listen_fd, &ev) < 0)
    throw syscall_error(exclusive ? "epoll_ctl EPOLLEXCLUSIVE" : "epoll_ctl");
  return epoll;
}

// Returns when it is worth calling accept(): at once in accept mode, where
// accept() itself is the wait, else once the listener is readable.
void wait_for_connection(Wait mode, int listen_fd, int epoll_fd) {
  switch (mode) {
    case Wait::accept:
      return;
    case Wait::select: {
      fd_set readable;
      FD_ZERO(&readable);
      FD_SET(listen_fd, &readable);  // a listener made first thing is far below FD_SETSIZE
      Select(listen_fd + 1, &readable, nullptr, nullptr);
      return;
    }
    case Wait::epoll:
    case Wait::epoll_exclusive: {
      std::array<epoll_event, 1> ready{};
      EpollWait(epoll_fd, ready);
      return;
    }
  }
}

// Child `slot`: wait, accept, count, serve, forever. The kernel decides which
// child gets each connection. SIGTERM (default action) ends it.
[[noreturn]] void child_main(std::size_t slot, int listen_fd, Wait mode, SharedCounters& counts,
                             std::atomic<uint64_t>& eagain, const Options& opts) {
  const csd::Fd epoll =
      uses_epoll(mode) ? epoll_on_listener(listen_fd, mode == Wait::epoll_exclusive) : csd::Fd{};
  for (;;) {
    wait_for_connection(mode, listen_fd, epoll.get());
    errno = 0;
    csd::Fd conn = accept_connection(listen_fd);
    if (!conn) {
      // Woken for a connection another child took first: the herd's cost.
      if (errno == EAGAIN)
        eagain.fetch_add(1, std::memory_order_relaxed);  // EWOULDBLOCK is EAGAIN on Linux
      continue;
    }
    counts[slot].fetch_add(1, std::memory_order_relaxed);
    serve_blocking(std::move(conn), opts.protocol, opts.max_bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Wait mode = Wait::accept;
  const Options opts = parse_options(
      {"csd-prefork", "prefork: N children share the listener, each waiting as --wait says", true},
      argc, argv,
      choice_flag("--wait",
                  "How idle children wait: accept (the kernel wakes one), select or epoll "
                  "(it wakes all: the thundering herd), epoll-exclusive (it wakes one)",
                  kWaitModes, mode));
  return run_main("csd-prefork", [&] {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    // Woken by readiness, every child but one finds the queue empty: accept()
    // must then say EAGAIN rather than block that child until the next
    // connection while it should be waiting in select()/epoll_wait().
    if (mode != Wait::accept)
      set_nonblocking(listener.fd.get());
    SharedCounters counts(opts.workers);
    SharedCounters eagain(1);

    run_worker_pool(
        opts.workers,
        [&](std::size_t slot) {
          child_main(slot, listener.fd.get(), mode, counts, eagain[0], opts);
        },
        [&] { announce_listening(listener); });

    print_counts(counts.snapshot());
    if (mode != Wait::accept) {
      fmt::print("accept() returned EAGAIN {} times\n", eagain.snapshot()[0]);
      std::fflush(stdout);
    }
    return 0;
  });
}
