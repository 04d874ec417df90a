// csd_clientlib against tiny in-test servers: each test starts a thread with a
// listening socket on 127.0.0.1 (port 0) that misbehaves in one known way,
// and checks the client's verdict. Nothing here sleeps to synchronise: the
// server threads block on the client's own actions (its request, its
// half-close, its close), each with a deadline so a bug fails, not hangs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "connection.hpp"
#include "fd.hpp"
#include "load.hpp"

namespace {

using namespace std::chrono_literals;
using csd::Fd;
namespace cl = csd::client;
using ::testing::HasSubstr;

// ---- server side helpers (blocking sockets with a safety timeout) ----------

constexpr auto kSafety = 10s;  // no test step legitimately takes this long

void set_io_timeout(int fd) {
  timeval tv{.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kSafety).count(),
             .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Reads up to and including the first '\n', or to EOF.
std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (::recv(fd, &c, 1, 0) == 1) {
    line += c;
    if (c == '\n')
      break;
  }
  return line;
}

std::string read_exactly(int fd, std::size_t n) {
  std::string s(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd, s.data() + got, n - got, 0);
    if (r <= 0)
      break;
    got += static_cast<std::size_t>(r);
  }
  s.resize(got);
  return s;
}

std::string read_to_eof(int fd) {
  std::string all;
  char buf[4096];
  ssize_t r = 0;
  while ((r = ::recv(fd, buf, sizeof buf, 0)) > 0) all.append(buf, static_cast<std::size_t>(r));
  return all;
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t w = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (w <= 0)
      return;
    data.remove_prefix(static_cast<std::size_t>(w));
  }
}

void write_bytes(int fd, std::size_t n) { write_all(fd, std::string(n, 'x')); }

std::size_t requested(const std::string& line) { return line.empty() ? 0 : std::stoul(line); }

// Closes with RST instead of FIN.
void reset_close(Fd& fd) {
  linger lg{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  fd.reset();
}

// A listening socket on 127.0.0.1 and a thread that accepts `connections`
// connections one after another and hands each to `handler`. The destructor
// joins; the thread ends on its own once the clients are done (or after the
// safety timeout if one never comes).
class TestServer {
 public:
  using Handler = std::function<void(Fd&, const sockaddr_in& peer)>;

  explicit TestServer(Handler handler, int connections = 1) {
    listener_ = Fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!listener_)
      throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
        ::listen(listener_.get(), 128) < 0 ||
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&a), &len) < 0) {
      throw std::runtime_error(std::string("listen failed: ") + std::strerror(errno));
    }
    port_ = ntohs(a.sin_port);
    // Listening before the thread starts: the client may connect at once.
    thread_ = std::jthread(
        [this, handler = std::move(handler), connections] { serve(handler, connections); });
  }

  [[nodiscard]] cl::Target target() const { return {.host = "127.0.0.1", .port = port_}; }
  void join() {
    if (thread_.joinable())
      thread_.join();
  }

 private:
  void serve(const Handler& handler, int connections) {
    for (int i = 0; i < connections; ++i) {
      pollfd p{.fd = listener_.get(), .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kSafety).count())) != 1)
        return;
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      Fd conn{::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC)};
      if (!conn)
        return;
      set_io_timeout(conn.get());
      handler(conn, peer);
    }
  }

  Fd listener_;
  uint16_t port_ = 0;
  std::jthread thread_;  // last: joined before the listener closes
};

cl::FetchOptions size_options(uint64_t bytes) {
  cl::FetchOptions o;
  o.bytes = bytes;
  o.timeout = 5s;
  o.after_reply_wait = 50ms;
  return o;
}

// ---- size protocol -------------------------------------------------------------

TEST(ClientLibSize, CorrectReplyIsOk) {
  TestServer server([](Fd& c, auto&) { write_bytes(c.get(), requested(read_line(c.get()))); });
  auto r = cl::fetch(server.target(), size_options(3000));
  EXPECT_EQ(r.outcome, cl::Outcome::ok) << r.detail;
  EXPECT_EQ(r.received, 3000u);
  EXPECT_EQ(r.ending, cl::Ending::eof);
  EXPECT_GT(r.latency.count(), 0);
  EXPECT_TRUE(r.detail.empty());
}

TEST(ClientLibSize, ZeroBytesIsOk) {
  TestServer server([](Fd& c, auto&) { write_bytes(c.get(), requested(read_line(c.get()))); });
  auto r = cl::fetch(server.target(), size_options(0));
  EXPECT_EQ(r.outcome, cl::Outcome::ok) << r.detail;
  EXPECT_EQ(r.received, 0u);
}

TEST(ClientLibSize, LargeReplyIsOk) {
  TestServer server([](Fd& c, auto&) { write_bytes(c.get(), requested(read_line(c.get()))); });
  auto r = cl::fetch(server.target(), size_options(8 << 20));
  EXPECT_EQ(r.outcome, cl::Outcome::ok) << r.detail;
  EXPECT_EQ(r.received, 8u << 20);
}

TEST(ClientLibSize, EofBeforeAllBytesIsShortReply) {
  TestServer server([](Fd& c, auto&) { write_bytes(c.get(), requested(read_line(c.get())) - 1); });
  auto r = cl::fetch(server.target(), size_options(3000));
  EXPECT_EQ(r.outcome, cl::Outcome::short_reply);
  EXPECT_EQ(r.received, 2999u);
  EXPECT_THAT(r.detail, HasSubstr("EOF after 2999 of 3000 bytes"));
}

TEST(ClientLibSize, ExtraByteThenCloseIsLongReply) {
  TestServer server([](Fd& c, auto&) { write_bytes(c.get(), requested(read_line(c.get())) + 1); });
  auto r = cl::fetch(server.target(), size_options(3000));
  EXPECT_EQ(r.outcome, cl::Outcome::long_reply);
  EXPECT_EQ(r.received, 3001u);
  EXPECT_THAT(r.detail, HasSubstr("1 bytes more than the 3000"));
}

TEST(ClientLibSize, ExtraByteOnOpenConnectionIsLongReply) {
  // The stray byte comes in its own segment after the reply, and the
  // server then waits for the client to close.
  TestServer server([](Fd& c, auto&) {
    write_bytes(c.get(), requested(read_line(c.get())));
    write_bytes(c.get(), 1);
    read_to_eof(c.get());
  });
  auto r = cl::fetch(server.target(), size_options(3000));
  EXPECT_EQ(r.outcome, cl::Outcome::long_reply);
  EXPECT_EQ(r.received, 3001u);
}

// A port that was just free: bound, never listened on, closed.
uint16_t closed_port() {
  Fd probe{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(probe.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
      ::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&a), &len) < 0) {
    throw std::runtime_error("bind/getsockname failed");
  }
  return ntohs(a.sin_port);
}

TEST(ClientLibSize, ClosedPortIsRefused) {
  auto r = cl::fetch({.host = "127.0.0.1", .port = closed_port()}, size_options(3000));
  EXPECT_EQ(r.outcome, cl::Outcome::refused);
  EXPECT_EQ(r.error, ECONNREFUSED);
  EXPECT_EQ(r.detail, "connect: Connection refused");
}

TEST(ClientLibSize, SilentServerIsTimeout) {
  // Takes the request, never answers, and ends when the client gives up.
  TestServer server([](Fd& c, auto&) {
    read_line(c.get());
    read_to_eof(c.get());
  });
  auto o = size_options(3000);
  o.timeout = 200ms;
  const auto start = cl::Clock::now();
  auto r = cl::fetch(server.target(), o);
  const auto took = cl::Clock::now() - start;
  EXPECT_EQ(r.outcome, cl::Outcome::timeout);
  EXPECT_EQ(r.received, 0u);
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 5s);
  EXPECT_THAT(r.detail, HasSubstr("timeout in recv after 0 of 3000 bytes"));
}

TEST(ClientLibSize, ResetBeforeReplyIsReset) {
  TestServer server([](Fd& c, auto&) {
    read_line(c.get());
    reset_close(c);
  });
  auto r = cl::fetch(server.target(), size_options(3000));
  EXPECT_EQ(r.outcome, cl::Outcome::reset);
  EXPECT_EQ(r.error, ECONNRESET);
  EXPECT_THAT(r.detail, HasSubstr("recv: Connection reset by peer"));
}

TEST(ClientLibSize, ResetAfterFullReplyIsOkAndNoted) {
  TestServer server([](Fd& c, auto&) {
    write_bytes(c.get(), requested(read_line(c.get())));
    reset_close(c);
  });
  auto r = cl::fetch(server.target(), size_options(3000));
  EXPECT_EQ(r.outcome, cl::Outcome::ok) << r.detail;
  EXPECT_EQ(r.received, 3000u);
  EXPECT_EQ(r.ending, cl::Ending::reset);
}

TEST(ClientLibSize, ConnectionKeptOpenAfterReplyIsOk) {
  // The seed's server02 keeps the connection open after replying.
  TestServer server([](Fd& c, auto&) {
    write_bytes(c.get(), requested(read_line(c.get())));
    read_to_eof(c.get());
  });
  auto r = cl::fetch(server.target(), size_options(3000));
  EXPECT_EQ(r.outcome, cl::Outcome::ok) << r.detail;
  EXPECT_EQ(r.ending, cl::Ending::still_open);
}

// What the server received, request and all, up to the client's close.
std::string request_seen(bool bare) {
  std::string seen;
  TestServer server([&seen](Fd& c, auto&) {
    seen = read_exactly(c.get(), 4);  // "3000": enough to answer either form
    write_bytes(c.get(), 3000);
    ::shutdown(c.get(), SHUT_WR);  // FIN now, so the client closes at once
    seen += read_to_eof(c.get());
  });
  auto o = size_options(3000);
  o.bare = bare;
  auto r = cl::fetch(server.target(), o);
  EXPECT_EQ(r.outcome, cl::Outcome::ok) << r.detail;
  server.join();
  return seen;
}

TEST(ClientLibSize, BareRequestHasNoNewline) { EXPECT_EQ(request_seen(true), "3000"); }

TEST(ClientLibSize, DefaultRequestEndsWithNewline) { EXPECT_EQ(request_seen(false), "3000\n"); }

// ---- echo protocol -------------------------------------------------------------

cl::FetchOptions echo_options(uint64_t bytes) {
  auto o = size_options(bytes);
  o.protocol = cl::Protocol::echo;
  return o;
}

// Echoes chunk by chunk until the client half-closes; returns (via `total`)
// how much it echoed. `corrupt_at` flips one byte on the way back.
TestServer::Handler echo_handler(std::size_t* total, std::size_t corrupt_at = SIZE_MAX,
                                 std::size_t limit = SIZE_MAX) {
  return [=](Fd& c, auto&) {
    char buf[16384];
    std::size_t seen = 0;
    ssize_t r = 0;
    while ((r = ::recv(c.get(), buf, sizeof buf, 0)) > 0) {
      auto n = static_cast<std::size_t>(r);
      if (corrupt_at >= seen && corrupt_at < seen + n)
        buf[corrupt_at - seen] ^= 0x55;
      std::size_t send_n = seen >= limit ? 0 : std::min(n, limit - seen);
      write_all(c.get(), std::string_view(buf, send_n));
      seen += n;
    }
    if (total != nullptr)
      *total = seen;
  };
}

TEST(ClientLibEcho, RoundTripWithHalfClose) {
  // 4 MiB is more than both socket buffers: a client that wrote everything
  // before reading would deadlock against this blocking server.
  constexpr std::size_t kBytes = 4 << 20;
  std::size_t echoed = 0;
  TestServer server(echo_handler(&echoed));
  auto r = cl::fetch(server.target(), echo_options(kBytes));
  EXPECT_EQ(r.outcome, cl::Outcome::ok) << r.detail;
  EXPECT_EQ(r.received, kBytes);
  EXPECT_EQ(r.ending, cl::Ending::eof);
  server.join();
  EXPECT_EQ(echoed, kBytes);  // the server saw the half-close as EOF after all of it
}

TEST(ClientLibEcho, ZeroBytesIsJustHalfCloseAndEof) {
  std::size_t echoed = 1;
  TestServer server(echo_handler(&echoed));
  auto r = cl::fetch(server.target(), echo_options(0));
  EXPECT_EQ(r.outcome, cl::Outcome::ok) << r.detail;
  server.join();
  EXPECT_EQ(echoed, 0u);
}

TEST(ClientLibEcho, CorruptedByteIsError) {
  TestServer server(echo_handler(nullptr, 1000));
  auto r = cl::fetch(server.target(), echo_options(5000));
  EXPECT_EQ(r.outcome, cl::Outcome::error);
  EXPECT_THAT(r.detail, HasSubstr("echo mismatch at byte 1000 of 5000"));
}

TEST(ClientLibEcho, PartialEchoIsShortReply) {
  TestServer server(echo_handler(nullptr, SIZE_MAX, 500));
  auto r = cl::fetch(server.target(), echo_options(1000));
  EXPECT_EQ(r.outcome, cl::Outcome::short_reply) << r.detail;
  EXPECT_EQ(r.received, 500u);
}

// RFC 862 ends the exchange with the client's half-close: a server that echoes
// everything but never closes has not finished, unlike a size-protocol server.
TEST(ClientLibEcho, ServerThatStaysOpenAfterHalfCloseIsTimeout) {
  std::promise<void> client_done;
  auto until_client_done = client_done.get_future().share();
  TestServer server(
      [echo = echo_handler(nullptr), until_client_done](Fd& c, const sockaddr_in& peer) {
        echo(c, peer);
        until_client_done.wait();  // keeps the connection open past the client's wait
      });
  auto options = echo_options(1000);
  options.echo_close_wait = 200ms;
  auto r = cl::fetch(server.target(), options);
  client_done.set_value();
  EXPECT_EQ(r.outcome, cl::Outcome::timeout) << r.detail;
  EXPECT_EQ(r.received, 1000u);
  EXPECT_THAT(r.detail, HasSubstr("did not close"));
}

TEST(ClientLibEcho, PatternIsPeriodic) {
  std::array<std::byte, 600> p{};
  cl::echo_pattern(100, p);
  // As numbers: googletest would print a std::byte as "1-byte object <64>".
  EXPECT_EQ(std::to_integer<int>(p[0]), 100);
  EXPECT_EQ(std::to_integer<int>(p[151]), 0);
  EXPECT_EQ(std::to_integer<int>(cl::echo_pattern_byte(251)), 0);
  EXPECT_EQ(std::to_integer<int>(cl::echo_pattern_byte(252)), 1);
}

// ---- Connection directly ---------------------------------------------------------

TEST(ClientLibConnection, ReadExactIntoSinkThenReadToEnd) {
  TestServer server([](Fd& c, auto&) { write_all(c.get(), "hello, world"); });
  cl::StepResult failure;
  auto conn = cl::Connection::open(server.target(), cl::deadline_in(5s), &failure);
  ASSERT_TRUE(conn) << cl::to_string(failure.status);
  std::array<std::byte, 5> sink{};
  auto s = conn->read_exact(5, cl::deadline_in(5s), sink);
  EXPECT_EQ(s.status, cl::Status::ok);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sink.data()), sink.size()), "hello");
  std::string rest;
  auto t = conn->read_to_end(cl::deadline_in(5s), &rest);
  EXPECT_EQ(t.status, cl::Status::ok);
  EXPECT_EQ(rest, ", world");
  EXPECT_EQ(conn->peer_address().to_string(), fmt::format("127.0.0.1:{}", server.target().port));
}

TEST(ClientLibConnection, OpenToClosedPortIsRefused) {
  cl::StepResult failure;
  auto conn = cl::Connection::open({.host = "127.0.0.1", .port = closed_port()},
                                   cl::deadline_in(5s), &failure);
  EXPECT_FALSE(conn);
  EXPECT_EQ(failure.status, cl::Status::refused);
  EXPECT_EQ(failure.error, ECONNREFUSED);
  EXPECT_EQ(failure.call, "connect");
}

TEST(ClientLibConnection, StartedConnectFailsInFirstSendAsConnect) {
  // start() may return before the handshake's answer; then the refusal
  // surfaces in the first send, still named after connect.
  auto address = cl::SockAddr::parse("127.0.0.1", closed_port());
  cl::StepResult failure;
  auto conn = cl::Connection::start(*address, &failure);
  if (!conn) {  // the kernel already knew: refused inside connect() itself
    EXPECT_EQ(failure.status, cl::Status::refused);
    EXPECT_EQ(failure.call, "connect");
    return;
  }
  auto s = conn->send_all(std::string_view("1\n"), cl::deadline_in(5s));
  EXPECT_EQ(s.status, cl::Status::refused);
  EXPECT_EQ(s.call, "connect");
}

TEST(ClientLibConnection, StartedConnectCompletesInFirstSend) {
  std::string line;
  TestServer server([&line](Fd& c, auto&) { line = read_line(c.get()); });
  auto conn = cl::Connection::start(*cl::SockAddr::parse("127.0.0.1", server.target().port));
  ASSERT_TRUE(conn);
  auto s = conn->send_all(std::string_view("42\n"), cl::deadline_in(5s));
  EXPECT_EQ(s.status, cl::Status::ok);
  EXPECT_FALSE(conn->connecting());
  server.join();
  EXPECT_EQ(line, "42\n");
}

TEST(ClientLibConnection, ClosedWithinSeesCloseAndOpen) {
  TestServer server([](Fd& c, auto&) {
    read_line(c.get());  // closes once the client's line arrives
  });
  auto conn = cl::Connection::open(server.target(), cl::deadline_in(5s));
  ASSERT_TRUE(conn);
  EXPECT_FALSE(conn->closed_within(20ms));  // the server waits for our line
  conn->send_all(std::string_view("go\n"), cl::deadline_in(5s));
  EXPECT_TRUE(conn->closed_within(5s));
}

TEST(ClientLibConnection, AbortSendsReset) {
  std::string error;
  TestServer server([&error](Fd& c, auto&) {
    char b = 0;
    if (::recv(c.get(), &b, 1, 0) < 0)
      error = std::strerror(errno);
  });
  auto conn = cl::Connection::open(server.target(), cl::deadline_in(5s));
  ASSERT_TRUE(conn);
  conn->abort();
  server.join();
  EXPECT_EQ(error, std::strerror(ECONNRESET));
}

TEST(ClientLibConnection, SockAddrParsesAndPrints) {
  EXPECT_EQ(cl::SockAddr::parse("127.0.0.1", 80)->to_string(), "127.0.0.1:80");
  EXPECT_EQ(cl::SockAddr::parse("::1", 8080)->to_string(), "[::1]:8080");
  EXPECT_EQ(cl::SockAddr::parse("[::1]", 8080)->port(), 8080);
  EXPECT_FALSE(cl::SockAddr::parse("localhost", 80));
  EXPECT_FALSE(cl::SockAddr::parse("", 80));
}

// ---- run_load --------------------------------------------------------------------

cl::LoadOptions load_options(const cl::Target& target, int clients, int conns, uint64_t bytes) {
  cl::LoadOptions o;
  o.target = target;
  o.clients = clients;
  o.conns = conns;
  o.fetch = size_options(bytes);
  return o;
}

TEST(ClientLibLoad, CountsEveryConnection) {
  TestServer server([](Fd& c, auto&) { write_bytes(c.get(), requested(read_line(c.get()))); }, 20);
  auto report = cl::run_load(load_options(server.target(), 2, 10, 100));
  EXPECT_TRUE(report.all_ok()) << cl::format_human(report);
  EXPECT_EQ(report.connections, 20u);
  EXPECT_EQ(report.bytes_received, 2000u);
  ASSERT_EQ(report.latencies.size(), 20u);
  EXPECT_TRUE(std::is_sorted(report.latencies.begin(), report.latencies.end()));
  EXPECT_GT(report.connections_per_second(), 0.0);

  nlohmann::json j = report;
  EXPECT_EQ(j["connections"], 20);
  EXPECT_EQ(j["ok"], 20);
  EXPECT_EQ(j["failures"]["short_reply"], 0);
  EXPECT_EQ(j["bytes"], 2000);
  for (auto key : {"elapsed_s", "connections_per_s", "bytes_per_s"})
    EXPECT_TRUE(j.contains(key)) << key;
  for (auto key : {"p50", "p99", "p999", "max"}) EXPECT_TRUE(j["latency_us"].contains(key)) << key;
  EXPECT_TRUE(j["first_failures"].empty());
  EXPECT_THAT(cl::format_human(report), HasSubstr("all ok"));
}

TEST(ClientLibLoad, ReportsFailuresByOutcome) {
  int n = 0;
  TestServer server(
      [&n](Fd& c, auto&) {
        auto want = requested(read_line(c.get()));
        write_bytes(c.get(), ++n % 2 == 0 ? want - 1 : want);  // every other one short
      },
      6);
  auto report = cl::run_load(load_options(server.target(), 1, 6, 100));
  EXPECT_FALSE(report.all_ok());
  EXPECT_EQ(report.failures(), 3u);
  EXPECT_EQ(report.outcomes[static_cast<std::size_t>(cl::Outcome::short_reply)], 3u);
  ASSERT_EQ(report.first_failures.size(), 3u);
  EXPECT_THAT(report.first_failures[0],
              HasSubstr("client 0 conn 1: short_reply: EOF after 99 of 100 bytes"));
  nlohmann::json j = report;
  EXPECT_EQ(j["failures"]["short_reply"], 3);
  EXPECT_EQ(j["failed"], 3);
  EXPECT_THAT(cl::format_human(report), HasSubstr("FAILED: 3 of 6 connections (3 short_reply)"));
}

TEST(ClientLibLoad, SpreadsSourceAddresses) {
  std::map<std::string, int> sources;
  TestServer server(
      [&sources](Fd& c, const sockaddr_in& peer) {
        char text[INET_ADDRSTRLEN];
        ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
        sources[text]++;
        write_bytes(c.get(), requested(read_line(c.get())));
      },
      6);
  auto o = load_options(server.target(), 1, 6, 10);
  o.source_addresses = 3;
  auto report = cl::run_load(o);
  EXPECT_TRUE(report.all_ok()) << cl::format_human(report);
  server.join();
  EXPECT_EQ(sources,
            (std::map<std::string, int>{{"127.0.0.1", 2}, {"127.0.0.2", 2}, {"127.0.0.3", 2}}));
}

TEST(ClientLibLoad, RejectsNonNumericHost) {
  cl::LoadOptions o;
  o.target = {.host = "not-an-address", .port = 1};
  EXPECT_THROW(cl::run_load(o), std::invalid_argument);
}

TEST(ClientLibReport, PercentilesAreNearestRank) {
  cl::LoadReport r;
  for (int i = 1; i <= 1000; ++i) r.latencies.push_back(std::chrono::nanoseconds(i));
  EXPECT_EQ(r.latency_percentile(0.5).count(), 500);
  EXPECT_EQ(r.latency_percentile(0.99).count(), 990);
  EXPECT_EQ(r.latency_percentile(0.999).count(), 999);
  EXPECT_EQ(r.latency_percentile(1.0).count(), 1000);
  EXPECT_EQ(r.latency_percentile(0.0).count(), 1);
  EXPECT_EQ(cl::LoadReport{}.latency_percentile(0.5).count(), 0);
  EXPECT_FALSE(cl::LoadReport{}.all_ok());  // no connections is not success
}

}  // namespace
