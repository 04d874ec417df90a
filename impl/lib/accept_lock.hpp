// The locks a pool of processes takes turns at accept() under (csd-prefork-lock),
// UNP's my_lock_init/my_lock_wait/my_lock_release in their two versions, each
// kept out of the server's file as the book keeps them out of serv03.c and
// serv04.c: server/lock_fcntl.c (30.7) and server/lock_pthread.c (30.8).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace csd::impl {

// What the children hold around accept(). Made by the parent before fork(),
// used by the children. lock() and unlock() make it usable with std::lock_guard;
// lock() throws std::system_error when it fails, unlock() (run from a
// destructor) logs.
class AcceptLock {
 public:
  AcceptLock() = default;
  AcceptLock(const AcceptLock&) = delete;
  AcceptLock& operator=(const AcceptLock&) = delete;
  virtual ~AcceptLock() = default;
  virtual void lock() = 0;
  virtual void unlock() = 0;
};

enum class AcceptLockKind {
  // UNP 30.7: a write lock (F_SETLKW) on the whole of an unlinked temporary
  // file in $TMPDIR (or /tmp). The kernel drops a dead holder's record lock.
  fcntl,
  // UNP 30.8: a PTHREAD_PROCESS_SHARED mutex in a shared mapping. Robust: the
  // holder is the child in accept(), the likeliest victim of a kill -9, and a
  // plain mutex would stay locked for good.
  mutex,
};

// The names csd-prefork-lock's --lock takes (choice_flag).
inline const std::vector<std::pair<std::string, AcceptLockKind>> kAcceptLocks{
    {"fcntl", AcceptLockKind::fcntl}, {"mutex", AcceptLockKind::mutex}};

// A new lock of `kind`; call before fork(), so every child shares it.
// Throws std::system_error ("mkostemp /tmp/...: ...") if it cannot be made.
std::unique_ptr<AcceptLock> make_accept_lock(AcceptLockKind kind);

}  // namespace csd::impl
