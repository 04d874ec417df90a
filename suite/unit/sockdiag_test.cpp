#include "sockdiag.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>

#include "fd.hpp"
#include "procfs.hpp"
#include "wait.hpp"

namespace csd::harness {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

struct Address {
  sockaddr_storage storage{};
  socklen_t len = sizeof(sockaddr_storage);
  [[nodiscard]] const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
};

Address local_of(const Fd& fd) {
  Address a;
  EXPECT_EQ(::getsockname(fd.get(), a.get(), &a.len), 0);
  return a;
}

uint64_t inode_of(const Fd& fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd.get(), &st), 0);
  return st.st_ino;
}

// A listener on the loopback address of `family`, an ephemeral port.
Fd make_listener(int family) {
  Fd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd)
    return fd;
  Address a;
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    a.len = sizeof(sockaddr_in6);
  }
  if (::bind(fd.get(), a.get(), a.len) != 0 || ::listen(fd.get(), 16) != 0)
    return Fd{};
  return fd;
}

Fd connect_to(const Address& server) {
  Fd fd(::socket(server.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(::connect(fd.get(), server.get(), server.len), 0);  // completes via the listen backlog
  return fd;
}

class SockDiag : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    listener_ = make_listener(GetParam());
    if (!listener_)
      GTEST_SKIP() << "no loopback for address family " << GetParam();
    server_ = local_of(listener_);
    client_ = connect_to(server_);
    client_addr_ = local_of(client_);
  }

  // The server's end: local = the server address, remote = the client's.
  std::optional<TcpSocketInfo> server_side() const {
    return tcp_socket_info(server_.get(), server_.len, client_addr_.get(), client_addr_.len);
  }

  Fd listener_;
  Address server_;
  Fd client_;
  Address client_addr_;
};

TEST_P(SockDiag, NotYetAcceptedHasNoInode) {
  const auto info = server_side();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->inode, 0u);
  EXPECT_EQ(info->state, TCP_ESTABLISHED);
  EXPECT_FALSE(tcp_socket_inode(server_.get(), server_.len, client_addr_.get(), client_addr_.len));
}

TEST_P(SockDiag, FindsTheAcceptedSocketAndItsHolder) {
  const Fd accepted(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  const auto inode =
      tcp_socket_inode(server_.get(), server_.len, client_addr_.get(), client_addr_.len);
  ASSERT_TRUE(inode);
  EXPECT_EQ(*inode, inode_of(accepted));
  const std::array<pid_t, 2> candidates{::getppid(), ::getpid()};
  EXPECT_THAT(holders_of(*inode, candidates), ElementsAre(::getpid()));

  // The client's end is a different socket, found with the tuple reversed.
  const auto client_inode =
      tcp_socket_inode(client_addr_.get(), client_addr_.len, server_.get(), server_.len);
  ASSERT_TRUE(client_inode);
  EXPECT_EQ(*client_inode, inode_of(client_));
}

TEST_P(SockDiag, ReportsUnreadBytes) {
  const Fd accepted(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  ASSERT_EQ(::send(client_.get(), "12345", 5, 0), 5);
  EXPECT_TRUE(wait_until([&] { return server_side() && server_side()->rqueue == 5; }, 2s));
}

// Without an established match the kernel's exact lookup falls back to the
// listener on the local address; that must not pass for the connection.
TEST_P(SockDiag, UnknownConnectionIsNullopt) {
  Address stranger = client_addr_;
  auto* port = GetParam() == AF_INET
                   ? &reinterpret_cast<sockaddr_in*>(&stranger.storage)->sin_port
                   : &reinterpret_cast<sockaddr_in6*>(&stranger.storage)->sin6_port;
  *port = htons(static_cast<uint16_t>(ntohs(*port) ^ 1));
  EXPECT_FALSE(tcp_socket_info(server_.get(), server_.len, stranger.get(), stranger.len));
}

TEST_P(SockDiag, AttributesTheConnectionToItsHolder) {
  const Fd accepted(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  const auto who = attribute_connection(client_addr_.get(), client_addr_.len, server_.get(),
                                        server_.len, ::getpid(), {}, 2s);
  EXPECT_TRUE(who.accepted);
  EXPECT_EQ(who.owner, ::getpid());
  EXPECT_THAT(who.last_holders, ElementsAre(::getpid()));
}

TEST_P(SockDiag, ExcludedHolderIsNotAnOwner) {
  const Fd accepted(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  const auto who = attribute_connection(client_addr_.get(), client_addr_.len, server_.get(),
                                        server_.len, ::getpid(), ::getpid(), 30ms);
  EXPECT_TRUE(who.accepted);
  EXPECT_FALSE(who.owner);
  EXPECT_THAT(who.last_holders, ElementsAre(::getpid()));
}

TEST_P(SockDiag, NeverAcceptedIsReported) {
  const auto who = attribute_connection(client_addr_.get(), client_addr_.len, server_.get(),
                                        server_.len, ::getpid(), {}, 30ms);
  EXPECT_FALSE(who.accepted);
  EXPECT_FALSE(who.owner);
}

// Like a fork-per-connection server: the parent accepts, a child serves, the
// parent closes its copy. The child is the owner, the parent excluded.
TEST_P(SockDiag, AttributesToAChildAfterTheParentLetsGo) {
  Fd accepted(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  int hold[2];
  ASSERT_EQ(::pipe2(hold, O_CLOEXEC), 0);
  Fd hold_read(hold[0]), hold_write(hold[1]);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    hold_write.reset();
    char c;
    [[maybe_unused]] const auto n =
        ::read(hold_read.get(), &c, 1);  // until the parent closes its end
    ::_exit(0);
  }
  hold_read.reset();
  const auto both = attribute_connection(client_addr_.get(), client_addr_.len, server_.get(),
                                         server_.len, ::getpid(), {}, 30ms);
  EXPECT_FALSE(both.owner) << "two holders: no single owner";
  EXPECT_EQ(both.last_holders.size(), 2u);
  const auto who = attribute_connection(client_addr_.get(), client_addr_.len, server_.get(),
                                        server_.len, ::getpid(), ::getpid(), 2s);
  EXPECT_EQ(who.owner, child);
  accepted.reset();
  hold_write.reset();
  EXPECT_EQ(::waitpid(child, nullptr, 0), child);
}

TEST_P(SockDiag, SeesTheListeningPort) {
  const auto port = GetParam() == AF_INET
                        ? reinterpret_cast<const sockaddr_in*>(&server_.storage)->sin_port
                        : reinterpret_cast<const sockaddr_in6*>(&server_.storage)->sin6_port;
  EXPECT_TRUE(tcp_port_listening(ntohs(port)));
  listener_.reset();
  EXPECT_FALSE(tcp_port_listening(ntohs(port)));
}

INSTANTIATE_TEST_SUITE_P(Families, SockDiag, ::testing::Values(AF_INET, AF_INET6),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return param.param == AF_INET ? std::string("IPv4")
                                                         : std::string("IPv6");
                         });

}  // namespace
}  // namespace csd::harness
