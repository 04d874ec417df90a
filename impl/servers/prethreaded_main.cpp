// csd-prethreaded-main: the main thread accepts and hands each connection to a pool
// of -n threads through a bounded queue and a condition variable (UNP 30.12, serv08.c).
// Verify behavior for the sequence: accept(), push under the mutex, signal the
// condition; a waiting thread pops the descriptor and serves it.
// Watch: while the queue is full (32, UNP's MAXNCLI) the main thread stops polling
// the listener and clients wait in the listen queue; counts on SIGINT ("thread N").
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <deque>
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

// UNP's MAXNCLI: accepted connections waiting for a thread.
constexpr std::size_t kQueueCapacity = 32;

// The hand-off (UNP's clifd[], iget, iput): a bounded FIFO of accepted
// connections, a mutex, and a condition variable for "not empty".
class ConnectionQueue {
 public:
  ConnectionQueue() {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_NONBLOCK | O_CLOEXEC) < 0)
      throw syscall_error("pipe2");
    room_read_.reset(fds[0]);
    room_write_.reset(fds[1]);
  }

  // Readable when a thread made room in a full queue; see drain_room().
  [[nodiscard]] int room_fd() const { return room_read_.get(); }
  void drain_room() {
    std::array<char, 64> buf{};
    while (Read(room_read_.get(), buf) > 0) {
    }
  }

  // Main thread (the only producer): call only while the last push() did
  // not return true, or after the room pipe said a thread made room. Returns
  // whether the queue is now full: the main thread learns it here, under the
  // lock it takes anyway, instead of locking again to ask before every poll().
  [[nodiscard]] bool push(csd::Fd conn) {
    bool now_full = false;
    {
      const std::scoped_lock lock(mutex_);
      queue_.push_back(std::move(conn));
      now_full = queue_.size() >= kQueueCapacity;
    }
    not_empty_.notify_one();
    return now_full;
  }

  // Pool threads: waits for a connection. An invalid Fd means stop.
  csd::Fd pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [this] { return closed_ || !queue_.empty(); });
    if (closed_)
      return {};
    const bool was_full = queue_.size() >= kQueueCapacity;
    csd::Fd conn = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    if (was_full)  // non-blocking: if the pipe is full, a wake-up is pending anyway
      Write(room_write_.get(), "1");
    return conn;
  }

  // Stopping: every pop() returns an invalid Fd from now on. Connections
  // still queued were never served; they are closed.
  void close() {
    {
      const std::scoped_lock lock(mutex_);
      closed_ = true;
      queue_.clear();
    }
    not_empty_.notify_all();
  }

 private:
  std::mutex mutex_;  // guards queue_ and closed_
  std::condition_variable not_empty_;
  std::deque<csd::Fd> queue_;
  bool closed_ = false;
  csd::Fd room_read_;
  csd::Fd room_write_;
};

// Everything the threads share.
struct Pool {
  explicit Pool(const Options& o) : opts(o), counts(o.workers) {}
  // Also on the way out of an error: the threads are told to stop here, and
  // joined just after, when `threads` (the last member) is destroyed first.
  ~Pool() { stop(); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  void stop() {
    queue.close();        // wakes every thread waiting for a connection
    live.shutdown_all();  // and every thread serving one
  }

  const Options& opts;
  ConnectionQueue queue;
  std::vector<std::atomic<uint64_t>> counts;
  LiveConnections live;
  std::vector<std::jthread> threads;
};

// Thread `slot`: take a connection from the queue, count, serve, until stopped.
void worker(Pool& pool, std::size_t slot) {
  for (;;) {
    csd::Fd conn = pool.queue.pop();
    if (!conn)
      return;
    pool.counts[slot].fetch_add(1, std::memory_order_relaxed);
    if (pool.live.add(conn.get()))
      serve_registered(pool.live, std::move(conn), pool.opts.protocol, pool.opts.max_bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-prethreaded-main",
       "prethreaded-main: the main thread accepts, N threads take connections from a queue", true},
      argc, argv);
  return run_main("csd-prethreaded-main", [&] {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    // Non-blocking: poll() said readable, but the client may be gone by the
    // time we accept(), and the main thread must not block there.
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM};
    Pool pool(opts);
    {
      const StopSignalsBlocked blocked;  // the threads inherit the mask: signals go to main only
      for (std::size_t slot = 0; slot < opts.workers; ++slot)
        pool.threads.emplace_back(worker, std::ref(pool), slot);
    }
    announce_listening(listener);

    bool full = false;  // as the last push() or the room pipe said
    for (;;) {
      // A full queue: leave new clients in the listen queue (fd -1 is ignored by poll).
      const int listen_fd = full ? -1 : listener.fd.get();
      std::array<pollfd, 3> fds{
          {{signals.fd(), POLLIN, 0}, {pool.queue.room_fd(), POLLIN, 0}, {listen_fd, POLLIN, 0}}};
      Poll(fds);
      if (fds[0].revents != 0 && signals.drain().stop())
        break;
      if (fds[1].revents != 0) {
        pool.queue.drain_room();
        full = false;  // a thread took one from the full queue
      }
      // Under load several clients wait in the listen queue: take them all
      // (until it is empty or the queue is full), not one per poll().
      if (fds[2].revents != 0) {
        while (!full) {
          csd::Fd conn = accept_connection(listener.fd.get());
          if (!conn)
            break;
          full = pool.queue.push(std::move(conn));
        }
      }
    }

    pool.stop();
    pool.threads.clear();  // joins them
    print_thread_counts(pool.counts);
    return 0;
  });
}
