// csd-prefork: a pool of children that each call accept() on the shared
// listener (UNP 30.6, no locking around accept).
//
// The parent creates the listener and forks -n children up front; from then
// on the kernel hands each new connection to one of the idle children, and
// the parent only looks after the pool. No fork() per client, but only -n
// clients are served at once: the rest wait in the listen queue. How evenly
// the kernel spreads connections over the children is what the per-child
// counts show when the server stops.
//
// --wait says how an idle child waits for the next connection, and so whom
// the kernel wakes when one arrives:
//
//   accept (default): blocked in accept(). The kernel queues the sleepers
//     and wakes exactly one per connection, the one that has waited longest,
//     so the counts come out close to equal. (Stevens saw every child woken,
//     the "thundering herd"; Linux has woken one here for a long time.)
//
//   select, epoll: blocked in select() / epoll_wait() on the listener
//     (level-triggered, each child with an epoll instance of its own), then
//     accept(). Readiness is announced to every waiter, so every idle child
//     wakes for every connection: the herd is back. One wins the accept();
//     the others find the queue empty, so the listener is non-blocking and
//     they get EAGAIN and go back to waiting. Wasted wake-ups, not errors.
//
//   epoll-exclusive: epoll with EPOLLEXCLUSIVE (Linux 4.5+), which tells the
//     kernel to wake one of the exclusive waiters, not all. The herd is gone,
//     but the kernel takes the first idle child in the listener's wait
//     queue, not the one idle longest, so the same few children get most of
//     the connections and, at low load, some get none.
//
// What to watch: the per-child counts, the line "accept() returned EAGAIN K
// times" printed after them in the three non-accept modes (how many woken
// children found nothing to accept), and each child's context switches
// (grep ctxt /proc/PID/status), about one per connection per idle child
// under select and epoll.
//
// The counts live in MAP_SHARED mappings made before the fork; each child
// only ever increments its own slot (and the shared EAGAIN counter),
// atomically, and the parent reads them after the children are gone.
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "protocols.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
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

void wait_in_select(int listen_fd) {
  for (;;) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(listen_fd, &readable);  // a listener made first thing is far below FD_SETSIZE
    if (::select(listen_fd + 1, &readable, nullptr, nullptr, nullptr) > 0)
      return;
    if (errno != EINTR)
      throw syscall_error("select");
  }
}

void wait_in_epoll(int epoll_fd) {
  epoll_event ev{};
  while (::epoll_wait(epoll_fd, &ev, 1, -1) < 1) {
    if (errno != EINTR)
      throw syscall_error("epoll_wait");
  }
}

// Returns when it is worth calling accept(): at once in accept mode, where
// accept() itself is the wait, else once the listener is readable.
void wait_for_connection(Wait mode, int listen_fd, int epoll_fd) {
  switch (mode) {
    case Wait::accept:
      return;
    case Wait::select:
      return wait_in_select(listen_fd);
    case Wait::epoll:
    case Wait::epoll_exclusive:
      return wait_in_epoll(epoll_fd);
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
  try {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port);
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
  } catch (const std::exception& e) {
    log_message(fmt::format("csd-prefork: {}", e.what()));
    return 1;
  }
}
