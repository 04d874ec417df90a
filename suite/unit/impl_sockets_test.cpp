// The reference servers' socket helpers (impl/lib): listening-line format,
// ephemeral ports, write_all.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include <gtest/gtest.h>

#include "sockets.hpp"

namespace {

TEST(ImplListen, Ipv4EphemeralPortAndEndpoint) {
  const auto l = csd::impl::listen_tcp("127.0.0.1", 0, csd::impl::kListenBacklog);
  EXPECT_TRUE(l.fd.valid());
  EXPECT_NE(l.port, 0);
  EXPECT_EQ(l.endpoint, "127.0.0.1:" + std::to_string(l.port));
}

TEST(ImplListen, Ipv6EndpointIsBracketed) {
  try {
    const auto l = csd::impl::listen_tcp("::1", 0, csd::impl::kListenBacklog);
    EXPECT_EQ(l.endpoint, "[::1]:" + std::to_string(l.port));
  } catch (const std::system_error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
}

TEST(ImplListen, NamesAreRefused) {
  EXPECT_THROW(csd::impl::listen_tcp("localhost", 0, csd::impl::kListenBacklog),
               std::runtime_error);
}

TEST(ImplListen, AcceptReturnsTheConnection) {
  const auto l = csd::impl::listen_tcp("127.0.0.1", 0, csd::impl::kListenBacklog);
  csd::Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(l.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const csd::Fd conn = csd::impl::accept_connection(l.fd.get());
  EXPECT_TRUE(conn.valid());
}

TEST(ImplWriteAll, WritesEverythingThroughASmallBuffer) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  const csd::Fd a(fds[0]);
  const csd::Fd b(fds[1]);
  std::string big(1 << 20, 'z');
  std::size_t got = 0;
  std::thread reader([&] {
    std::array<char, 4096> buf{};
    ssize_t n = 0;
    while ((n = ::read(b.get(), buf.data(), buf.size())) > 0) got += static_cast<std::size_t>(n);
  });
  EXPECT_TRUE(csd::impl::write_all(a.get(), std::as_bytes(std::span(big))));
  ::shutdown(a.get(), SHUT_WR);
  reader.join();
  EXPECT_EQ(got, big.size());
}

}  // namespace
