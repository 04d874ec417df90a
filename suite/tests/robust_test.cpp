// robust/*: what a server survives. A bad request costs only its own
// connection; so does a client that resets mid-reply or half-closes at once.
// Verify behavior for the sequences: 100 garbage and over-limit requests in
// a row -> a pool keeps every worker; an echo client sends part of its data
// and goes quiet -> others are served. More clients than the server has room
// for: robust_when_full_test.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "check.hpp"
#include "evidence.hpp"
#include "others.hpp"
#include "procfs.hpp"
#include "robust.hpp"
#include "sockdiag.hpp"
#include "timeouts.hpp"
#include "wait.hpp"
#include "wire.hpp"

namespace csd::suite {
namespace {

constexpr harness::AppliesTo kEveryImplementation{};
constexpr harness::AppliesTo kSpeaksSize{.protocol = harness::WireProtocol::size};
constexpr harness::AppliesTo kSpeaksEcho{.protocol = harness::WireProtocol::echo};
// A bad request's fate is the protocol's: checked again over ::1 for a
// manifest that serves IPv6 too.
const Runs kAlsoOverIpv6{.on_ipv6_copy = true};

CSD_CHECK(
    Robust, GarbageRequest, kSpeaksSize,
    {.id = "robust/garbage-request",
     .level = Level::required,
     .statement =
         "A request that is not a number closes that connection, and the next client is served.",
     .why_level =
         "The protocol says close; a server that dies on one bad request is down for everyone.",
     .proven_by = {"dies-on-garbage"},
     .runs = kAlsoOverIpv6}) {
  expect_rejected_and_still_serving("hello\n");
}

CSD_CHECK(
    Robust, NegativeRequest, kSpeaksSize,
    {.id = "robust/negative-request",
     .level = Level::required,
     .statement =
         "A request for a negative count closes that connection, and the next client is served.",
     .why_level = "As robust/garbage-request: a sign is not a number of bytes.",
     .proven_by = {"negative-as-size"},
     .runs = kAlsoOverIpv6}) {
  expect_rejected_and_still_serving("-5\n");
}

// The default limit is 1 GiB; one byte more must be refused, not streamed.
CSD_CHECK(
    Robust, OverLimitRequest, kSpeaksSize,
    {.id = "robust/over-limit-request",
     .level = Level::required,
     .statement =
         "A request above the 1 GiB limit closes that connection, and the next client is served.",
     .why_level = "The protocol's limit (docs/PROTOCOL.md): without it one request ties up a "
                  "server for hours.",
     .proven_by = {"no-limit"},
     .runs = kAlsoOverIpv6}) {
  expect_rejected_and_still_serving("1073741825\n");
}

// More than every buffer on the way: the client resets in the middle of it
// (wire.hpp, stall_mid_reply).
constexpr uint64_t kLargeReplyBytes = uint64_t{32} << 20;
// How long the client after each reset waits for its reply (fetch()'s).
const auto kNextClientWait = client::FetchOptions{}.timeout;

CSD_CHECK(
    Robust, ResetMidReply, kEveryImplementation,
    {.id = "robust/reset-mid-reply",
     .level = Level::required,
     .statement =
         "One client after another resets mid-reply, one more than the pool has workers (two "
         "without a pool); after each the server is up, has closed the reset connection and "
         "serves the next client, and a pool ends with all its workers.",
     .why_level =
         "A client may vanish at any time; a server killed by SIGPIPE or exiting on ECONNRESET is "
         "down for everyone (UNP 5.13), and a pool whose worker exits on it, unreplaced, is down "
         "after as many resets as it has workers.",
     .proven_by = {"dies-on-reset", "pool-shrinks-on-reset"}}) {
  const uint16_t server_port = server().port();
  // The capture is evidence (each client's RST, kept on failure), not the
  // verdict, which is about the server's process: without CAP_NET_RAW the
  // check runs on without it.
  std::optional<EvidenceCapture> capture;
  capture_if_possible(capture, server_port);
  const auto listing = [&] { return capture ? (*capture)->listing() : std::string(); };

  const int workers = traits().pool() ? server().workers() : 0;
  const int resets = resets_to_outlast(traits(), workers);
  RecordProperty("resets", resets);
  // "after 3 resets (the pool has 4 workers)"
  const auto after = [&](int done) {
    return fmt::format("after {} reset{}{}", done, done == 1 ? "" : "s",
                       workers > 0 ? fmt::format(" (the pool has {} workers)", workers) : "");
  };

  for (int reset = 1; reset <= resets; ++reset) {
    StalledMidReply stalled = stall_mid_reply(target(), speaks_echo(), kLargeReplyBytes);
    ASSERT_TRUE(stalled.connection)
        << (reset > 1 ? after(reset - 1) + ", a client stalling mid-reply: " : "")
        << stalled.problem;
    const auto& server_socket = stalled.server_socket;
    if (reset == 1) {
      RecordProperty("server_send_queue_at_reset", static_cast<int>(server_socket->wqueue));
      RecordProperty("server_receive_queue_at_reset", static_cast<int>(server_socket->rqueue));
    }
    const uint64_t inode = server_socket->inode;

    const std::string not_reset =
        reset_and_confirm(*stalled.connection, capture ? &**capture : nullptr);
    ASSERT_TRUE(not_reset.empty()) << "reset " << reset << " of " << resets << ": " << not_reset;

    // The server has taken the reset in once no process of it holds the
    // connection's socket any more (or once it is gone, which is the bug).
    const bool let_go = harness::wait_until(
        [&] { return !server().running() || harness::holders_of(inode, server().tree()).empty(); },
        10s);
    // The next client first: a server that dies of the reset a moment later
    // (a SIGPIPE on its next write) has had that moment by the time it is asked.
    const client::FetchResult next = fetch(100);
    if (!server().running()) {
      FAIL() << "expected the server to stay up after a client reset its connection mid-reply "
             << "(reset " << reset << " of " << resets << "), observed its "
             << how_the_main_process_ended() << "\n"
             << listing();
    }
    EXPECT_TRUE(let_go) << "expected the server to close the reset connection (reset " << reset
                        << ", socket inode " << inode << "), observed it still held 10 s after "
                        << "the RST by " << harness::holders_of(inode, server().tree()).size()
                        << " process(es)";
    EXPECT_TRUE(
        NextClientServed(next, server_port, harness::scaled_ms(kNextClientWait), after(reset)))
        << (workers > 0 ? "the pool has " + pool_strength() : "");
    if (HasFailure())
      return;  // the next reset would meet the same server, and say nothing new
  }
  EXPECT_TRUE(pool_is_full_within(5000ms)) << after(resets);
}

constexpr uint64_t kHalfCloseReplyBytes = 100'000;  // more than one loopback segment
constexpr std::size_t kHalfCloseEchoBytes = std::size_t{32} << 10;  // fits every buffer on the way

CSD_CHECK(Robust, HalfCloseAfterRequest, kEveryImplementation,
          {.id = "robust/half-close-after-request",
           .level = Level::required,
           .statement =
               "A client that sends its request and at once shuts down its sending side still gets "
               "its whole reply (size: exactly N bytes, also for bare digits; echo: all it sent), "
               "then EOF.",
           .why_level =
               "A half-close ends only the client's sending (RFC 9293 3.6; UNP 6.6): `nc -N` and "
               "`printf 100 | nc -q0` do it, and a server that takes it for a vanished client "
               "answers nobody who does.",
           .proven_by = {"drops-on-half-close", "drops-on-half-close-echo"}}) {
  if (speaks_echo()) {
    std::vector<std::byte> pattern(kHalfCloseEchoBytes);
    client::echo_pattern(0, pattern);
    const std::string payload(reinterpret_cast<const char*>(pattern.data()), pattern.size());
    EXPECT_TRUE(WholeReplyAfterHalfClose(
        target(), payload, fmt::format("{} echo bytes", payload.size()), payload.size(), &payload));
    return;
  }
  const std::string line = fmt::format("{}\n", kHalfCloseReplyBytes);
  EXPECT_TRUE(WholeReplyAfterHalfClose(target(), line, "the request " + printable(line),
                                       kHalfCloseReplyBytes, nullptr));
  // Bare digits then EOF: EOF tells the server that nothing more will
  // arrive, which is all the protocol's grace waits to learn
  // (docs/PROTOCOL.md), as with `printf 100000 | nc -N`.
  const std::string bare = std::to_string(kHalfCloseReplyBytes);
  EXPECT_TRUE(WholeReplyAfterHalfClose(target(), bare, "the bare request " + printable(bare),
                                       kHalfCloseReplyBytes, nullptr));
}

// Not numbers, and numbers over the limit: each must cost only its connection.
constexpr std::array<std::string_view, 6> kBadRequests{
    "hello\n", "-5\n", "1073741825\n", "\n", "12a\n", "999999999999999999999999\n",
};
constexpr int kBadRequestCount = 100;

CSD_CHECK(
    Robust, GarbageKeepsThePool, kSpeaksSize,
    {.id = "robust/garbage-keeps-the-pool",
     .level = Level::required,
     .statement =
         "After 100 garbage and over-limit requests in a row, a pool still has all its workers, "
         "a single-process server is still up, and a normal request is served.",
     .why_level =
         "UNP's preforked children loop forever and survive any bad request, so the textbook "
         "pool passes without respawning; a pool whose workers exit on bad input "
         "shrinks to nothing after as many bad requests as it has workers, down for everyone.",
     .proven_by = {"pool-dies-on-garbage", "dies-on-garbage"}}) {
  if (traits().pool()) {
    ASSERT_TRUE(pool_is_full_within(5000ms));
  }
  for (int i = 0; i < kBadRequestCount; ++i) {
    const std::string_view request =
        kBadRequests.at(static_cast<std::size_t>(i) % kBadRequests.size());
    const auto what = [&] {
      return fmt::format("bad request {} of {} ({})", i + 1, kBadRequestCount, printable(request));
    };
    client::StepResult failure;
    auto connection = client::Connection::open(target(), harness::deadline_in(5s), &failure);
    ASSERT_TRUE(connection) << "expected the server to take " << what() << ", the connect got "
                            << client::to_string(failure.status)
                            << (traits().pool() ? "; the pool has " + pool_strength() : "")
                            << (harness::read_proc(server().pid()) ? ""
                                                                   : "; its main process is gone");
    // A send may fail when the server closes first: only the close matters.
    connection->send_all(request, harness::deadline_in(5s));
    ASSERT_TRUE(connection->closed_within(harness::scaled(5s)))
        << "expected " << what() << " closed within 5 s, it was still open"
        << (traits().pool() ? "; the pool has " + pool_strength() : "");
  }

  if (traits().pool()) {
    EXPECT_TRUE(pool_has_exactly_its_workers_within(3000ms))
        << "after " << kBadRequestCount << " bad requests";
  }
  ASSERT_TRUE(harness::read_proc(server().pid()))
      << "expected the server's main process alive after " << kBadRequestCount
      << " bad requests, it is gone";
  EXPECT_TRUE(GotExactReply(fetch(100), 100))
      << "after " << kBadRequestCount << " bad requests the server must still serve";
}

// Echo only. In the size protocol a partial request followed by silence is
// no partial request: digits then silence are a complete bare request after
// the 50 ms grace (size/bare-request), a non-digit is garbage at once
// (robust/garbage-request), and nothing at all is concurrency/silent-client;
// pauses shorter than the grace are concurrency/drip-fed-request. An echo
// client, though, may send part of its data, take its echo back and go
// quiet, its side open, for as long as it likes: RFC 862 has no end of a
// request but the half-close.
constexpr std::size_t kPartialBytes = 100;

CSD_CHECK(
    Robust, PartialRequestThenSilence, kSpeaksEcho,
    {.id = "robust/partial-request-then-silence",
     .level = Level::required,
     .statement =
         "While one echo client has sent 100 bytes, had them back and gone quiet with its side "
         "open, 8 other echo clients are all served; an iterative server serves none of them, "
         "as its design says (reuseport: those hashed to the quiet client's worker wait).",
     .why_level =
         "An echo exchange ends only at the client's half-close, so a quiet client is a normal "
         "one; a server that stays in a blocking read on it stops everyone (UNP 6.9). The size "
         "protocol has no such state: digits then silence are a whole request.",
     .proven_by = {"select-echo-to-the-end"}}) {
  // Its echo back first: the server has read the part, and is then free to
  // wait for the rest in whatever way its design does.
  std::string problem;
  auto quiet = echo_then_go_quiet(target(), kPartialBytes, problem);
  ASSERT_TRUE(quiet) << problem;

  // Eight others, each an echo exchange with its side kept open: a server
  // that mishandles the half-close (robust/half-close-after-request) is not
  // judged here a second time.
  const auto others = serve_others(target(), manifest());
  RecordProperty("others_served_while_quiet", others.served);
  EXPECT_TRUE(OthersServedAsTheDesignAllows(others, manifest(),
                                            "one client was quiet after part of its data"));

  // The quiet client ends its exchange: nothing more comes back, then EOF.
  quiet->shutdown_write();
  std::string rest;
  const auto end = quiet->read_to_end(harness::deadline_in(5s), &rest);
  EXPECT_TRUE(end.status == client::Status::ok && rest.empty())
      << "expected EOF and nothing more after the quiet client half-closed, got " << rest.size()
      << " bytes then " << ending(end);
}

}  // namespace
}  // namespace csd::suite
