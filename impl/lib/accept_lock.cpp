#include "accept_lock.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <fmt/core.h>

#include "fd.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"
#include "workers.hpp"

namespace csd::impl {

namespace {

// UNP 30.7 (lock_fcntl.c): a write lock on the whole of an unlinked temporary file.
class FcntlLock final : public AcceptLock {
 public:
  FcntlLock() {
    const char* dir = std::getenv("TMPDIR");
    std::string path =
        fmt::format("{}/csd-accept-lock.XXXXXX", dir != nullptr && *dir != '\0' ? dir : "/tmp");
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

// UNP 30.8 (lock_pthread.c): a process-shared, robust pthread mutex in shared memory.
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

}  // namespace

std::unique_ptr<AcceptLock> make_accept_lock(AcceptLockKind kind) {
  if (kind == AcceptLockKind::mutex)
    return std::make_unique<MutexLock>();
  return std::make_unique<FcntlLock>();
}

}  // namespace csd::impl
