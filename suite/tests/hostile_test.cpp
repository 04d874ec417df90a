// Hostile clients (issue 11). Verify behavior for the sequences: request, then
// at once shutdown(SHUT_WR) -> the whole reply, then EOF; one client drips its
// request a byte at a time -> eight others are served meanwhile (iterative:
// none, as its design says); 100 garbage and over-limit requests in a row ->
// a pool keeps every worker, a single process stays up, and both still serve;
// an echo client sends part of its data and goes quiet -> others are served;
// 1,000 connections at once -> each served or refused, never hung, and the
// server alive and serving afterwards; 100 idle clients against 64
// descriptors -> no busy loop meanwhile, and service once they leave.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "check.hpp"
#include "netns.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "sockdiag.hpp"
#include "timeouts.hpp"
#include "wait.hpp"
#include "wire.hpp"

namespace csd::suite {
namespace {

using Clock = std::chrono::steady_clock;

class Hostile : public ServerTest {
 public:
  using ServerTest::ServerTest;

 protected:
  [[nodiscard]] bool speaks_echo() const {
    return manifest().protocol == harness::WireProtocol::echo;
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
// already be the end of a bare request to the server. Where the design makes
// the others wait (iterative, reuseport), the verdict depends on when the
// request ended: such an attempt proves nothing either way and is made
// again, up to kDripAttempts times. Elsewhere it does not matter: a server
// that ends the request early must still serve the others, and one that
// blocks on the dripper stalls them whatever the pace.
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
                                   std::optional<client::Connection>& dripper,
                                   bool void_at_a_long_pause) {
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
    if (void_at_a_long_pause && !attempt.paced())
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
  // See kWidestFairGap: only these designs' verdicts depend on the pace.
  const bool pacing_matters = traits().one_client_at_a_time || traits().listener_per_worker;
  std::optional<client::Connection> dripper;
  DripAttempt attempt;
  std::string void_gaps;
  int attempts = 0;
  while (attempts < kDripAttempts) {
    ++attempts;
    attempt = drip_while_others_come(target(), dripper, pacing_matters);
    if (attempt.paced() || !pacing_matters)
      break;
    void_gaps += fmt::format("{}{} ms", void_gaps.empty() ? "" : ", ", attempt.widest_gap.count());
  }
  RecordProperty("drip_attempts", attempts);
  if (pacing_matters && !attempt.paced()) {
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

// ---- robust/burst-above-backlog ---------------------------------------------------

// 1,000 connections opened at once, before any sends its request: more than
// any pool has workers, and far above a small backlog: 16 where the command
// takes {backlog} (every reference server does), else the server's own
// (socat's is 5). Each must end cleanly one way or the other.
constexpr int kBurstConnections = 1000;
constexpr int kSmallBacklog = 16;
constexpr std::size_t kBurstRequestBytes = 100;
constexpr rlim_t kSuiteDescriptors = 4096;  // the burst's, and the suite's own
// How long the connects may take: a SYN the kernel drops over a full accept
// queue is retried at 1 s and 3 s; a connect not completed by then is a
// refusal the client's own connect() would report as ETIMEDOUT.
constexpr auto kBurstConnectWait = 10s;
// Every accepted connection's whole exchange, one at a time on an iterative
// server included (1,000 x 100 bytes take well under a second there).
constexpr auto kBurstReplyWait = 30s;
// A poll this long with no client event is a lull: the moment to ask the
// kernel whether the clients still waiting can get anything from the server.
constexpr auto kBurstLull = 100ms;

struct BurstClient {
  std::optional<client::Connection> connection;
  std::string received;
  std::string fate;  // empty while undecided: "served", or how it was refused or failed
  bool served = false;
  bool clean = false;  // served, or refused: never hung, never cut short
};

// Polls the undecided clients' sockets for `events` until `handle` has
// decided each, or the deadline passes, or `in_lull` (called when nothing
// happened for kBurstLull) returns true.
template <typename Handle, typename InLull>
void poll_undecided(std::vector<BurstClient>& clients, short events,
                    std::chrono::steady_clock::time_point deadline, Handle handle, InLull in_lull) {
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<BurstClient*> owners;
    for (auto& c : clients) {
      if (c.fate.empty() && c.connection) {
        fds.push_back({.fd = c.connection->fd(), .events = events, .revents = 0});
        owners.push_back(&c);
      }
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (fds.empty() || left.count() <= 0)
      return;
    const auto wait = std::min(left + 1ms, std::chrono::milliseconds(kBurstLull));
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR)
      return;
    if (ready == 0 && in_lull())
      return;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0)
        handle(*owners[i]);
    }
  }
}

// "refused: reset in recv" etc.: how a client with no reply byte was turned away.
std::string refusal(std::string_view how) { return fmt::format("refused ({})", how); }

class HostileSmallBacklog : public Hostile {
 public:
  explicit HostileSmallBacklog(const harness::Manifest& implementation) : Hostile(implementation) {
    set_backlog(kSmallBacklog);
    start_with_full_pool();  // its descriptors before the burst are the whole pool's
  }

 protected:
  // The server's accept queue(s), from the kernel; empty if sock_diag fails.
  std::vector<harness::ListenQueue> accept_queues() {
    try {
      return harness::tcp_listen_queues(target().port);
    } catch (const std::system_error&) {
      return {};
    }
  }

  // Descriptors open in the server's whole tree.
  int tree_descriptors() {
    int open = 0;
    for (const pid_t pid : server().tree()) open += std::max(harness::open_fd_count(pid), 0);
    return open;
  }

  // "a backlog of 16", "backlogs of 16, 16, 16, 16" (SO_REUSEPORT): what the
  // burst was far above, as the kernel has it.
  std::string describe_backlogs() {
    const auto queues = accept_queues();
    if (queues.empty())
      return "backlog unknown";
    RecordProperty("listen_backlog", static_cast<int>(queues.front().backlog));
    std::vector<uint32_t> backlogs(queues.size());
    std::transform(queues.begin(), queues.end(), backlogs.begin(),
                   [](const harness::ListenQueue& q) { return q.backlog; });
    return fmt::format("{} {}", queues.size() == 1 ? "a backlog of" : "backlogs of",
                       fmt::join(backlogs, ", "));
  }

  // True when every accept queue is full: the kernel drops new SYNs until
  // the server accepts.
  bool accept_queues_full() {
    const auto queues = accept_queues();
    return !queues.empty() && std::all_of(queues.begin(), queues.end(),
                                          [](const harness::ListenQueue& q) { return q.full(); });
  }

  // Whom a client still waiting waits on, from both kernels' view of its
  // connection (sock_diag for the server's end, SIOCOUTQ for the client's).
  enum class WaitsOn {
    server,           // it holds the request, nothing in flight: the server owes the reply
    not_admitted,     // no socket on the server's side, though the client's connect()
                      // succeeded: the handshake's last ACK (a SYN cookie's) was dropped
                      // over the full accept queue; only a retransmission can admit it
    tcp_backoff,      // request or reply bytes unacknowledged: one side's TCP is
                      // retransmitting, on its exponential backoff
    server_finished,  // the server has closed, all it sent acknowledged: its FIN is on
                      // the way, and what the client has is all it gets
  };
  static WaitsOn waits_on(const client::Connection& connection) {
    std::optional<harness::TcpSocketInfo> server_end;
    try {
      server_end = server_side(connection);
    } catch (const std::exception&) {
      return WaitsOn::server;  // unknown: keep waiting
    }
    if (!server_end || server_end->state == TCP_SYN_RECV)
      return WaitsOn::not_admitted;
    if (int unacknowledged = 0;
        ::ioctl(connection.fd(), SIOCOUTQ, &unacknowledged) == 0 && unacknowledged > 0)
      return WaitsOn::tcp_backoff;
    // The server's unacknowledged bytes (its FIN counts as one).
    const bool server_closed =
        server_end->state != TCP_ESTABLISHED && server_end->state != TCP_CLOSE_WAIT;
    if (server_end->wqueue > (server_closed ? 1U : 0U))
      return WaitsOn::tcp_backoff;
    return server_closed ? WaitsOn::server_finished : WaitsOn::server;
  }
};

CSD_CHECK(HostileSmallBacklog, BurstAboveBacklogServedOrRefused, kEveryImplementation,
          "robust/burst-above-backlog", Level::recommended,
          "Started with a listen() backlog of 16 (where its command takes {backlog}), the server "
          "meets 1,000 connections opened at once, then a 100-byte request on each: every one is "
          "served whole or refused cleanly (refused, reset or closed before any reply byte, or "
          "turned away by the kernel's full accept queue), or left to TCP's retransmission; none "
          "whose reply the server owes hangs 30 s, and the server is alive and serving "
          "afterwards.",
          "Beyond the textbook: UNP's servers meet no burst beyond their backlog. A server must "
          "turn away what it cannot take, never leave a client hanging, and survive accept()'s "
          "errors: UNP's own Accept wrapper exits on EMFILE (err_sys), which a burst provokes.",
          {"dies-on-emfile"}) {
  // The suite's side holds all 1,000 at once: a soft limit of 1024 (a
  // common default) is raised towards the hard one, for the suite only (the
  // server has already inherited its own).
  if (rlimit limit{};
      ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < kSuiteDescriptors) {
    limit.rlim_cur = std::min<rlim_t>(kSuiteDescriptors, limit.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  const auto address = client::SockAddr::parse(target().host, target().port);
  ASSERT_TRUE(address) << "cannot parse the server's address " << target().host;
  std::vector<std::byte> pattern(kBurstRequestBytes);
  client::echo_pattern(0, pattern);
  const std::string echo_payload(reinterpret_cast<const char*>(pattern.data()), pattern.size());
  const std::string request =
      speaks_echo() ? echo_payload : fmt::format("{}\n", kBurstRequestBytes);

  const std::string backlog = describe_backlogs();
  const int descriptors_before = tree_descriptors();
  const auto started = Clock::now();
  std::vector<BurstClient> clients(kBurstConnections);
  for (auto& c : clients) {
    client::StepResult failure;
    c.connection = client::Connection::start(*address, &failure);
    if (c.connection)
      continue;
    if (failure.status == client::Status::refused || failure.status == client::Status::reset) {
      c.fate = refusal(fmt::format("{} in connect", client::to_string(failure.status)));
      c.clean = true;
    } else {
      // The suite's own side (no port, no descriptor) ran out: nothing is proven.
      CSD_SKIP(fmt::format("the suite could not start connection {} of {}: {} ({})",
                           &c - clients.data() + 1, kBurstConnections, failure.call,
                           std::generic_category().message(failure.error)));
    }
  }
  // Every connect completes or fails; the server has not read anything yet.
  // A server that takes each connection only after its request (iterative,
  // a busy pool) keeps its queue full until then: its kernel drops the other
  // SYNs, and the connects still pending in a lull are refused.
  const auto connect_deadline = harness::deadline_in(kBurstConnectWait);
  bool queue_was_full = false;
  poll_undecided(
      clients, POLLOUT, connect_deadline,
      [](BurstClient& c) {
        int error = 0;
        socklen_t len = sizeof error;
        ::getsockopt(c.connection->fd(), SOL_SOCKET, SO_ERROR, &error, &len);
        if (error == 0) {
          c.fate = "connected";
          return;
        }
        c.fate = refusal(std::generic_category().message(error) + " in connect");
        c.clean = error == ECONNREFUSED || error == ECONNRESET;
      },
      [&] { return queue_was_full = accept_queues_full(); });
  for (auto& c : clients) {
    if (c.fate.empty()) {
      c.fate = refusal(queue_was_full ? "its SYN dropped, the accept queue full"
                                      : "connect not completed in 10 s");
      c.clean = true;
      c.connection.reset();
    }
  }
  const auto connected = std::count_if(clients.begin(), clients.end(),
                                       [](const BurstClient& c) { return c.fate == "connected"; });
  // Now every connected client sends its request at once.
  for (auto& c : clients) {
    if (c.fate != "connected")
      continue;
    c.fate.clear();
    const auto sent = c.connection->send_all(request, harness::deadline_in(5s));
    if (sent.status != client::Status::ok) {
      c.fate = refusal(fmt::format("{} in send", client::to_string(sent.status)));
      c.clean = sent.status == client::Status::reset || sent.status == client::Status::eof;
    } else if (speaks_echo()) {
      c.connection->shutdown_write();  // the end of an echo exchange
    }
  }
  const std::string& expected =
      speaks_echo() ? echo_payload : std::string(kBurstRequestBytes, '\0');
  const auto judge_end = [&](BurstClient& c, std::string_view how) {
    const bool whole =
        c.received.size() == expected.size() && (!speaks_echo() || c.received == expected);
    if (whole) {
      c.fate = "served";
      c.served = c.clean = true;
    } else if (c.received.empty()) {
      c.fate = refusal(fmt::format("{} before any reply byte", how));
      c.clean = true;
    } else {
      c.fate = fmt::format("cut short ({} of {} bytes then {})", c.received.size(), expected.size(),
                           how);
    }
  };
  // A lull in which no client still waiting waits on the server (only on
  // the kernels: see WaitsOn) leaves the server nothing to answer: the wait
  // ends there.
  const auto waiting_only_for_the_kernels = [&] {
    return std::all_of(clients.begin(), clients.end(), [](const BurstClient& c) {
      return !c.fate.empty() || !c.connection || waits_on(*c.connection) != WaitsOn::server;
    });
  };
  poll_undecided(
      clients, POLLIN, harness::deadline_in(kBurstReplyWait),
      [&](BurstClient& c) {
        std::array<char, 4096> buffer{};
        const ssize_t got = ::recv(c.connection->fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (got > 0) {
          c.received.append(buffer.data(), static_cast<std::size_t>(got));
          if (c.received.size() > expected.size())
            c.fate = fmt::format("too long ({} bytes for {})", c.received.size(), expected.size());
        } else if (got == 0) {
          judge_end(c, "EOF");
        } else if (errno != EAGAIN && errno != EINTR) {
          judge_end(c, errno == ECONNRESET ? "reset" : std::generic_category().message(errno));
        }
      },
      waiting_only_for_the_kernels);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  int left_to_the_kernels = 0;
  for (auto& c : clients) {
    if (!c.fate.empty())
      continue;
    switch (waits_on(*c.connection)) {
      case WaitsOn::server_finished:
        judge_end(c, "the server's FIN on its way");
        continue;
      case WaitsOn::not_admitted:
        c.fate = refusal("never admitted: its handshake's last ACK dropped, the accept queue full");
        break;
      case WaitsOn::tcp_backoff:
        c.fate = fmt::format(
            "left to TCP ({} reply bytes; bytes unacknowledged, being "
            "retransmitted on TCP's backoff)",
            c.received.size());
        break;
      case WaitsOn::server:
        c.fate = fmt::format("hung ({} bytes, then nothing until the deadline)", c.received.size());
        continue;
    }
    c.clean = true;
    ++left_to_the_kernels;
  }
  // "812 served; 188 x refused (reset in recv)": each distinct fate once, counted.
  std::map<std::string, int> tally;
  int served = 0;
  int unclean = 0;
  for (auto& c : clients) {
    served += c.served ? 1 : 0;
    unclean += c.clean ? 0 : 1;
    if (!c.served)
      ++tally[c.fate];
    // Frees the server's side too before it is judged. One not served goes
    // with an RST: closed with a FIN, the client's kernel would go on
    // retransmitting its request, and a SYN cookie would admit it seconds
    // later, to a server waiting for bytes that come on the next retry.
    if (c.connection && !c.served)
      c.connection->abort();
    c.connection.reset();
  }
  std::string fates = fmt::format("{}: {} served", backlog, served);
  for (const auto& [fate, count] : tally) fates += fmt::format("; {} x {}", count, fate);
  RecordProperty("burst_connected", static_cast<int>(connected));
  RecordProperty("burst_served", served);
  RecordProperty("burst_refused", kBurstConnections - served - unclean);
  RecordProperty("burst_left_to_the_kernels", left_to_the_kernels);
  RecordProperty("burst_ms", static_cast<int>(took.count()));
  RecordProperty("burst_fates", fates);
  EXPECT_EQ(unclean, 0) << "expected each of " << kBurstConnections
                        << " connections served whole or refused cleanly, " << unclean
                        << " were neither: " << fates;
  // Serving afterwards: once the server has let the burst's connections go
  // (its tree back to the descriptors it had), or 5 s on; a thread that is
  // still finishing one may make it refuse until then.
  int descriptors_after = 0;
  harness::wait_until(
      [&] { return (descriptors_after = tree_descriptors()) <= descriptors_before; }, 5000ms);
  RecordProperty("descriptors_before", descriptors_before);
  RecordProperty("descriptors_after", descriptors_after);
  const auto main_process = harness::read_proc(server().pid());
  ASSERT_TRUE(main_process && main_process->state != 'Z')
      << "expected the server alive after a burst of " << kBurstConnections
      << " connections, its main process is gone (the burst: " << fates << ")";
  EXPECT_TRUE(GotExactReply(fetch(100), 100))
      << "after a burst of " << kBurstConnections << " connections the server must still serve"
      << (descriptors_after > descriptors_before
              ? fmt::format(" (its processes still held {} descriptors more than before the "
                            "burst: connections it waits on)",
                            descriptors_after - descriptors_before)
              : "");
}

// ---- robust/descriptor-exhaustion ---------------------------------------------------

// The server runs with 64 descriptors (RLIMIT_NOFILE, set by csd-guard) and
// meets 100 clients that connect and say nothing.
constexpr int kFewDescriptors = 64;
constexpr int kIdleClients = 100;
// How long the server's CPU time is watched while it is out of descriptors,
// and the most it may use: a server that goes back to a level-triggered
// poll() on a listener that stays readable spins at ~100% of a CPU, or at
// whatever share a busy machine gives it (~30% with 2 cores and a load of
// 7, seen here); the reference servers that shed use 0 to 15 ms.
constexpr auto kStallWindow = 1000ms;
constexpr int kMostCpuPercent = 10;
// When the server has settled: what it has not accepted stays unchanged this
// long (a server accepting a client every few ms changes it much sooner).
constexpr auto kSettledFor = 200ms;
constexpr auto kMostSettling = 5s;

class HostileFewDescriptors : public Hostile {
 public:
  explicit HostileFewDescriptors(const harness::Manifest& implementation)
      : Hostile(implementation) {
    set_nofile(kFewDescriptors);
  }

 protected:
  // CPU time of every live process of the tree, by pid.
  std::map<pid_t, uint64_t> tree_cpu_ns() {
    std::map<pid_t, uint64_t> used;
    for (const pid_t pid : server().tree()) {
      if (const auto ns = harness::process_cpu_ns(pid))
        used[pid] = *ns;
    }
    return used;
  }
};

CSD_CHECK(HostileFewDescriptors, OutOfDescriptorsNoSpinThenRecovers, kEveryImplementation,
          "robust/descriptor-exhaustion", Level::recommended,
          "Started with RLIMIT_NOFILE 64 and met by 100 idle clients, the server tree, once it "
          "has stopped accepting them, uses under 10% of one CPU over a 1 s stall, and once the "
          "clients leave a normal request is served within 10 s.",
          "Beyond the textbook: accept() failing with EMFILE leaves the connection queued and "
          "the listener readable, so a loop that only retries spins for as long as the clients "
          "stay. The reference servers shed such connections with a spare descriptor "
          "(impl/lib/sockets.cpp), and report the queue drained once the spare finds it empty: "
          "on Linux accept() says EMFILE even then, which made csd-epoll-edge's accept-pending "
          "round retry at once, at 100% CPU, until this check found it. Designs that never run "
          "out (fork, a pool blocked in accept()) pass trivially.",
          {"spins-on-emfile"}) {
  // Opened ten at a time: a server with a short listen queue (socat's is 5)
  // meets a full queue with a SYN the client sends again 1 s later; one
  // connect after the other, that made 15 s of this check.
  constexpr int kOpeners = 10;
  std::vector<std::optional<client::Connection>> opened(kIdleClients);
  {
    std::vector<std::jthread> openers;
    openers.reserve(kOpeners);
    for (int first = 0; first < kOpeners; ++first) {
      openers.emplace_back([&opened, first, target = target()] {
        for (std::size_t i = first; i < opened.size(); i += kOpeners)
          opened[i] = client::Connection::open(target, harness::deadline_in(5s));
      });
    }
  }
  std::vector<client::Connection> idle;
  idle.reserve(kIdleClients);
  int refused = 0;
  for (auto& connection : opened) {
    if (connection)
      idle.push_back(std::move(*connection));
    else
      ++refused;  // turned away is fine: the server is protecting itself
  }
  const pid_t main_pid = server().pid();
  // First the server takes what it will take: the work of accepting (a fork
  // per client, say) is no stall. Settled once the number of idle clients
  // it has not accepted (server side without an inode: queued, or shed)
  // stays the same for kSettledFor, or is zero.
  const auto not_accepted = [&] {
    return std::count_if(idle.begin(), idle.end(), [](const client::Connection& c) {
      const auto s = server_side(c);
      return !s || s->inode == 0;
    });
  };
  auto last_count = not_accepted();
  auto unchanged_since = Clock::now();
  const auto settle_start = Clock::now();
  const bool settled = harness::wait_until(
      [&] {
        const auto count = not_accepted();
        if (count != last_count) {
          last_count = count;
          unchanged_since = Clock::now();
        }
        return count == 0 || Clock::now() - unchanged_since >= kSettledFor;
      },
      kMostSettling, 10ms);
  RecordProperty("settle_ms",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      Clock::now() - settle_start)
                                      .count()));
  RecordProperty("idle_clients_not_accepted", static_cast<int>(last_count));
  ASSERT_TRUE(settled) << "expected the server to stop accepting the " << idle.size()
                       << " idle clients within 5 s (accepted all it can, or ran out of "
                       << "descriptors); the number not accepted was still changing: "
                       << last_count;
  // A measurement interval: whatever the server does with the idle clients
  // now, it does within it. The one event that ends it early is the server's
  // main process exiting (the checks below then say so).
  const auto before = tree_cpu_ns();
  const auto window_start = Clock::now();
  harness::wait_until([&] { return !server().running(); }, kStallWindow, 50ms);
  const auto after = tree_cpu_ns();
  const auto window =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - window_start);
  const int main_fds = harness::open_fd_count(main_pid);
  uint64_t used_ns = 0;
  for (const auto& [pid, ns] : after) {
    const auto start = before.find(pid);
    used_ns += ns - (start == before.end() ? 0 : std::min(ns, start->second));
  }
  const auto used_ms = static_cast<int>(used_ns / 1'000'000);
  RecordProperty("stall_cpu_ms", used_ms);
  RecordProperty("stall_window_ms", static_cast<int>(window.count()));
  RecordProperty("main_process_fds", main_fds);
  RecordProperty("idle_clients_connected", static_cast<int>(idle.size()));
  EXPECT_LT(used_ms * 100, kMostCpuPercent * window.count())
      << "expected the server tree to use under " << kMostCpuPercent << "% of one CPU while "
      << idle.size() << " idle clients held it (RLIMIT_NOFILE " << kFewDescriptors << "), it used "
      << used_ms << " ms in " << window.count() << " ms; its main process held " << main_fds
      << " descriptors"
      << (refused > 0 ? fmt::format(", {} connects failed", refused) : std::string());

  idle.clear();  // the clients leave: their descriptors come back to the server
  client::FetchOptions options;
  options.protocol = speaks_echo() ? client::Protocol::echo : client::Protocol::size;
  options.bytes = 100;
  options.timeout = harness::scaled_ms(10000ms);
  const auto reply = client::fetch(target(), options);
  EXPECT_TRUE(GotExactReply(reply, 100))
      << "once the " << kIdleClients << " idle clients had left, a normal request must be "
      << "served within 10 s (RLIMIT_NOFILE " << kFewDescriptors << ")";
}

}  // namespace
}  // namespace csd::suite
