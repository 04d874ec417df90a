// Ports for servers under test, safe under `ctest -j`: a random port below the
// kernel's ephemeral range (so no client connection can be holding it), free
// when checked by bind(), and locked with flock() on a file under
// $TMPDIR/csd-ports for as long as the lease lives, so that two suites running
// at once never hand out the same one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "fd.hpp"

namespace csd::harness {

class PortLease {
 public:
  [[nodiscard]] uint16_t port() const { return port_; }

  // Throws std::runtime_error when no port could be found after many tries.
  static PortLease acquire(const std::string& host);

  // One attempt at `port`: nullopt if another lease holds its lock or bind()
  // on `host` fails (in use, even by a TIME_WAIT connection).
  static std::optional<PortLease> try_acquire(const std::string& host, uint16_t port);

  // $TMPDIR/csd-ports (or /tmp/csd-ports): where the lock files live.
  static std::filesystem::path lock_dir();

 private:
  PortLease(uint16_t port, Fd lock) : port_(port), lock_(std::move(lock)) {}
  uint16_t port_ = 0;
  Fd lock_;
};

}  // namespace csd::harness
