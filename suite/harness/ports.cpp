#include "ports.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <system_error>

namespace csd::harness {

namespace fs = std::filesystem;

namespace {

constexpr uint16_t kLowestPort = 10000;  // below: well-known and registered services people run
constexpr int kAttempts = 500;

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
};

// Ports a server may take without colliding with the kernel's choice of
// client ports: below the ephemeral range if there is room, else above it.
PortRange candidate_range() {
  int lo = 32768;
  int hi = 60999;
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  if (!(in >> lo >> hi)) {
    lo = 32768;  // the kernel's default, if /proc is not there
    hi = 60999;
  }
  if (lo - 1 >= kLowestPort + 1000)
    return {kLowestPort, static_cast<uint16_t>(lo - 1)};
  if (hi + 1000 <= 65535)
    return {static_cast<uint16_t>(hi + 1), 65535};
  throw std::runtime_error("PortLease: the ephemeral port range " + std::to_string(lo) + "-" +
                           std::to_string(hi) + " leaves no room for server ports");
}

// The first address `host` resolves to (numeric hosts resolve without DNS).
sockaddr_storage resolve(const std::string& host, uint16_t port, socklen_t& len) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    throw std::invalid_argument("PortLease: getaddrinfo(" + host + "): " + ::gai_strerror(rc));
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
  len = found->ai_addrlen;
  ::freeaddrinfo(found);
  return addr;
}

// True if a fresh socket can bind host:port without SO_REUSEADDR: nobody
// listens there and no connection (not even one in TIME_WAIT) uses it.
bool bindable(const std::string& host, uint16_t port) {
  socklen_t len = 0;
  const sockaddr_storage addr = resolve(host, port, len);
  const Fd sock(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock)
    throw std::system_error(errno, std::generic_category(), "PortLease: socket");
  return ::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), len) == 0;
}

// Creates the shared lock directory, writable by every user (sticky, like
// /tmp) so that suites run by different users on one machine coordinate.
void ensure_lock_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 01777) == 0) {
    ::chmod(dir.c_str(), 01777);  // mkdir's mode went through our umask
  } else if (errno != EEXIST) {
    throw std::system_error(errno, std::generic_category(), "PortLease: mkdir " + dir.string());
  }
}

// The lock for `port`, held; an invalid Fd if someone else holds it.
Fd lock_port(const fs::path& dir, uint16_t port) {
  const fs::path file = dir / (std::to_string(port) + ".lock");
  // Read-only is enough for flock(), and lets another user's suite lock a
  // file root made (0644 after the umask). O_CREAT only when it is absent:
  // with fs.protected_regular, O_CREAT on another user's file in a sticky
  // directory is refused even when the file exists.
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  for (int attempt = 0; !fd && errno == ENOENT && attempt < 2; ++attempt) {
    fd.reset(::open(file.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0666));
    if (!fd && errno == EACCES)  // another user created it just now
      fd.reset(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  }
  if (!fd)
    throw std::system_error(errno, std::generic_category(), "PortLease: open " + file.string());
  // flock, not fcntl locks: fcntl locks belong to the process, so two leases
  // in one process would not exclude each other.
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK || errno == EINTR)
      return Fd{};
    throw std::system_error(errno, std::generic_category(), "PortLease: flock " + file.string());
  }
  return fd;
}

}  // namespace

fs::path PortLease::lock_dir() {
  const char* tmp = std::getenv("TMPDIR");
  return fs::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") / "csd-ports";
}

std::optional<PortLease> PortLease::try_acquire(const std::string& host, uint16_t port) {
  const fs::path dir = lock_dir();
  ensure_lock_dir(dir);
  // Lock first, then check: whoever holds the lock owns the port, so a check
  // made under the lock cannot be invalidated by another suite's check.
  Fd lock = lock_port(dir, port);
  if (!lock)
    return std::nullopt;
  if (!bindable(host, port))
    return std::nullopt;
  return PortLease(port, std::move(lock));
}

PortLease PortLease::acquire(const std::string& host) {
  const PortRange range = candidate_range();
  std::random_device seed;
  std::mt19937 gen(seed());
  std::uniform_int_distribution<int> pick(range.first, range.last);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (auto lease = try_acquire(host, static_cast<uint16_t>(pick(gen))))
      return std::move(*lease);
  }
  throw std::runtime_error("PortLease: no free port for " + host + " in " +
                           std::to_string(range.first) + "-" + std::to_string(range.last) +
                           " after " + std::to_string(kAttempts) + " tries");
}

}  // namespace csd::harness
