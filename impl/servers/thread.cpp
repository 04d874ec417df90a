// csd-thread: one thread per connection (UNP 30.10).
//
// csd-fork with threads: the main thread accepts, and each connection gets a
// new thread of its own, detached, that serves the client the plain blocking
// way and ends. A thread costs far less than a fork(), and nothing needs
// reaping. What it trades: nothing stops a flood of clients from creating
// threads until memory runs out, so the number at once is bounded by
// --max-threads (default 256); beyond it a new connection is closed at once
// and logged ("refusing connection: 256 threads busy", at most once a
// second), and the client sees a close rather than a hang.
//
// Stopping: the main thread waits with poll() on the listener and the signal
// pipe, like csd-fork. On SIGINT/SIGTERM it shuts down the connections still
// being served (LiveConnections), which wakes their threads, waits until
// every one has let go of its connection, prints the total, and returns.
// Threads are detached, so there is nobody to join; a detached thread that
// is still returning when the process exits is simply ended with it, which
// is harmless once it has finished with its connection.
#include <poll.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <string>
#include <system_error>
#include <thread>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

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

// --max-threads N, this design's own flag, checked like the common ones: bad
// input exits with status 2 ("--max-threads: not an integer from 1 to 100000: 0").
void add_max_threads(CLI::App& app, unsigned& max_threads) {
  const CLI::Validator one_to_max(
      [](const std::string& text) -> std::string {
        const bool digits =
            !text.empty() && text.size() <= 6 && text.find_first_not_of("0123456789") == text.npos;
        const unsigned long n = digits ? std::stoul(text) : 0;
        if (n >= 1 && n <= kMaxMaxThreads)
          return {};
        return fmt::format("not an integer from 1 to {}: {}", kMaxMaxThreads, text);
      },
      "");
  app.add_option("--max-threads", max_threads,
                 "Most connections served at once; beyond it new ones are closed")
      ->capture_default_str()
      ->check(one_to_max);
}

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

// Accepts one connection and starts a thread for it, or refuses it.
// Returns true when a thread was started.
bool accept_and_spawn(int listen_fd, LiveConnections& live, unsigned max_threads,
                      RefusalLog& refusals, const Options& opts) {
  csd::Fd conn = accept_connection(listen_fd);
  if (!conn)
    return false;  // the client gave up, or nothing was there after all
  // Only this thread adds to `live`, so the count cannot grow between here and add().
  if (const std::size_t busy = live.size(); busy >= max_threads) {
    refusals.refused(static_cast<unsigned>(busy));
    return false;  // conn closes: refused
  }
  const int fd = conn.get();
  if (!live.add(fd))
    return false;  // stopping
  try {
    // The thread owns the connection from here; it unregisters it when done.
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
  const Options opts =
      parse_options({"csd-thread",
                     "thread: the main thread accepts, one thread serves each connection; "
                     "--max-threads N (256) bounds them, beyond it new connections are closed"},
                    argc, argv, [&](CLI::App& app) { add_max_threads(app, max_threads); });
  try {
    ignore_sigpipe();
    Listener listener = listen_tcp(opts.host, opts.port);
    // Non-blocking: poll() said readable, but the client may be gone by the
    // time we accept(), and the main thread must not block there.
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM};
    LiveConnections live;
    RefusalLog refusals;
    uint64_t served = 0;
    announce_listening(listener);

    for (;;) {
      std::array<pollfd, 2> fds{{{listener.fd.get(), POLLIN, 0}, {signals.fd(), POLLIN, 0}}};
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR)
          continue;
        throw syscall_error("poll");
      }
      if (fds[1].revents != 0 && signals.drain().stop())
        break;
      if (fds[0].revents != 0 &&
          accept_and_spawn(listener.fd.get(), live, max_threads, refusals, opts))
        ++served;
    }

    live.shutdown_all();  // wakes every thread still serving a client
    live.wait_until_empty();
    // No per-worker table: there is no pool, one thread per connection.
    fmt::print("threads : {} connections served, {} refused\n", served, refusals.total());
    std::fflush(stdout);
    return 0;
  } catch (const std::exception& e) {
    log_message(fmt::format("csd-thread: {}", e.what()));
    return 1;
  }
}
