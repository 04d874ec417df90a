// robust/*: what a server survives. A bad request costs only its own
// connection; so does a client that resets mid-reply or half-closes at once.
// Verify behavior for the sequences: 100 garbage and over-limit requests in
// a row -> a pool keeps every worker; an echo client sends part of its data
// and goes quiet -> others are served; 1,000 connections at once -> each
// served or refused, never hung (burst.hpp); 100 idle clients against 64
// descriptors -> no busy loop meanwhile, and service once they leave
// (idle_clients.hpp).
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

#include "burst.hpp"
#include "check.hpp"
#include "evidence.hpp"
#include "idle_clients.hpp"
#include "others.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "sockdiag.hpp"
#include "timeouts.hpp"
#include "wait.hpp"
#include "wire.hpp"

namespace csd::suite {
namespace {

class Robust : public ServerTest {
 public:
  using ServerTest::ServerTest;

 protected:
  // Sends `request` and expects the connection closed, with no reply bytes,
  // within a generous deadline; then expects the server to still serve.
  void expect_rejected_and_still_serving(std::string_view request) {
    EXPECT_TRUE(ClosedWithoutReply(target(), request));
    ASSERT_TRUE(harness::read_proc(server().pid()))
        << "the server's main process died after " << printable(request);
    EXPECT_TRUE(GotExactReply(fetch(100), 100))
        << "after " << printable(request) << " the server must keep serving";
  }
};

constexpr harness::AppliesTo kEveryImplementation{};
constexpr harness::AppliesTo kSpeaksSize{.protocol = harness::WireProtocol::size};
constexpr harness::AppliesTo kSpeaksEcho{.protocol = harness::WireProtocol::echo};
// A bad request's fate is the protocol's: checked again over ::1 for a
// manifest that serves IPv6 too.
constexpr Runs kAlsoOverIpv6{.on_ipv6_copy = true};

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

// 1,000 connections opened at once, before any sends its request: more than
// any pool has workers, and far above a small backlog: 16 where the command
// takes {backlog} (every reference server does), else the server's own
// (socat's is 5). Each must end cleanly one way or the other (burst.hpp).
constexpr int kBurstConnections = 1000;
constexpr int kSmallBacklog = 16;
constexpr std::size_t kBurstRequestBytes = 100;

// Starts on a full pool: its descriptors before the burst are the whole pool's.
CSD_CHECK(
    Robust, BurstAboveBacklog, kEveryImplementation,
    {.id = "robust/burst-above-backlog",
     .level = Level::recommended,
     .statement =
         "Started with a listen() backlog of 16 (where its command takes {backlog}), the server "
         "meets 1,000 connections opened at once, then a 100-byte request on each: every one is "
         "served whole or refused cleanly (refused, reset or closed before any reply byte, or "
         "turned away by the kernel's full accept queue), or left to TCP's retransmission; none "
         "whose reply the server owes hangs (waits while the server answers no one for 10 s; a "
         "server still answering others when half the budget has passed is slow, not hung), and "
         "the server is alive and serving afterwards.",
     .why_level =
         "Beyond the textbook: UNP's servers meet no burst beyond their backlog. A server must "
         "turn away what it cannot take, never leave a client hanging, and survive accept()'s "
         "errors: UNP's own Accept wrapper exits on EMFILE (err_sys), which a burst provokes.",
     .proven_by = {"dies-on-emfile"},
     .runs = {.alone_because =
                  "Its 1,000 clients and the server's draining of a full accept queue load both "
                  "CPUs: beside another check, each would time the other's load."},
     .budget = 45s,
     .server = {.backlog = kSmallBacklog, .full_pool_first = true}}) {
  const int descriptors_before = tree_descriptors();
  const BurstOutcome burst =
      run_burst(target(), manifest().protocol, kBurstConnections, kBurstRequestBytes);
  if (burst.suite_ran_out)
    CSD_SKIP(*burst.suite_ran_out);
  record_figures(burst);
  if (burst.slow > 0) {
    RecordProperty("slow", fmt::format("{} of {} clients were still waiting on a server still "
                                       "serving others when its time ran out",
                                       burst.slow, kBurstConnections));
  }
  EXPECT_EQ(burst.unclean, 0) << "expected each of " << kBurstConnections
                              << " connections served whole or refused cleanly, " << burst.unclean
                              << " were neither: " << burst.fates;
  // Serving afterwards: once the server has let the burst's connections go
  // (its tree back to the descriptors it had), or 5 s on (10 s after a slow
  // burst: it has more of them to let go); a thread that is still finishing
  // one may make it refuse until then.
  int descriptors_after = 0;
  harness::wait_until(
      [&] { return (descriptors_after = tree_descriptors()) <= descriptors_before; },
      burst.slow > 0 ? 10000ms : 5000ms);
  RecordProperty("descriptors_before", descriptors_before);
  RecordProperty("descriptors_after", descriptors_after);
  const auto main_process = harness::read_proc(server().pid());
  ASSERT_TRUE(main_process && main_process->state != 'Z')
      << "expected the server alive after a burst of " << kBurstConnections
      << " connections, its main process is gone (the burst: " << burst.fates << ")";
  // After a slow burst the server is still working through the connections
  // it left in the accept queue, the next client behind them: it may wait
  // for the rest of the budget, and a server still taking connections from
  // its queue when the budget ends is slow, not broken.
  const auto queued = [&] { return queued_connections(server().port()); };
  const auto queued_before = queued();
  const auto next = burst.slow > 0 ? fetch_until_budget_ends(100) : fetch(100);
  if (burst.slow > 0 && next.outcome == client::Outcome::timeout && next.received == 0) {
    const auto queued_after = queued();
    if (queued_before && queued_after && *queued_after < *queued_before) {
      RecordProperty("slow", fmt::format("after the burst the server was still taking "
                                         "connections from its accept queue ({} then {}) when "
                                         "its time ran out",
                                         *queued_before, *queued_after));
      return;
    }
  }
  EXPECT_TRUE(GotExactReply(next, 100))
      << "after a burst of " << kBurstConnections << " connections the server must still serve"
      << (descriptors_after > descriptors_before
              ? fmt::format(" (its processes still held {} descriptors more than before the "
                            "burst: connections it waits on)",
                            descriptors_after - descriptors_before)
              : "");
}

// The server runs with 64 descriptors (RLIMIT_NOFILE, set by csd-guard) and
// meets 100 clients that connect and say nothing.
constexpr int kFewDescriptors = 64;
constexpr int kIdleClients = 100;
// How long the server's CPU time is watched while it is out of descriptors,
// the most it may use (idle_clients.hpp says why 10%), and the most of the
// time it may be runnable: a busy loop always is, also on a machine too busy
// to give it 10% of a CPU; a server that sheds is runnable for milliseconds.
constexpr auto kStallWindow = 1000ms;
constexpr int kMostCpuPercent = 10;
constexpr int kMostRunnablePercent = 50;

CSD_CHECK(
    Robust, DescriptorExhaustion, kEveryImplementation,
    {.id = "robust/descriptor-exhaustion",
     .level = Level::recommended,
     .statement =
         "Started with RLIMIT_NOFILE 64 and met by 100 idle clients, the server tree, once it "
         "has stopped accepting them, uses under 10% of one CPU over a 1 s stall, no thread of it "
         "runnable (on a CPU or waiting for one) for half of it, and once the clients leave a "
         "normal request is served within 10 s.",
     .why_level =
         "Beyond the textbook: accept() failing with EMFILE leaves the connection queued and "
         "the listener readable, so a loop that only retries spins for as long as the clients "
         "stay. The reference servers shed such connections with a spare descriptor "
         "(impl/lib/sockets.cpp), and report the queue drained once the spare finds it empty: "
         "on Linux accept() says EMFILE even then, which made csd-epoll-edge's accept-pending "
         "round retry at once, at 100% CPU, until this check found it. Designs that never run "
         "out (fork, a pool blocked in accept()) pass trivially.",
     .proven_by = {"spins-on-emfile"},
     .runs = {.alone_because = "It measures the server's CPU time while it is out of descriptors "
                               "(under 10% of one CPU), which busy CPUs would distort."},
     .budget = 30s,
     .server = {.nofile = kFewDescriptors}}) {
  IdleStall held = hold_with_idle_clients(server(), target(), kIdleClients, kStallWindow);
  record_figures(held);
  const auto& [used_ms, runnable_ms, window] = held.cpu;
  ASSERT_TRUE(held.settling.settled)
      << "expected the server to stop accepting the " << held.idle.connected.size()
      << " idle clients within 12 s (accepted all it can, or ran out of descriptors); the number "
      << "not accepted was still changing: " << held.settling.not_accepted;
  EXPECT_LT(used_ms * 100, kMostCpuPercent * window.count())
      << "expected the server tree to use under " << kMostCpuPercent << "% of one CPU while "
      << held.idle.connected.size() << " idle clients held it (RLIMIT_NOFILE " << kFewDescriptors
      << "), it used " << used_ms << " ms in " << window.count() << " ms; its main process held "
      << held.main_process_fds << " descriptors"
      << (held.idle.refused > 0 ? fmt::format(", {} connects failed", held.idle.refused) : "");
  EXPECT_LT(runnable_ms * 100, kMostRunnablePercent * window.count())
      << "expected no thread of the server runnable " << kMostRunnablePercent << "% of the time "
      << "while " << held.idle.connected.size() << " idle clients held it (RLIMIT_NOFILE "
      << kFewDescriptors << "), one of its threads was runnable " << runnable_ms << " ms in "
      << window.count() << " ms (the tree on a CPU " << used_ms << " ms): a busy loop";

  held.idle.connected.clear();  // the clients leave: their descriptors come back to the server
  EXPECT_TRUE(GotExactReply(fetch_within(100, 10000ms), 100))
      << "once the " << kIdleClients << " idle clients had left, a normal request must be "
      << "served within 10 s (RLIMIT_NOFILE " << kFewDescriptors << ")";
}

}  // namespace
}  // namespace csd::suite
