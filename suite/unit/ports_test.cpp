#include "ports.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>

namespace csd::harness {
namespace {

const std::string kHost = "127.0.0.1";

Fd listen_on(uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd.get(), 1) != 0)
    return Fd{};
  return fd;
}

TEST(PortLease, TwoLeasesDiffer) {
  const auto a = PortLease::acquire(kHost);
  const auto b = PortLease::acquire(kHost);
  EXPECT_NE(a.port(), b.port());
}

TEST(PortLease, PortIsBelowTheEphemeralRange) {
  int lo = 0;
  int hi = 0;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> lo >> hi;
  ASSERT_GT(lo, 11000) << "this test assumes the usual ephemeral range";
  const auto lease = PortLease::acquire(kHost);
  EXPECT_GE(lease.port(), 10000);
  EXPECT_LT(lease.port(), lo);
}

TEST(PortLease, ALeasedPortIsNotHandedOutAgain) {
  std::optional<PortLease> lease = PortLease::acquire(kHost);
  const uint16_t port = lease->port();
  EXPECT_TRUE(std::filesystem::exists(PortLease::lock_dir() / (std::to_string(port) + ".lock")));
  EXPECT_FALSE(PortLease::try_acquire(kHost, port))
      << "the lock must keep a second lease off port " << port;
  lease.reset();
  EXPECT_TRUE(PortLease::try_acquire(kHost, port)) << "released, port " << port << " is free again";
}

TEST(PortLease, TheLockHoldsAcrossProcesses) {
  const auto lease = PortLease::acquire(kHost);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0)
    ::_exit(PortLease::try_acquire(kHost, lease.port()) ? 1 : 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "another process got a lease on port " << lease.port();
}

TEST(PortLease, APortInUseIsRefused) {
  uint16_t port = 0;
  {
    const auto lease = PortLease::acquire(kHost);
    port = lease.port();
  }
  const Fd listener = listen_on(port);
  ASSERT_TRUE(listener) << "port " << port << " was taken meanwhile";
  EXPECT_FALSE(PortLease::try_acquire(kHost, port));
}

TEST(PortLease, LeasesMove) {
  auto a = PortLease::acquire(kHost);
  const uint16_t port = a.port();
  const PortLease b = std::move(a);
  EXPECT_EQ(b.port(), port);
  EXPECT_FALSE(PortLease::try_acquire(kHost, port));  // the lock moved with it
}

}  // namespace
}  // namespace csd::harness
