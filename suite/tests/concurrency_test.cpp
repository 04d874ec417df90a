// Concurrency: one client that is silent, or that reads its reply very slowly,
// must not hold up the others, in every design but one that serves one client
// at a time by design (iterative: there the suite asserts that it does).
#include <fmt/format.h>

#include <thread>
#include <vector>

#include "check.hpp"
#include "server_test.hpp"
#include "sockdiag.hpp"
#include "timeouts.hpp"
#include "wait.hpp"
#include "wire.hpp"

namespace csd::suite {
namespace {

class Concurrency : public ServerTest {
 public:
  using ServerTest::ServerTest;

 protected:
  // Eight other clients at once, each a small exchange, while the first one is
  // stuck; judged against the design's traits. Every one must be served, except:
  // - one client at a time (iterative): none may be;
  // - a listener per worker (reuseport): the kernel hashes each connection to one worker's own
  //   listening socket, so a client hashed to the stuck worker's socket waits
  //   behind it (SO_REUSEPORT's known weakness) while the others are served.
  void expect_others_served_as_the_design_allows(std::string_view stuck) {
    constexpr int kOthers = 8;
    // Where the design makes some clients wait, each waits out its whole
    // deadline: 1 s shows it (the others are served in milliseconds) without
    // making the design pay 5 s for being what it says it is.
    const bool some_wait = traits().one_client_at_a_time || traits().listener_per_worker;
    const auto deadline = harness::scaled_ms(some_wait ? 1000ms : 5000ms);
    std::vector<client::FetchResult> results(kOthers);
    {
      std::vector<std::jthread> clients;
      clients.reserve(kOthers);
      for (auto& result : results) {
        clients.emplace_back([&result, deadline, target = target()] {
          client::FetchOptions options;
          options.bytes = 100;
          options.timeout = deadline;
          result = client::fetch(target, options);
        });
      }
    }
    int served = 0;
    std::string failures;
    for (const auto& r : results) {
      if (r.outcome == client::Outcome::ok && r.received == 100) {
        ++served;
      } else if (failures.size() < 400) {
        failures += fmt::format("\n  {}: {}", client::to_string(r.outcome), r.detail);
      }
    }
    RecordProperty("other_clients_served", served);
    if (traits().one_client_at_a_time) {
      EXPECT_EQ(served, 0) << "the design serves one client at a time (model " << manifest().model
                           << "), yet " << served << " of " << kOthers
                           << " other clients were served while " << stuck;
    } else if (traits().listener_per_worker) {
      EXPECT_GE(served, 1) << "none of " << kOthers << " other clients was served within "
                           << deadline.count() << " ms while " << stuck
                           << "; only those hashed to the stuck worker's socket should wait:"
                           << failures;
    } else {
      EXPECT_EQ(served, kOthers) << kOthers - served << " of " << kOthers
                                 << " other clients were not served within " << deadline.count()
                                 << " ms while " << stuck << ":" << failures;
    }
  }
};

// Every check of the family: the size protocol (its requests make a client
// silent or slow on purpose), whatever the design.
constexpr harness::AppliesTo kSpeaksSize{.protocol = harness::WireProtocol::size};

CSD_CHECK(Concurrency, SilentClientDoesNotBlockOthers, kSpeaksSize, "concurrency/silent-client",
          Level::required,
          "While one client is connected and silent, others are served; an iterative server "
          "serializes them, as its design says.",
          "Serving others meanwhile is what makes a design concurrent; the check expects of each "
          "design what it promises.",
          {"concurrent-iterative"}) {
  client::StepResult failure;
  auto silent = client::Connection::open(target(), harness::deadline_in(10s), &failure);
  ASSERT_TRUE(silent) << "connect: " << client::to_string(failure.status);
  // Wait until the server has accepted the silent connection, so it is really in the way.
  harness::wait_until(
      [&] {
        const auto s = server_side(*silent);
        return s && s->inode != 0;
      },
      2000ms);
  expect_others_served_as_the_design_allows("one client was connected and silent");
}

CSD_CHECK(Concurrency, SlowReaderDoesNotStallOthers, kSpeaksSize, "concurrency/slow-reader",
          Level::required,
          "While one client reads a 100 MB reply slowly, others are served: no single-process "
          "server blocks in its write.",
          "A blocking write in a select/poll/epoll loop stops every client (UNP 16.2): the classic "
          "bug of the design.",
          {"select-blocking-write"}) {
  client::StepResult failure;
  auto slow = client::Connection::open(target(), harness::deadline_in(10s), &failure);
  ASSERT_TRUE(slow) << "connect: " << client::to_string(failure.status);
  slow->set_receive_buffer(4096);
  ASSERT_EQ(slow->send_all("100000000\n", harness::deadline_in(5s)).status, client::Status::ok);
  // The server has read the request and its send queue to us is backed up:
  // from here on, a write to this client would block.
  const bool backed_up = harness::wait_until(
      [&] {
        const auto s = server_side(*slow);
        return s && s->rqueue == 0 && s->wqueue > 0;
      },
      5000ms);
  RecordProperty("slow_reader_backed_up", backed_up ? "yes" : "no");
  expect_others_served_as_the_design_allows(
      "one client was reading a 100 MB reply and not reading");
}

}  // namespace
}  // namespace csd::suite
