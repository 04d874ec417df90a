// csd-poll: csd-select with poll() (UNP 6.11, tcpservpoll01.c): one process, every socket
// non-blocking. Watch: no FD_SETSIZE limit, yet every round still hands the kernel the
// whole pollfd array and scans it all, O(open connections) however few are ready.
// More: impl/README.md, "csd-poll".
#include <poll.h>

#include <chrono>
#include <csignal>
#include <vector>

#include "nonblocking_connection.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"

namespace {

using namespace csd::impl;

// ---- The loop's helpers. (Each connection's state machine, the part every
// event-loop design repeats, is lib/nonblocking_connection.hpp.)

// New clients, as many as are waiting (up to a bound, to stay fair to the
// connections already open). Unlike select(), any descriptor number will do.
void accept_new(int listen_fd, Connections& conns, const Options& opts) {
  for (int i = 0; i < 64; ++i) {
    csd::Fd conn = accept_connection(listen_fd, ConnectionMode::nonblocking);
    if (!conn)
      return;
    add_connection(conns, std::move(conn), opts);
  }
}

// poll()'s timeout in milliseconds: until the nearest bare-number deadline
// (rounded up, so we never wake a little early and spin), or -1 for none.
int next_timeout_ms(const Connections& conns, Clock::time_point now) {
  const auto wait = until_nearest_grace(conns, now);
  return wait ? static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(*wait).count()) : -1;
}

// The events a connection waits for right now.
short interest(const Connection& c) {
  short events = 0;
  if (c.wants_read())
    events |= POLLIN;
  if (c.wants_write())
    events |= POLLOUT;
  return events;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-poll", "poll: one process multiplexes every connection with poll()"}, argc, argv);
  return run_main("csd-poll", [&] {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM};
    Connections conns;
    // Rebuilt every round: [listener, signal pipe, one per connection in map order].
    std::vector<pollfd> fds;
    announce_listening(listener);

    for (;;) {
      fds.clear();
      fds.push_back({listener.fd.get(), POLLIN, 0});
      fds.push_back({signals.fd(), POLLIN, 0});
      for (const auto& [fd, c] : conns) fds.push_back({fd, interest(c), 0});
      const int timeout_ms = next_timeout_ms(conns, Clock::now());

      Poll(fds, timeout_ms);
      if ((fds[1].revents & POLLIN) != 0 && signals.drain().stop())
        break;

      // The map has not changed since the array was built: walk both in step.
      const auto now = Clock::now();
      auto pfd = fds.begin() + 2;
      for (auto& [fd, c] : conns) {
        // POLLHUP/POLLERR (always reported) count as both: the read or write says what happened.
        const short revents = (pfd++)->revents;
        on_ready(c, (revents & (POLLIN | POLLHUP | POLLERR)) != 0 && c.wants_read(),
                 (revents & (POLLOUT | POLLHUP | POLLERR)) != 0 && c.wants_write(), now);
        if (!c.done && c.grace_deadline && *c.grace_deadline <= now) {
          on_grace_expired(c);  // nothing more for 50 ms: the bare digits are the request
        }
      }
      std::erase_if(conns, [](const auto& entry) { return entry.second.done; });
      if ((fds[0].revents & POLLIN) != 0)
        accept_new(listener.fd.get(), conns, opts);
    }
    return 0;  // open connections close as `conns` goes
  });
}
