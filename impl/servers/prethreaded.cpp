// csd-prethreaded: a pool of threads taking turns at accept() under a mutex
// (UNP 30.11, serv07.c).
// Verify behavior for the sequence: lock, wait for the listener, accept(), unlock,
// serve; only the mutex's holder waits on the listener, so one connection wakes
// one thread.
// Watch: the counts printed on SIGINT ("thread N : K times"), close to equal; a
// stop wakes every thread at once (a stop pipe, and shutdown() on live connections).
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "protocols.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"
#include "threads.hpp"

namespace {

using namespace csd::impl;

// Everything the threads share. The listener is non-blocking: a client that
// gave up between poll() and accept() must not leave a thread (holding the
// mutex) stuck in accept().
struct Pool {
  Pool(const Options& o, int listener, std::size_t workers)
      : opts(o), listen_fd(listener), counts(workers) {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) < 0)
      throw syscall_error("pipe2");
    stop_read.reset(fds[0]);
    stop_write.reset(fds[1]);
  }
  // Also on the way out of an error: the threads are told to stop here, and
  // joined just after, when `threads` (the last member) is destroyed first.
  ~Pool() { stop(); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  void stop() {
    stop_write.reset();   // wakes every thread waiting for a connection
    live.shutdown_all();  // and every thread serving one
  }

  const Options& opts;
  int listen_fd;
  csd::Fd stop_read;  // readable (EOF) once stop_write is closed
  csd::Fd stop_write;
  std::mutex accept_lock;  // UNP's mlock: one thread at a time in accept()
  std::vector<std::atomic<uint64_t>> counts;
  LiveConnections live;
  std::vector<std::jthread> threads;
};

// With the mutex held: waits for a connection or the stop, and accepts.
// Returns the connection, or an invalid Fd (nothing there after all, or
// `stop` was set).
csd::Fd accept_one(Pool& pool, bool& stop) {
  const std::scoped_lock lock(pool.accept_lock);
  std::array<pollfd, 2> fds{{{pool.listen_fd, POLLIN, 0}, {pool.stop_read.get(), POLLIN, 0}}};
  Poll(fds);
  if (fds[1].revents != 0) {
    stop = true;
    return {};
  }
  return accept_connection(pool.listen_fd);
}

// Thread `slot`: accept (one thread at a time), count, serve, until stopped.
void worker(Pool& pool, std::size_t slot) {
  bool stop = false;
  while (!stop) {
    csd::Fd conn = accept_one(pool, stop);
    if (!conn)
      continue;
    pool.counts[slot].fetch_add(1, std::memory_order_relaxed);
    if (pool.live.add(conn.get()))
      serve_registered(pool.live, std::move(conn), pool.opts.protocol, pool.opts.max_bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-prethreaded",
       "prethreaded: N threads share the listener, taking turns in accept() under a mutex", true},
      argc, argv);
  return run_main("csd-prethreaded", [&] {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM};
    Pool pool(opts, listener.fd.get(), opts.workers);
    {
      const StopSignalsBlocked blocked;  // the threads inherit the mask: signals go to main only
      for (std::size_t slot = 0; slot < opts.workers; ++slot)
        pool.threads.emplace_back(worker, std::ref(pool), slot);
    }
    announce_listening(listener);

    // The main thread's only job now: wait for SIGINT/SIGTERM.
    while (!signals.wait().stop()) {
    }

    pool.stop();
    pool.threads.clear();  // joins them
    print_thread_counts(pool.counts);
    return 0;
  });
}
