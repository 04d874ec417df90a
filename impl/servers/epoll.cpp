// csd-epoll: csd-poll with the interest list kept in the kernel: epoll, level-triggered,
// or edge-triggered with --edge (EPOLLET). A round costs O(ready), not O(open).
// Watch: --edge passes every check the default mode passes, because every handler drains
// until EAGAIN; "ET:" marks the places where stopping early would hang a connection.
// More: impl/README.md, "csd-epoll".
#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <unordered_map>
#include <utility>

#include "nonblocking_connection.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"

namespace {

using namespace csd::impl;

// New clients accepted per round at most, to stay fair to the connections
// already open.
constexpr int kAcceptBatch = 64;

// The epoll instance and the connections registered with it (each one's
// state machine is lib/nonblocking_connection's, whose handlers drain until
// EAGAIN as ET needs). The bare-number deadlines are kept in an ordered set,
// so the nearest one, the epoll_wait() timeout, is found without a scan.
class EpollSet {
 public:
  EpollSet(const Options& opts, bool edge_triggered)
      : opts_(opts), edge_(edge_triggered), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epoll_)
      throw syscall_error("epoll_create1");
  }

  [[nodiscard]] int fd() const { return epoll_.get(); }

  void watch(int fd, uint32_t events) { control(EPOLL_CTL_ADD, fd, events); }

  // New clients, at most a batch per round. Returns true once accept() said
  // EAGAIN: the listen queue is empty.
  bool accept_new(int listen_fd) {
    for (int i = 0; i < kAcceptBatch; ++i) {
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
      on_ready(c, true, true, Clock::now());
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

  // epoll_wait() said `fd` is ready. EPOLLHUP/EPOLLERR (always reported)
  // count as both directions: the read or write says what happened.
  void on_event(int fd, uint32_t events, Clock::time_point now) {
    const auto it = conns_.find(fd);
    if (it == conns_.end())
      return;
    on_ready(it->second.c, (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0,
             (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0, now);
    settle(it);
  }

  // Bare digits and nothing more for 50 ms: the digits are the request.
  void expire_deadlines(Clock::time_point now) {
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      const int fd = deadlines_.begin()->second;
      deadlines_.erase(deadlines_.begin());
      const auto it = conns_.find(fd);
      if (it == conns_.end())
        continue;
      it->second.queued_deadline.reset();
      on_grace_expired(it->second.c);
      settle(it);
    }
  }

  // Until the nearest deadline, rounded up so we never wake a little early
  // and spin; -1 for none.
  [[nodiscard]] int until_nearest_deadline_ms() const {
    if (deadlines_.empty())
      return -1;
    const auto wait = std::max(Clock::duration::zero(), deadlines_.begin()->first - Clock::now());
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count());
  }

 private:
  // A connection and what the set keeps about it.
  struct Watched {
    Watched(csd::Fd fd, const Options& opts) : c(std::move(fd), opts) {}

    Connection c;
    uint32_t registered = 0;  // level-triggered: the events epoll watches for it
    std::optional<Clock::time_point> queued_deadline;  // its entry in deadlines_
  };
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

  // After a connection made progress: close it, or keep its deadline and
  // (level-triggered) its interest up to date. Level-triggered, an interest
  // left behind the state machine is a busy loop: a connection with nothing
  // to write would report EPOLLOUT forever.
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

  const Options& opts_;
  const bool edge_;
  csd::Fd epoll_;
  Connections conns_;
  std::set<std::pair<Clock::time_point, int>> deadlines_;  // (deadline, descriptor), nearest first
};

}  // namespace

int main(int argc, char** argv) {
  bool edge = false;
  const Options opts = parse_options(
      {"csd-epoll",
       "epoll: one process multiplexes every connection with epoll "
       "(level-triggered; --edge: edge-triggered)"},
      argc, argv,
      switch_flag("--edge", "Edge-triggered (EPOLLET): every handler drains until EAGAIN", edge));
  return run_main("csd-epoll", [&] {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM};
    EpollSet set(opts, edge);
    set.watch(listener.fd.get(), edge ? EPOLLIN | EPOLLET : EPOLLIN);
    set.watch(signals.fd(), EPOLLIN);  // level-triggered always: drain() empties it
    announce_listening(listener);

    std::array<epoll_event, 256> events{};
    bool accept_pending = false;  // the listener was ready and accept() has not said EAGAIN since
    for (;;) {
      const int ready =
          EpollWait(set.fd(), events, accept_pending ? 0 : set.until_nearest_deadline_ms());
      const auto now = Clock::now();
      for (const epoll_event& ev : std::span(events).first(static_cast<std::size_t>(ready))) {
        if (ev.data.fd == signals.fd()) {
          if (signals.drain().stop())
            return 0;  // open connections close as `set` goes
        } else if (ev.data.fd == listener.fd.get()) {
          accept_pending = true;  // accepted after the connections, like the other designs
        } else {
          set.on_event(ev.data.fd, ev.events, now);
        }
      }
      set.expire_deadlines(now);
      // ET: the listener's edge is spent. If the batch ran out before EAGAIN,
      // no new edge will announce the clients still queued, so remember them
      // and come back next round without blocking. Level-triggered, epoll
      // reports them again anyway.
      if (accept_pending)
        accept_pending = !set.accept_new(listener.fd.get()) && edge;
    }
  });
}
