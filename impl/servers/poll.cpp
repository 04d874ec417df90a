// csd-poll: one process, one poll() loop, every socket non-blocking (UNP
// 6.11, the single-process server redone with poll()).
//
// The same design as csd-select, with the same per-connection state machine
// (read the request, write the reply / echo what came in), but the interest
// set is an array of struct pollfd instead of two fd_set bitmaps. That buys
// two things: no FD_SETSIZE limit (any descriptor number can be watched), and
// the kernel reports per descriptor (revents) rather than overwriting the
// caller's sets. What it does not buy: every round still hands the kernel the
// whole array and scans all of it afterwards, O(connections) per wake-up,
// however few of them are ready. That is what epoll fixes (csd-epoll).
//
// Replies go out as the socket's write space allows, through POLLOUT, so one
// slow reader never stalls the others. The size protocol's bare-number grace
// (digits without a newline are a request once nothing more arrives for
// 50 ms) is a per-connection deadline; the poll() timeout is the nearest one.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "nonblocking_connection.hpp"
#include "protocols.hpp"
#include "request_reader.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
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
  try {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port);
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM};
    Connections conns;
    std::vector<pollfd>
        fds;  // rebuilt every round: [listener, signal pipe, one per connection in map order]
    announce_listening(listener);

    for (;;) {
      fds.clear();
      fds.push_back({listener.fd.get(), POLLIN, 0});
      fds.push_back({signals.fd(), POLLIN, 0});
      for (const auto& [fd, c] : conns) fds.push_back({fd, interest(c), 0});
      const int timeout_ms = next_timeout_ms(conns, Clock::now());

      if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
        if (errno == EINTR)
          continue;
        throw syscall_error("poll");
      }
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
  } catch (const std::exception& e) {
    log_message(fmt::format("csd-poll: {}", e.what()));
    return 1;
  }
}
