// Hostile clients (issue 11). Verify behavior for the sequences: request, then
// at once shutdown(SHUT_WR) -> the whole reply, then EOF; one client drips its
// request a byte at a time -> eight others are served meanwhile (iterative:
// none, as its design says); 100 garbage and over-limit requests in a row ->
// a pool keeps every worker, a single process stays up, and both still serve;
// an echo client sends part of its data and goes quiet -> others are served.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "check.hpp"
#include "netns.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "sockdiag.hpp"
#include "timeouts.hpp"
#include "wait.hpp"

namespace csd::suite {
namespace {

using Clock = std::chrono::steady_clock;

// The kernel's view of the server's end of `c`; inode 0 until it is accepted.
std::optional<harness::TcpSocketInfo> server_side(const client::Connection& c) {
  const auto local = c.local_address();
  const auto peer = c.peer_address();
  return harness::tcp_socket_info(reinterpret_cast<const sockaddr*>(&peer.storage), peer.len,
                                  reinterpret_cast<const sockaddr*>(&local.storage), local.len);
}

class Hostile : public ServerTest {
 public:
  using ServerTest::ServerTest;

 protected:
  [[nodiscard]] bool speaks_echo() const {
    return manifest().protocol == harness::WireProtocol::echo;
  }

  // Live members of the tree (a zombie is a dead worker, not a member).
  std::vector<pid_t> live_tree() {
    std::vector<pid_t> live;
    for (const pid_t pid : server().tree()) {
      if (const auto info = harness::read_proc(pid); info && info->state != 'Z')
        live.push_back(pid);
    }
    return live;
  }

  // Threads a runtime may add to the server ($CSD_RUNTIME_THREADS, as in
  // resource_shape_test.cpp: the tsan build's background thread).
  static std::size_t runtime_threads() {
    const char* text = std::getenv("CSD_RUNTIME_THREADS");
    return text == nullptr ? 0 : static_cast<std::size_t>(std::strtoul(text, nullptr, 10));
  }

  // How a read to the end ended, in the words of a failure message.
  static std::string_view ending(const client::StepResult& read) {
    return read.status == client::Status::ok ? "EOF" : client::to_string(read.status);
  }

  static std::string printable(std::string_view bytes) {
    std::string out = "\"";
    for (const char c : bytes) out += c == '\n' ? std::string("\\n") : std::string(1, c);
    return out + "\"";
  }
};

constexpr harness::AppliesTo kEveryImplementation{};
constexpr harness::AppliesTo kSpeaksSize{.protocol = harness::WireProtocol::size};

// ---- robust/half-close-after-request ------------------------------------------

constexpr uint64_t kHalfCloseReplyBytes = 100'000;  // more than one loopback segment
constexpr std::size_t kHalfCloseEchoBytes = std::size_t{32} << 10;  // fits every buffer on the way

CSD_CHECK(Hostile, HalfCloseAfterRequestGetsWholeReply, kEveryImplementation,
          "robust/half-close-after-request", Level::required,
          "A client that sends its request and at once shuts down its sending side still gets "
          "its whole reply (size: exactly N bytes, also for bare digits; echo: all it sent), "
          "then EOF.",
          "A half-close ends only the client's sending (RFC 9293 3.6; UNP 6.6): `nc -N` and "
          "`printf 100 | nc -q0` do it, and a server that takes it for a vanished client "
          "answers nobody who does.",
          {"drops-on-half-close", "drops-on-half-close-echo"}) {
  // Sends `request`, shuts down the write side before reading anything, then
  // reads to EOF; judges what came back with `whole` (the size protocol's
  // reply bytes are any bytes: only their count matters there).
  const auto half_closed_exchange = [&](std::string_view request, std::size_t expected_bytes,
                                        const std::string& what, auto whole) {
    client::StepResult failure;
    auto connection = client::Connection::open(target(), harness::deadline_in(10s), &failure);
    ASSERT_TRUE(connection) << "connect: " << client::to_string(failure.status);
    const auto sent = connection->send_all(request, harness::deadline_in(5s));
    ASSERT_EQ(sent.status, client::Status::ok) << "sending " << what << ": " << sent.call;
    connection->shutdown_write();
    std::string reply;
    const auto read = connection->read_to_end(harness::deadline_in(10s), &reply);
    EXPECT_TRUE(read.status == client::Status::ok && whole(reply))
        << "sent " << what << " and half-closed at once: expected " << expected_bytes
        << " bytes then EOF, got " << reply.size() << " bytes"
        << (reply.size() == expected_bytes ? " (changed)" : "") << " then " << ending(read);
  };
  if (speaks_echo()) {
    std::vector<std::byte> pattern(kHalfCloseEchoBytes);
    client::echo_pattern(0, pattern);
    const std::string payload(reinterpret_cast<const char*>(pattern.data()), pattern.size());
    half_closed_exchange(payload, payload.size(), fmt::format("{} echo bytes", payload.size()),
                         [&](const std::string& reply) { return reply == payload; });
    return;
  }
  const auto exactly_n = [](const std::string& reply) {
    return reply.size() == kHalfCloseReplyBytes;
  };
  const std::string line = fmt::format("{}\n", kHalfCloseReplyBytes);
  half_closed_exchange(line, kHalfCloseReplyBytes, "the request " + printable(line), exactly_n);
  // Bare digits then EOF: EOF tells the server that nothing more will
  // arrive, which is all the protocol's grace waits to learn
  // (docs/PROTOCOL.md), as with `printf 100000 | nc -N`.
  const std::string bare = std::to_string(kHalfCloseReplyBytes);
  half_closed_exchange(bare, kHalfCloseReplyBytes, "the bare request " + printable(bare),
                       exactly_n);
}

// ---- concurrency/drip-fed-request -----------------------------------------------

// 20 digits, the most a request may have (impl/lib/request_reader.hpp), then
// "\n": a request for 100 bytes whose leading zeros make it 21 bytes long,
// so dripping it takes long enough for eight others to be served meanwhile.
constexpr std::string_view kDrippedRequest = "00000000000000000100\n";
constexpr uint64_t kDrippedReplyBytes = 100;
// The pace of the drip, well under the protocol's 50 ms bare-digit grace, so
// the server never takes a pause for the end of the request. This is pacing,
// not synchronisation: nothing is awaited by it. It is not scaled: a slower
// drip would turn the pauses into requests.
constexpr auto kDripPace = 10ms;
// A pause this long (the suite's thread descheduled on a busy machine) may
// already be the end of a bare request to the server: the attempt proves
// nothing either way and is made again, up to kDripAttempts times.
constexpr auto kWidestFairGap = 40ms;
constexpr int kDripAttempts = 3;
constexpr int kOthersWhileDripping = 8;

struct OtherClient {
  client::FetchResult result;
  Clock::time_point served_at{};  // when its whole reply had arrived
};

struct DripAttempt {
  std::chrono::milliseconds widest_gap{0};  // between two sends, as the suite made them
  client::StepResult dripped;               // the last send's
  Clock::time_point started{};              // when the others started
  Clock::time_point last_byte_sent{};       // when the last byte's send began
  std::vector<OtherClient> others;
  [[nodiscard]] bool paced() const { return widest_gap < kWidestFairGap; }
};

// One client drips kDrippedRequest; once the server has read its first
// byte, the others each make one 100-byte exchange at the same time.
DripAttempt drip_while_others_come(const client::Target& target,
                                   std::optional<client::Connection>& dripper) {
  DripAttempt attempt;
  client::StepResult failure;
  dripper = client::Connection::open(target, harness::deadline_in(10s), &failure);
  if (!dripper) {
    attempt.dripped = failure;
    return attempt;
  }
  dripper->set_nodelay();  // one byte per segment, as a drip is meant
  attempt.dripped = dripper->send_all(kDrippedRequest.substr(0, 1), harness::deadline_in(5s));
  auto previous_send = Clock::now();
  // The server has accepted the dripper and read its first byte: from here
  // on it is in the middle of that request. (A server that never reads it
  // is judged by what the others get.)
  harness::wait_until(
      [&] {
        const auto s = server_side(*dripper);
        return s && s->inode != 0 && s->rqueue == 0;
      },
      25ms);
  attempt.others.resize(kOthersWhileDripping);
  attempt.started = Clock::now();
  std::vector<std::jthread> clients;
  clients.reserve(kOthersWhileDripping);
  for (auto& other : attempt.others) {
    clients.emplace_back([&other, target] {
      client::FetchOptions options;
      options.bytes = 100;
      options.timeout = harness::scaled_ms(5000ms);
      // Its start plus its latency (from the connect to the last reply
      // byte): when the reply was whole, not when fetch() saw the EOF after it.
      const auto started = Clock::now();
      other.result = client::fetch(target, options);
      other.served_at = started + other.result.latency;
    });
  }
  for (std::size_t i = 1;
       i < kDrippedRequest.size() && attempt.dripped.status == client::Status::ok; ++i) {
    std::this_thread::sleep_until(previous_send + kDripPace);  // pacing (see kDripPace)
    // Taken just before the send: until then the request is certainly
    // incomplete, so a reply finished earlier came while the client dripped.
    const auto now = Clock::now();
    attempt.widest_gap =
        std::max(attempt.widest_gap,
                 std::chrono::duration_cast<std::chrono::milliseconds>(now - previous_send));
    previous_send = now;
    attempt.last_byte_sent = now;
    if (!attempt.paced())
      break;  // the server may have ended the request at that pause: this attempt is void
    attempt.dripped = dripper->send_all(kDrippedRequest.substr(i, 1), harness::deadline_in(5s));
  }
  clients.clear();  // joins them: every other is served, or failed at its deadline
  return attempt;
}

CSD_CHECK(Hostile, DripFedRequestDoesNotStallOthers, kSpeaksSize, "concurrency/drip-fed-request",
          Level::required,
          "While one client drips its request a byte every 10 ms, 8 others are all served before "
          "its last byte; an iterative server serves none of them meanwhile, as its design says "
          "(reuseport: those hashed to the dripper's worker wait).",
          "A request may come a byte per segment (a slow link, a hostile client); a server that "
          "waits for the rest of one request in a blocking read stops every client: the "
          "denial of service UNP 6.9 shows on its own select() server.",
          {"select-blocking-read"}) {
  // The others have the drip's 200 ms: any lost packet of theirs (200 ms
  // RTO at least, 1 s for a SYN) makes one late, which this check cannot
  // tell from a server that made it wait; with 8 exchanges at 5% loss most
  // attempts have one.
  if (const auto& network = harness::network_conditions(); network && network->loss_percent) {
    CSD_SKIP(
        fmt::format("--network loss {}%: a lost packet delays an other client past the "
                    "200 ms drip (RTO >= 200 ms, SYN 1 s), as a stalling server would",
                    *network->loss_percent));
  }
  std::optional<client::Connection> dripper;
  DripAttempt attempt;
  std::string void_gaps;
  int attempts = 0;
  while (attempts < kDripAttempts) {
    ++attempts;
    attempt = drip_while_others_come(target(), dripper);
    if (attempt.paced())
      break;
    void_gaps += fmt::format("{}{} ms", void_gaps.empty() ? "" : ", ", attempt.widest_gap.count());
  }
  RecordProperty("drip_attempts", attempts);
  if (!attempt.paced()) {
    CSD_SKIP(
        fmt::format("could not drip a request with every pause under {} ms in {} attempts "
                    "(widest pauses: {}): the machine is too busy to pace it",
                    kWidestFairGap.count(), kDripAttempts, void_gaps));
  }
  // Whether the dripper itself is served is size/split-request's concern
  // (its request comes in pieces too); this check judges the others. A
  // server that ends the dripper's connection mid-request (it took the first
  // bytes for the whole request) has nobody in its way: then every other
  // must simply be served.
  const bool dripper_dropped = attempt.dripped.status != client::Status::ok;
  if (dripper_dropped) {
    RecordProperty("dripper",
                   fmt::format("{} in {} mid-request", client::to_string(attempt.dripped.status),
                               attempt.dripped.call));
  } else {
    const auto reply = dripper->read_to_end(harness::deadline_in(10s));
    RecordProperty("dripper", fmt::format("{} bytes then {}", reply.bytes, ending(reply)));
  }
  int served_meanwhile = 0;
  int served_later = 0;
  std::string failures;
  Clock::time_point last_served = attempt.started;
  for (const auto& other : attempt.others) {
    if (other.result.outcome == client::Outcome::ok && other.result.received == 100) {
      ++(other.served_at < attempt.last_byte_sent ? served_meanwhile : served_later);
      last_served = std::max(last_served, other.served_at);
    } else if (failures.size() < 300) {
      failures +=
          fmt::format("; {}: {}", client::to_string(other.result.outcome), other.result.detail);
    }
  }
  const auto since_start = [&](Clock::time_point t) {
    return static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(t - attempt.started).count());
  };
  RecordProperty("others_served_during_drip", served_meanwhile);
  RecordProperty("others_served_after_drip", served_later);
  // The margin: when the last other had its reply, against the drip's end.
  RecordProperty("last_other_served_ms", since_start(last_served));
  RecordProperty("drip_ended_ms", since_start(attempt.last_byte_sent));
  RecordProperty("widest_drip_gap_ms", static_cast<int>(attempt.widest_gap.count()));
  const std::string observed =
      fmt::format("{} of {} others were served while it dripped ({} ms), {} after its last byte{}",
                  served_meanwhile, kOthersWhileDripping, since_start(attempt.last_byte_sent),
                  served_later, failures);
  if (traits().one_client_at_a_time) {
    EXPECT_TRUE(served_meanwhile == 0 && served_later == kOthersWhileDripping)
        << "the design serves one client at a time (model " << manifest().model
        << "): expected the others served only after the dripper's request; " << observed;
  } else if (dripper_dropped) {
    EXPECT_EQ(served_meanwhile + served_later, kOthersWhileDripping)
        << "expected all " << kOthersWhileDripping << " others served (the server closed the "
        << "dripper mid-request); " << observed;
  } else if (traits().listener_per_worker) {
    // A client hashed to the dripper's worker's own socket waits behind it.
    EXPECT_TRUE(served_meanwhile >= 1 && served_meanwhile + served_later == kOthersWhileDripping)
        << "expected the others not hashed to the dripper's worker served while one client "
        << "dripped its request, and all in the end; " << observed;
  } else {
    EXPECT_EQ(served_meanwhile, kOthersWhileDripping)
        << "expected all " << kOthersWhileDripping
        << " others served while one client dripped its request; " << observed;
  }
}

// ---- robust/garbage-keeps-the-pool ---------------------------------------------

// Not numbers, and numbers over the limit: each must cost only its connection.
constexpr std::array<std::string_view, 6> kBadRequests{
    "hello\n", "-5\n", "1073741825\n", "\n", "12a\n", "999999999999999999999999\n",
};
constexpr int kBadRequestCount = 100;

CSD_CHECK(Hostile, GarbageKeepsThePool, kSpeaksSize, "robust/garbage-keeps-the-pool",
          Level::required,
          "After 100 garbage and over-limit requests in a row, a pool still has all its workers, "
          "a single-process server is still up, and a normal request is served.",
          "UNP's preforked children loop forever and survive any bad request, so the textbook "
          "pool passes without respawning; a pool whose workers exit on bad input "
          "shrinks to nothing after as many bad requests as it has workers, down for everyone.",
          {"pool-dies-on-garbage", "dies-on-garbage"}) {
  const int workers = server().workers();
  if (traits().pool()) {
    ASSERT_TRUE(pool_is_full_within(5000ms));
  }
  // The pool's strength now, one line: "4 of 4 workers (5 live processes)".
  const auto strength = [&] {
    if (traits().process_pool()) {
      const auto live = live_tree().size();
      return fmt::format("{} of {} workers ({} live process{})", live == 0 ? 0 : live - 1, workers,
                         live, live == 1 ? "" : "es");
    }
    return fmt::format("{} threads for {} workers", harness::thread_ids(server().pid()).size(),
                       workers);
  };

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
                            << (traits().pool() ? "; the pool has " + strength() : "")
                            << (harness::read_proc(server().pid()) ? ""
                                                                   : "; its main process is gone");
    // A send may fail when the server closes first: only the close matters.
    connection->send_all(request, harness::deadline_in(5s));
    ASSERT_TRUE(connection->closed_within(harness::scaled(5s)))
        << "expected " << what() << " closed within 5 s, it was still open"
        << (traits().pool() ? "; the pool has " + strength() : "");
  }

  if (traits().process_pool()) {
    const auto expected = static_cast<std::size_t>(workers) + 1;
    std::size_t live = 0;
    const bool full =
        harness::wait_until([&] { return (live = live_tree().size()) == expected; }, 3000ms);
    RecordProperty("processes_after", static_cast<int>(live));
    EXPECT_TRUE(full) << "expected parent + " << workers << " workers after " << kBadRequestCount
                      << " bad requests, observed " << live << " live processes";
  } else if (traits().thread_pool()) {
    const auto expected = static_cast<std::size_t>(workers) + 1;
    std::size_t threads = 0;
    const bool full = harness::wait_until(
        [&] {
          threads = harness::thread_ids(server().pid()).size();
          return threads >= expected && threads <= expected + runtime_threads();
        },
        3000ms);
    RecordProperty("threads_after", static_cast<int>(threads));
    EXPECT_TRUE(full) << "expected main + " << workers << " worker threads after "
                      << kBadRequestCount << " bad requests, observed " << threads << " threads";
  }
  ASSERT_TRUE(harness::read_proc(server().pid()))
      << "expected the server's main process alive after " << kBadRequestCount
      << " bad requests, it is gone";
  EXPECT_TRUE(GotExactReply(fetch(100), 100))
      << "after " << kBadRequestCount << " bad requests the server must still serve";
}

// ---- robust/partial-request-then-silence ------------------------------------------

// Echo only. In the size protocol a partial request followed by silence is
// no partial request: digits then silence are a complete bare request after
// the 50 ms grace (size/bare-request), a non-digit is garbage at once
// (robust/garbage-request), and nothing at all is concurrency/silent-client;
// pauses shorter than the grace are concurrency/drip-fed-request. An echo
// client, though, may send part of its data, take its echo back and go
// quiet, its side open, for as long as it likes: RFC 862 has no end of a
// request but the half-close.
constexpr harness::AppliesTo kSpeaksEcho{.protocol = harness::WireProtocol::echo};
constexpr std::size_t kPartialBytes = 100;

CSD_CHECK(Hostile, PartialRequestThenSilenceDoesNotStallOthers, kSpeaksEcho,
          "robust/partial-request-then-silence", Level::required,
          "While one echo client has sent 100 bytes, had them back and gone quiet with its side "
          "open, 8 other echo clients are all served; an iterative server serves none of them, "
          "as its design says (reuseport: those hashed to the quiet client's worker wait).",
          "An echo exchange ends only at the client's half-close, so a quiet client is a normal "
          "one; a server that stays in a blocking read on it stops everyone (UNP 6.9). The size "
          "protocol has no such state: digits then silence are a whole request.",
          {"select-echo-to-the-end"}) {
  client::StepResult failure;
  auto quiet = client::Connection::open(target(), harness::deadline_in(10s), &failure);
  ASSERT_TRUE(quiet) << "connect: " << client::to_string(failure.status);
  std::vector<std::byte> payload(kPartialBytes);
  client::echo_pattern(0, payload);
  ASSERT_EQ(quiet->send_all(payload, harness::deadline_in(5s)).status, client::Status::ok);
  // Its echo back first: the server has read the part, and is then free to
  // wait for the rest in whatever way its design does.
  std::vector<std::byte> echoed(kPartialBytes);
  const auto back = quiet->read_exact(kPartialBytes, harness::deadline_in(5s), echoed);
  ASSERT_TRUE(back.status == client::Status::ok && echoed == payload)
      << "expected the quiet client's " << kPartialBytes << " bytes echoed before it went quiet, "
      << "got " << back.bytes << (back.status == client::Status::ok ? " (changed)" : " then ")
      << (back.status == client::Status::ok ? "" : client::to_string(back.status));

  constexpr int kOthers = 8;
  // Each other sends 100 bytes and waits for their echo, its side open: a
  // server that mishandles the half-close (robust/half-close-after-request)
  // is not judged here a second time.
  // Where the design makes some wait, 1 s shows it (as in concurrency/*).
  const bool some_wait = traits().one_client_at_a_time || traits().listener_per_worker;
  const auto wait = harness::scaled_ms(some_wait ? 1000ms : 5000ms);
  std::vector<std::string> problems(kOthers);  // empty: served
  {
    std::vector<std::jthread> clients;
    clients.reserve(kOthers);
    for (auto& problem : problems) {
      clients.emplace_back([&problem, &payload, wait, target = target()] {
        const auto deadline = client::Clock::now() + wait;
        client::StepResult step;
        auto other = client::Connection::open(target, deadline, &step);
        if (other)
          step = other->send_all(payload, deadline);
        std::vector<std::byte> echo(payload.size());
        if (other && step.status == client::Status::ok)
          step = other->read_exact(payload.size(), deadline, echo);
        if (step.status != client::Status::ok) {
          problem = fmt::format("{} in {} after {} bytes", client::to_string(step.status),
                                step.call.empty() ? "echo" : step.call, step.bytes);
        } else if (echo != payload) {
          problem = "the echo came back changed";
        }
      });
    }
  }
  // "; 8 x timeout in recv after 0 bytes": each distinct problem once, counted.
  const auto served = static_cast<int>(std::count(problems.begin(), problems.end(), ""));
  std::map<std::string, int> tally;
  for (const auto& problem : problems) {
    if (!problem.empty())
      ++tally[problem];
  }
  std::string failures;
  for (const auto& [problem, count] : tally) failures += fmt::format("; {} x {}", count, problem);
  RecordProperty("others_served_while_quiet", served);
  const std::string observed = fmt::format("{} of {} others were served within {} ms{}", served,
                                           kOthers, wait.count(), failures);
  if (traits().one_client_at_a_time) {
    EXPECT_EQ(served, 0) << "the design serves one client at a time (model " << manifest().model
                         << "): expected no other served while one client was quiet; " << observed;
  } else if (traits().listener_per_worker) {
    EXPECT_GE(served, 1) << "expected the others not hashed to the quiet client's worker served "
                         << "while it was quiet; " << observed;
  } else {
    EXPECT_EQ(served, kOthers) << "expected all " << kOthers << " others served while one "
                               << "client was quiet after part of its data; " << observed;
  }

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
