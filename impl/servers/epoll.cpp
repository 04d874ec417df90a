// csd-epoll: one process, one epoll loop, every socket non-blocking (the
// Linux answer to select()/poll()'s O(connections) cost per wake-up).
//
// The design is csd-select's and csd-poll's: one process, a small state
// machine per connection (read the request, write the reply / echo what came
// in), replies written as the socket's write space allows, so one slow reader
// never stalls the others. What changes is how interest is kept: the kernel
// holds the interest list (epoll_ctl once per change, not the whole set on
// every call), and epoll_wait() returns only the descriptors that are ready.
// A round costs O(ready), not O(open). The bare-number grace deadlines are
// kept in an ordered set for the same reason: the nearest one is the
// epoll_wait() timeout, found without scanning every connection.
//
// Two ways to be told about readiness:
//
//   level-triggered (default): "this descriptor is readable/writable now",
//     reported on every epoll_wait() for as long as it is true. The interest
//     must follow the state machine (EPOLL_CTL_MOD), like the sets select()
//     rebuilds, or a socket with nothing to write would report EPOLLOUT
//     forever: a busy loop.
//
//   edge-triggered (--edge, EPOLLET): "this descriptor *became* ready",
//     reported once per change. Each connection is registered once for
//     both directions and never modified, but then every handler must drain:
//     accept until EAGAIN, read until EAGAIN, write until EAGAIN. Stop early
//     and the data still waiting produces no new edge: the connection hangs
//     forever with its bytes in the kernel. That is the classic ET bug; the
//     places where it matters are marked "ET:".
//
// The connection handlers (lib/nonblocking_connection) drain in both modes
// (harmless when level-triggered), so the two differ only in how descriptors
// are registered.
#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <exception>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>
#include <utility>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "nonblocking_connection.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syserr.hpp"

namespace {

using namespace csd::impl;

// New clients accepted per round at most, to stay fair to the connections
// already open.
constexpr int kAcceptBatch = 64;

// A connection (lib/nonblocking_connection.hpp: the state machine every
// event-loop design shares; its handlers drain until EAGAIN, as ET needs)
// and what this loop keeps about it.
struct Watched {
  Watched(csd::Fd fd, const Options& opts) : c(std::move(fd), opts) {}

  Connection c;
  uint32_t registered = 0;  // level-triggered: the events epoll watches for it
  std::optional<Clock::time_point> queued_deadline;  // its entry in the server's deadline set
};

// ---- The loop.

class EpollServer {
 public:
  EpollServer(const Options& opts, bool edge_triggered)
      : opts_(opts), edge_(edge_triggered), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epoll_)
      throw syscall_error("epoll_create1");
  }

  // The listener follows the mode. The signal pipe is always level-triggered:
  // drain() empties it, and there is no edge to lose.
  void watch_listener(int fd) { control(EPOLL_CTL_ADD, fd, edge_ ? EPOLLIN | EPOLLET : EPOLLIN); }
  void watch_signals(int fd) { control(EPOLL_CTL_ADD, fd, EPOLLIN); }

  // Serves until SIGINT/SIGTERM.
  void run(int listen_fd, SignalPipe& signals) {
    std::array<epoll_event, 256> events{};
    for (;;) {
      const int ready = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                                     next_timeout_ms());
      if (ready < 0) {
        if (errno == EINTR)
          continue;
        throw syscall_error("epoll_wait");
      }
      const auto now = Clock::now();
      for (const epoll_event& ev : std::span(events).first(static_cast<std::size_t>(ready))) {
        if (ev.data.fd == signals.fd()) {
          if (signals.drain().stop())
            return;
        } else if (ev.data.fd == listen_fd) {
          accept_pending_ = true;  // accepted after the connections, like the other designs
        } else if (auto it = conns_.find(ev.data.fd); it != conns_.end()) {
          on_event(it->second.c, ev.events, now);
          settle(it);
        }
      }
      expire_deadlines(now);
      if (accept_pending_) {
        const bool drained = accept_new(listen_fd);
        // ET: the listener's edge is spent. If the batch ran out before
        // EAGAIN, no new edge will announce the connections still queued, so
        // remember them ourselves and come back next round (timeout 0).
        // Level-triggered, epoll reports them again anyway.
        accept_pending_ = edge_ && !drained;
      }
    }
  }

 private:
  using Connections = std::unordered_map<int, Watched>;  // by descriptor

  void control(int op, int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), op, fd, &ev) < 0)
      throw syscall_error("epoll_ctl");
  }

  // What the state machine wants watched now (level-triggered only).
  static uint32_t interest(const Connection& c) {
    return (c.wants_read() ? uint32_t{EPOLLIN} : 0U) | (c.wants_write() ? uint32_t{EPOLLOUT} : 0U);
  }

  // New clients, at most a batch per round to stay fair to the connections
  // already open. Returns true once accept() said EAGAIN: the queue is empty.
  bool accept_new(int listen_fd) {
    for (int i = 0; i < kAcceptBatch; ++i) {
      errno = 0;
      csd::Fd conn = accept_connection(listen_fd, ConnectionMode::nonblocking);
      if (!conn) {
        if (errno == EAGAIN)
          return true;  // ET: this, and only this, ends the drain
        if (errno == EMFILE || errno == ENFILE)
          return false;  // out of descriptors: retry next round
        continue;  // a client that gave up before we got to it (ECONNABORTED...): the next one
      }
      const int fd = conn.get();
      const auto it = conns_.try_emplace(fd, std::move(conn), opts_).first;
      Connection& c = it->second.c;
      // Served at once as far as it can be: the request has usually arrived
      // with the handshake, and a short reply then leaves before the
      // descriptor ever enters the epoll set. ET: this reads until EAGAIN.
      on_event(c, EPOLLIN | EPOLLOUT, Clock::now());
      if (!c.done) {
        if (edge_) {
          // ET: both directions once, for good. EPOLLRDHUP: a half-close is an edge too.
          control(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
        } else {
          it->second.registered = interest(c);
          control(EPOLL_CTL_ADD, fd, it->second.registered);
        }
        // Whatever arrived since the read above is reported at once:
        // EPOLL_CTL_ADD checks readiness, in both modes, so no edge is lost.
      }
      settle(it);
    }
    return false;  // batch used up: there may be more
  }

  // EPOLLHUP/EPOLLERR (always reported) count as both: the read or write says what happened.
  static void on_event(Connection& c, uint32_t events, Clock::time_point now) {
    on_ready(c, (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0,
             (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0, now);
  }

  // After a connection made progress: close it, or keep its deadline and
  // (level-triggered) its interest up to date.
  void settle(Connections::iterator it) {
    Watched& w = it->second;
    const Connection& c = w.c;
    const int fd = it->first;
    const auto wanted = c.done ? std::nullopt : c.grace_deadline;
    if (wanted != w.queued_deadline) {
      if (w.queued_deadline)
        deadlines_.erase({*w.queued_deadline, fd});
      if (wanted)
        deadlines_.emplace(*wanted, fd);
      w.queued_deadline = wanted;
    }
    if (c.done) {
      conns_.erase(it);  // closing the descriptor also removes it from the epoll set
      return;
    }
    if (!edge_) {
      if (const uint32_t want = interest(c); want != w.registered) {
        control(EPOLL_CTL_MOD, fd, want);
        w.registered = want;
      }
    }
  }

  // Bare digits and nothing more for 50 ms: the digits are the request.
  void expire_deadlines(Clock::time_point now) {
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      const int fd = deadlines_.begin()->second;
      deadlines_.erase(deadlines_.begin());
      auto it = conns_.find(fd);
      if (it == conns_.end())
        continue;
      it->second.queued_deadline.reset();
      on_grace_expired(it->second.c);
      settle(it);
    }
  }

  // epoll_wait()'s timeout: none while clients wait to be accepted (ET), else until the nearest
  // deadline (rounded up, so we never wake a little early and spin), or -1 for none.
  [[nodiscard]] int next_timeout_ms() const {
    if (accept_pending_)
      return 0;
    if (deadlines_.empty())
      return -1;
    const auto wait = std::max(Clock::duration::zero(), deadlines_.begin()->first - Clock::now());
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
  }

  const Options& opts_;
  const bool edge_;
  csd::Fd epoll_;
  Connections conns_;
  bool accept_pending_ = false;  // the listener reported ready and we have not seen EAGAIN since
  std::set<std::pair<Clock::time_point, int>>
      deadlines_;  // (grace deadline, descriptor), nearest first
};

}  // namespace

int main(int argc, char** argv) {
  bool edge = false;
  const Options opts =
      parse_options({"csd-epoll",
                     "epoll: one process multiplexes every connection with epoll "
                     "(level-triggered; --edge: edge-triggered)"},
                    argc, argv, [&](CLI::App& app) {
                      app.add_flag("--edge", edge,
                                   "Edge-triggered (EPOLLET): every handler drains until EAGAIN")
                          ->disable_flag_override();  // a switch: no --edge=VALUE
                    });
  try {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port);
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM};
    EpollServer server(opts, edge);
    server.watch_listener(listener.fd.get());
    server.watch_signals(signals.fd());
    announce_listening(listener);
    server.run(listener.fd.get(), signals);
    return 0;  // open connections close as the server goes
  } catch (const std::exception& e) {
    log_message(fmt::format("csd-epoll: {}", e.what()));
    return 1;
  }
}
