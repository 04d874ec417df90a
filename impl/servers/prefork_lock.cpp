// csd-prefork-lock: csd-prefork with the children taking turns at accept() under a
// lock (UNP 30.7, serv03.c: --lock fcntl; 30.8, serv04.c: --lock mutex).
// Verify behavior for the sequence: lock, accept(), unlock, serve; only the lock's
// holder is in accept(), the other idle children sleep on the lock.
// Watch: /proc/PID/wchan of the children (one in accept, the others on the lock);
// kill -9 the one in accept() and the pool goes on serving.
// The two locks are lib/accept_lock.hpp, as UNP's are lock_fcntl.c and lock_pthread.c.
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>

#include "accept_lock.hpp"
#include "protocols.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syserr.hpp"
#include "workers.hpp"

namespace {

using namespace csd::impl;

// Child `slot`: lock, accept, unlock, count, serve, forever. Only the lock's
// holder is in accept(). SIGTERM (default action) ends it, and the kernel
// releases a record lock, or marks a robust mutex, that a dead child held.
[[noreturn]] void child_main(std::size_t slot, int listen_fd, AcceptLock& lock,
                             SharedCounters& counts, const Options& opts) {
  for (;;) {
    csd::Fd conn;
    {
      const std::lock_guard hold(lock);
      conn = accept_connection(listen_fd);
    }
    if (!conn)
      continue;
    counts[slot].fetch_add(1, std::memory_order_relaxed);
    serve_blocking(std::move(conn), opts.protocol, opts.max_bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  AcceptLockKind lock_kind = AcceptLockKind::fcntl;
  const Options opts = parse_options(
      {"csd-prefork-lock",
       "prefork-lock: N children share the listener and take turns at accept() under a lock", true},
      argc, argv,
      choice_flag("--lock",
                  "fcntl: a record lock on an unlinked temporary file (UNP 30.7); "
                  "mutex: a robust process-shared pthread mutex in shared memory (UNP 30.8)",
                  kAcceptLocks, lock_kind));
  return run_main("csd-prefork-lock", [&] {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    const std::unique_ptr<AcceptLock> lock = make_accept_lock(lock_kind);  // before fork(): shared
    SharedCounters counts(opts.workers);

    run_worker_pool(
        opts.workers,
        [&](std::size_t slot) { child_main(slot, listener.fd.get(), *lock, counts, opts); },
        [&] { announce_listening(listener); });

    print_counts(counts.snapshot());
    return 0;
  });
}
