// csd-prefork-lock: csd-prefork with the children taking turns at accept()
// under a lock (UNP 30.7 and 30.8).
//
// Stevens added the lock for two reasons: kernels that woke every child
// blocked in accept() on each connection (the thundering herd), and systems
// where accept() was a library function that broke when several processes
// called it on one socket at once. With the lock, only its holder is in
// accept(); the other idle children sleep on the lock, and each connection
// wakes the holder alone. Linux already wakes one child per connection in
// accept(), so here the lock buys nothing and costs a lock and an unlock per
// connection; what changes is who decides the order in which idle children
// get connections: the lock instead of the listener's queue of sleepers.
//
// --lock fcntl (default, UNP 30.7): a POSIX record lock (F_SETLKW) on a
//   temporary file. The parent creates it and unlinks it at once, so nothing
//   is left behind; the children inherit the open descriptor. Record locks
//   belong to processes, not descriptors, so the children, although they
//   share one open file, exclude each other. The kernel drops a dead
//   process's locks. (Watch the context switches: an unlock sometimes wakes
//   every waiting child, not just the next one.)
//
// --lock mutex (UNP 30.8): a pthread mutex in memory the children share (a
//   MAP_SHARED|MAP_ANONYMOUS mapping made before fork()), PTHREAD_PROCESS_SHARED.
//   It must also be PTHREAD_MUTEX_ROBUST: a child killed while holding it
//   (the one blocked in accept() is the likeliest victim of a kill -9) would
//   otherwise leave it locked forever and the whole pool stuck. Robust, the
//   next locker gets EOWNERDEAD, marks the mutex consistent, and carries on.
//
// A child that dies is replaced in its slot, as in csd-prefork, whichever
// lock it held. The per-child counts are printed on SIGINT/SIGTERM.
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "protocols.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
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
      throw syscall_error("mkstemp " + path);
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
    while (::fcntl(file_.get(), F_SETLKW, &lk) < 0) {
      if (errno != EINTR)
        return false;
    }
    return true;
  }

  csd::Fd file_;
};

// UNP 30.8: a process-shared, robust pthread mutex in shared memory.
class MutexLock final : public AcceptLock {
 public:
  MutexLock() {
    void* mem = ::mmap(nullptr, sizeof(pthread_mutex_t), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
      throw syscall_error("mmap");
    mutex_ = static_cast<pthread_mutex_t*>(mem);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    const int rc = pthread_mutex_init(mutex_, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0) {
      ::munmap(mutex_, sizeof(pthread_mutex_t));
      throw syscall_error("pthread_mutex_init", rc);
    }
  }

  ~MutexLock() override {
    pthread_mutex_destroy(mutex_);
    ::munmap(mutex_, sizeof(pthread_mutex_t));
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

std::unique_ptr<AcceptLock> make_lock(const std::string& kind) {
  if (kind == "mutex")
    return std::make_unique<MutexLock>();
  return std::make_unique<FcntlLock>();
}

}  // namespace

int main(int argc, char** argv) {
  std::string lock_kind = "fcntl";
  const Options opts = parse_options(
      {"csd-prefork-lock",
       "prefork-lock: N children share the listener and take turns at accept() under a lock", true},
      argc, argv, [&](CLI::App& app) {
        app.add_option("--lock", lock_kind,
                       "fcntl: a record lock on an unlinked temporary file (UNP 30.7); "
                       "mutex: a robust process-shared pthread mutex in shared memory (UNP 30.8)")
            ->capture_default_str()
            ->check(CLI::IsMember({"fcntl", "mutex"}));
      });
  try {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port);
    const std::unique_ptr<AcceptLock> lock =
        make_lock(lock_kind);  // before fork(): the children share it
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
