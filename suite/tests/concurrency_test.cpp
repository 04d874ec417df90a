// Concurrency: one client that is silent, or that reads its reply very slowly,
// must not hold up the others, in every design but the iterative one, which
// serializes clients by design (there the suite asserts that it does).
#include <fmt/format.h>

#include "implementations.hpp"
#include "models.hpp"
#include "server_test.hpp"
#include "sockdiag.hpp"
#include "wait.hpp"

namespace csd::suite {
namespace {

class Concurrency : public ServerTest {
 protected:
  Concurrency() { applies_to_protocol(harness::WireProtocol::size); }

  // Another client's small exchange while the first one is stuck; judged
  // against the design: served, or (iterative) not served.
  void expect_other_client_served_unless_iterative(std::string_view stuck) {
    client::FetchOptions options;
    options.bytes = 100;
    options.timeout = 5000ms;
    const auto other = client::fetch(target(), options);
    if (is_iterative(model())) {
      EXPECT_NE(other.outcome, client::Outcome::ok)
          << "model iterative serves one client at a time, yet another client was served while " << stuck;
    } else {
      EXPECT_TRUE(GotExactReply(other, 100)) << "another client was not served within 5 s while " << stuck;
    }
  }

  static std::optional<harness::TcpSocketInfo> server_side(const client::Connection& c) {
    const auto local = c.local_address();
    const auto peer = c.peer_address();
    return harness::tcp_socket_info(reinterpret_cast<const sockaddr*>(&peer.storage), peer.len,
                                    reinterpret_cast<const sockaddr*>(&local.storage), local.len);
  }
};

TEST_P(Concurrency, SilentClientDoesNotBlockOthers) {
  client::StepResult failure;
  auto silent = client::Connection::open(target(), client::deadline_in(10s), &failure);
  ASSERT_TRUE(silent) << "connect: " << client::to_string(failure.status);
  // Wait until the server has accepted the silent connection, so it is really in the way.
  harness::wait_until(
      [&] {
        const auto s = server_side(*silent);
        return s && s->inode != 0;
      },
      2000ms);
  expect_other_client_served_unless_iterative("one client was connected and silent");
}

TEST_P(Concurrency, SlowReaderDoesNotStallOthers) {
  client::StepResult failure;
  auto slow = client::Connection::open(target(), client::deadline_in(10s), &failure);
  ASSERT_TRUE(slow) << "connect: " << client::to_string(failure.status);
  slow->set_receive_buffer(4096);
  ASSERT_EQ(slow->send_all("100000000\n", client::deadline_in(5s)).status, client::Status::ok);
  // The server has read the request and its send queue to us is backed up:
  // from here on, a write to this client would block.
  const bool backed_up = harness::wait_until(
      [&] {
        const auto s = server_side(*slow);
        return s && s->rqueue == 0 && s->wqueue > 0;
      },
      5000ms);
  RecordProperty("slow_reader_backed_up", backed_up ? "yes" : "no");
  expect_other_client_served_unless_iterative("one client was reading a 100 MB reply and not reading");
}

CSD_INSTANTIATE_FAMILY(Concurrency);

}  // namespace
}  // namespace csd::suite
