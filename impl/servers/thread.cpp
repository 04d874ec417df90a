// csd-thread: the main thread accepts, and each connection gets a thread (UNP 30.10, serv06.c).
// Watch: one thread per open connection (ls /proc/PID/task), up to --max-threads (256);
// beyond it a new connection is closed at once ("refusing connection: 256 threads busy").
// More: impl/README.md, "csd-thread" and "Stopping threads".
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <system_error>
#include <thread>

#include <fmt/core.h>

#include "protocols.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syserr.hpp"
#include "threads.hpp"

namespace {

using namespace csd::impl;
using Clock = std::chrono::steady_clock;

constexpr unsigned kDefaultMaxThreads = 256;
constexpr unsigned kMaxMaxThreads = 100000;

// "refusing connection: 256 threads busy", at most once a second, so a
// flood of refusals cannot flood stderr too. Main thread only.
class RefusalLog {
 public:
  void refused(unsigned busy) {
    ++refused_total_;
    ++since_last_;
    const auto now = Clock::now();
    if (logged_ && now - last_ < std::chrono::seconds{1})
      return;
    const std::string more =
        since_last_ > 1 ? fmt::format(" ({} refused since the last report)", since_last_) : "";
    log_message(fmt::format("refusing connection: {} threads busy{}", busy, more));
    logged_ = true;
    last_ = now;
    since_last_ = 0;
  }
  [[nodiscard]] uint64_t total() const { return refused_total_; }

 private:
  bool logged_ = false;
  Clock::time_point last_{};
  uint64_t since_last_ = 0;
  uint64_t refused_total_ = 0;
};

// The connection's own thread, detached: it serves the client and ends,
// removing the connection from `live` before it closes it. Returns false
// when there is none: the server is stopping, or the thread could not start
// (reported); the client is dropped.
bool serve_in_thread(LiveConnections& live, csd::Fd conn, const Options& opts) {
  const int fd = conn.get();
  if (!live.add(fd))
    return false;  // stopping
  try {
    std::jthread(serve_registered, std::ref(live), std::move(conn), opts.protocol, opts.max_bytes)
        .detach();
    return true;
  } catch (const std::system_error& e) {
    live.remove(fd);  // conn was already closed with the failed thread's arguments
    log_message(fmt::format("std::thread: {}", e.code().message()));
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned max_threads = kDefaultMaxThreads;
  const Options opts = parse_options(
      {"csd-thread",
       "thread: the main thread accepts, one thread serves each connection; "
       "--max-threads N (256) bounds them, beyond it new connections are closed"},
      argc, argv,
      number_flag("--max-threads", "Most connections served at once; beyond it new ones are closed",
                  max_threads, 1, kMaxMaxThreads));
  return run_main("csd-thread", [&] {
    ignore_sigpipe();
    Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    // poll() said readable, but the client may be gone by the time we
    // accept(): the main thread must not block there.
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM};
    LiveConnections live;
    RefusalLog refusals;
    uint64_t served = 0;
    announce_listening(listener);

    for (;;) {
      const Wakeup woke = wait_readable(listener.fd.get(), signals);
      if (woke.signals.stop())
        break;
      if (!woke.readable)
        continue;
      csd::Fd conn = accept_connection(listener.fd.get());
      if (!conn)
        continue;  // the client gave up, or another error (reported)
      // Only this thread adds to `live`, so the count cannot grow before serve_in_thread().
      if (const std::size_t busy = live.size(); busy >= max_threads) {
        refusals.refused(static_cast<unsigned>(busy));
        continue;  // conn closes: refused
      }
      if (serve_in_thread(live, std::move(conn), opts))
        ++served;
    }

    live.shutdown_all();  // wakes every thread still serving a client
    live.wait_until_empty();
    // No per-worker table: there is no pool, one thread per connection.
    fmt::print("threads : {} connections served, {} refused\n", served, refusals.total());
    std::fflush(stdout);
    return 0;
  });
}
