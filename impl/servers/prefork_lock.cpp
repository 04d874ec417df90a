// csd-prefork-lock: csd-prefork with the children taking turns at accept() under a
// lock (UNP 30.7, serv03.c: --lock fcntl; 30.8, serv04.c: --lock mutex).
// Verify behavior for the sequence: lock, accept(), unlock, serve; only the lock's
// holder is in accept(), the other idle children sleep on the lock.
// Watch: /proc/PID/wchan of the children (one in accept, the others on the lock);
// kill -9 the one in accept() and the pool goes on serving.
#include <fcntl.h>
#include <pthread.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "protocols.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"
#include "workers.hpp"

namespace {

using namespace csd::impl;

// What the children hold around accept(). Made by the parent before fork(),
// used by the children. lock() and unlock() make it usable with std::lock_guard;
// lock() throws when it fails, unlock() (run from a destructor) logs.
class AcceptLock {
 public:
  AcceptLock() = default;
  AcceptLock(const AcceptLock&) = delete;
  AcceptLock& operator=(const AcceptLock&) = delete;
  virtual ~AcceptLock() = default;
  virtual void lock() = 0;
  virtual void unlock() = 0;
};

// UNP 30.7: a write lock on the whole of an unlinked temporary file.
class FcntlLock final : public AcceptLock {
 public:
  FcntlLock() {
    const char* dir = std::getenv("TMPDIR");
    std::string path =
        fmt::format("{}/csd-prefork-lock.XXXXXX", dir != nullptr && *dir != '\0' ? dir : "/tmp");
    file_.reset(::mkostemp(path.data(), O_CLOEXEC));
    if (!file_)
      throw syscall_error("mkostemp " + path);
    ::unlink(path.c_str());  // the open descriptor keeps the file; its name is not needed
  }

  void lock() override {
    if (!set(F_WRLCK))
      throw syscall_error("fcntl F_SETLKW F_WRLCK");
  }
  void unlock() override {
    if (!set(F_UNLCK))
      log_errno("fcntl F_SETLKW F_UNLCK");
  }

 private:
  bool set(short type) {
    flock lk{};
    lk.l_type = type;
    lk.l_whence = SEEK_SET;  // l_start 0, l_len 0: the whole file
    return restart_on_eintr([&] { return ::fcntl(file_.get(), F_SETLKW, &lk); }) == 0;
  }

  csd::Fd file_;
};

// UNP 30.8: a process-shared, robust pthread mutex in shared memory.
class MutexLock final : public AcceptLock {
 public:
  MutexLock() : mutex_(static_cast<pthread_mutex_t*>(map_shared(sizeof(pthread_mutex_t)))) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    const int rc = pthread_mutex_init(mutex_, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0) {
      unmap_shared(mutex_, sizeof(pthread_mutex_t));
      throw syscall_error("pthread_mutex_init", rc);
    }
  }

  ~MutexLock() override {
    pthread_mutex_destroy(mutex_);
    unmap_shared(mutex_, sizeof(pthread_mutex_t));
  }

  void lock() override {
    const int rc = pthread_mutex_lock(mutex_);
    if (rc == EOWNERDEAD) {
      // The previous holder died holding it (the parent logs the death).
      // accept() keeps no state under the lock, so there is nothing to
      // repair: just declare the mutex usable again, or the next unlock
      // would leave it unrecoverable. Not logged: at shutdown the holder is
      // often killed first and a waiter gets here before its own SIGTERM.
      if (const int err = pthread_mutex_consistent(mutex_); err != 0)
        throw syscall_error("pthread_mutex_consistent", err);
    } else if (rc != 0) {
      throw syscall_error("pthread_mutex_lock", rc);
    }
  }

  void unlock() override {
    if (const int rc = pthread_mutex_unlock(mutex_); rc != 0)
      log_error("pthread_mutex_unlock", rc);
  }

 private:
  pthread_mutex_t* mutex_ = nullptr;
};

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

enum class Lock { fcntl, mutex };

const std::vector<std::pair<std::string, Lock>> kLocks{{"fcntl", Lock::fcntl},
                                                       {"mutex", Lock::mutex}};

std::unique_ptr<AcceptLock> make_lock(Lock kind) {
  if (kind == Lock::mutex)
    return std::make_unique<MutexLock>();
  return std::make_unique<FcntlLock>();
}

}  // namespace

int main(int argc, char** argv) {
  Lock lock_kind = Lock::fcntl;
  const Options opts = parse_options(
      {"csd-prefork-lock",
       "prefork-lock: N children share the listener and take turns at accept() under a lock", true},
      argc, argv,
      choice_flag("--lock",
                  "fcntl: a record lock on an unlinked temporary file (UNP 30.7); "
                  "mutex: a robust process-shared pthread mutex in shared memory (UNP 30.8)",
                  kLocks, lock_kind));
  try {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    const std::unique_ptr<AcceptLock> lock = make_lock(lock_kind);  // before fork(): shared
    SharedCounters counts(opts.workers);

    run_worker_pool(
        opts.workers,
        [&](std::size_t slot) { child_main(slot, listener.fd.get(), *lock, counts, opts); },
        [&] { announce_listening(listener); });

    print_counts(counts.snapshot());
    return 0;
  } catch (const std::exception& e) {
    log_message(fmt::format("csd-prefork-lock: {}", e.what()));
    return 1;
  }
}
