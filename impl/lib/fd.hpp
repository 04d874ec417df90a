// RAII owner of one file descriptor. Shared by the reference servers, the
// tools and the suite: it is the one low-level helper they may all use.
#pragma once

#include <unistd.h>

#include <utility>

namespace csd {

class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other)
      reset(other.release());
    return *this;
  }
  ~Fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  // Gives up ownership without closing (e.g. after passing it to a child).
  int release() noexcept { return std::exchange(fd_, -1); }

  void reset(int fd = -1) noexcept {
    if (fd_ >= 0)
      ::close(fd_);  // close() errors on a socket are not actionable here
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace csd
