#include "load.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ostream>
#include <stdexcept>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io.hpp"

namespace csd::client {

using detail::errno_text;
using detail::failed_step;
using detail::scratch;
using detail::wait_ready;

namespace {

// ---- echo payload ----------------------------------------------------------------

constexpr std::size_t kPatternPeriod = 251;

// The pattern laid out once, one period longer than the largest chunk, so a
// chunk at any offset is a plain subspan: no per-connection payload buffer.
constexpr std::size_t kPatternSize = detail::kScratchSize + kPatternPeriod;
constexpr auto kPattern = [] {
  std::array<std::byte, kPatternSize> p{};
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::byte>(i % kPatternPeriod);
  return p;
}();

std::span<const std::byte> pattern_at(uint64_t offset, std::size_t length) {
  return std::span(kPattern).subspan(offset % kPatternPeriod,
                                     std::min(length, detail::kScratchSize));
}

// ---- one connection ----------------------------------------------------------------

std::string duration_text(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  if (d < 1ms)
    return fmt::format("{} us", duration_cast<microseconds>(d).count());
  if (d < 1s)
    return fmt::format("{:.1f} ms", duration<double, std::milli>(d).count());
  return fmt::format("{:.2f} s", duration<double>(d).count());
}

// Turns a step that did not finish into the connection's verdict, with a
// detail line that names the failed call and how far the reply had got.
void classify(const StepResult& step, uint64_t wanted, const FetchOptions& options,
              FetchResult& r) {
  r.error = step.error;
  switch (step.status) {
    case Status::ok:
      return;
    case Status::eof:
      r.outcome = Outcome::short_reply;
      r.detail = fmt::format("EOF after {} of {} bytes", r.received, wanted);
      return;
    case Status::refused:
      r.outcome = Outcome::refused;
      r.detail = errno_text(step.call, step.error);
      return;
    case Status::reset:
      r.outcome = Outcome::reset;
      r.detail = fmt::format("{} after {} of {} bytes", errno_text(step.call, step.error),
                             r.received, wanted);
      return;
    case Status::timeout:
      r.outcome = Outcome::timeout;
      r.detail = fmt::format("timeout in {} after {} of {} bytes (limit {})", step.call, r.received,
                             wanted, duration_text(options.timeout));
      return;
    case Status::error:
      r.outcome = Outcome::error;
      r.detail = step.error != 0 ? errno_text(step.call, step.error) : std::string(step.call);
      return;
  }
}

// Finds the first byte of `got` (received at `offset`) that is not the pattern.
std::optional<std::size_t> first_mismatch(std::span<const std::byte> got, uint64_t offset) {
  auto expected = pattern_at(offset, got.size());
  if (std::memcmp(got.data(), expected.data(), got.size()) == 0)
    return std::nullopt;
  auto [g, e] = std::mismatch(got.begin(), got.end(), expected.begin());
  return static_cast<std::size_t>(g - got.begin());
}

// Echo: writes the pattern and reads it back at the same time, so that with
// a payload bigger than both socket buffers neither side blocks on a full
// send queue waiting for the other to read. Half-closes once all is sent.
StepResult exchange_echo(Connection& c, uint64_t n, Deadline deadline, std::string& mismatch) {
  const int fd = c.fd();
  uint64_t sent = 0;
  uint64_t got = 0;
  bool half_closed = false;
  auto buffer = scratch();
  while (got < n || !half_closed) {
    if (sent == n && !half_closed) {
      c.shutdown_write();
      half_closed = true;
      continue;
    }
    short events = static_cast<short>((got < n ? POLLIN : 0) | (sent < n ? POLLOUT : 0));
    int revents = wait_ready(fd, events, deadline);
    if (revents < 0)
      return failed_step("poll", errno, got);
    if (revents == 0)
      return {
          .status = Status::timeout, .bytes = got, .error = 0, .call = sent < n ? "send" : "recv"};

    if (sent < n && (revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      auto chunk = pattern_at(sent, n - sent);
      ssize_t w = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        sent += static_cast<uint64_t>(w);
      } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return failed_step("send", errno, got);
      }
    }
    if (got < n && (revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      ssize_t r =
          ::recv(fd, buffer.data(), std::min<uint64_t>(n - got, buffer.size()), MSG_DONTWAIT);
      if (r > 0) {
        auto data = buffer.first(static_cast<std::size_t>(r));
        if (auto at = first_mismatch(data, got)) {
          uint64_t where = got + *at;
          mismatch = fmt::format("echo mismatch at byte {} of {}: sent 0x{:02x}, got 0x{:02x}",
                                 where, n, std::to_integer<unsigned>(echo_pattern_byte(where)),
                                 std::to_integer<unsigned>(data[*at]));
          return {.status = Status::error,
                  .bytes = got + static_cast<uint64_t>(r),
                  .error = 0,
                  .call = "echo"};
        }
        got += static_cast<uint64_t>(r);
      } else if (r == 0) {
        return {.status = Status::eof, .bytes = got, .error = 0, .call = "recv"};
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return failed_step("recv", errno, got);
      }
    }
  }
  return detail::ok_step(got);
}

// How a size reply was read: the step, and what is already known of the
// ending (EOF seen, or `extra` bytes beyond the reply).
struct Reply {
  Reply(StepResult s, std::optional<Ending> e = std::nullopt,
        std::size_t x = 0)  // NOLINT: implicit on purpose
      : step(s), ending(e), extra(x) {}
  StepResult step;
  std::optional<Ending> ending;
  std::size_t extra = 0;
};

// Reads a size reply of `n` bytes. This is the load client's hot path, so it
// spends as few syscalls as it can while staying exact:
//  - poll before the first recv: right after the request the reply is
//    rarely in yet, and recv-EAGAIN-poll-recv costs one call more;
//  - ask for one byte more than owed, so a long reply shows at once and a
//    short read means the receive queue is empty;
//  - POLLRDHUP without POLLHUP/POLLERR from that poll means a FIN (and no
//    RST) was queued before the recv, so a short read that completes the
//    reply has also seen the end: no extra recv to confirm EOF.
Reply read_size_reply(int fd, uint64_t n, Deadline deadline) {
  auto buffer = scratch();
  uint64_t got = 0;
  bool fin_queued = false;
  bool readable = false;
  for (;;) {
    if (!readable) {
      int revents = wait_ready(fd, POLLIN | POLLRDHUP, deadline);
      if (revents < 0)
        return failed_step("poll", errno, got);
      if (revents == 0)
        return StepResult{.status = Status::timeout, .bytes = got, .error = 0, .call = "recv"};
      fin_queued = (revents & POLLRDHUP) != 0 && (revents & (POLLHUP | POLLERR)) == 0;
      readable = true;
    }
    const uint64_t owed = n - got;
    const std::size_t want =
        owed < buffer.size() ? static_cast<std::size_t>(owed) + 1 : buffer.size();
    ssize_t r = ::recv(fd, buffer.data(), want, 0);
    if (r > 0) {
      got += static_cast<uint64_t>(r);
      if (got > n)
        return {detail::ok_step(n), std::nullopt, got - n};
      if (static_cast<std::size_t>(r) < want) {  // the queue is drained
        if (got == n)
          return {detail::ok_step(n), fin_queued ? std::optional(Ending::eof) : std::nullopt};
        readable = fin_queued;  // with the FIN in, the next recv says EOF at once
      }
      continue;
    }
    if (r == 0) {
      if (got == n)
        return {detail::ok_step(n), Ending::eof};
      return StepResult{.status = Status::eof, .bytes = got, .error = 0, .call = "recv"};
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return failed_step("recv", errno, got);
    readable = false;
  }
}

// Size: "<N>\n" (or bare "<N>") out, exactly N bytes back.
Reply exchange_size(Connection& c, const FetchOptions& options, Deadline deadline) {
  std::array<char, 24> request{};
  auto [end, ec] = std::to_chars(request.data(), request.data() + 21, options.bytes);
  if (!options.bare)
    *end++ = '\n';
  StepResult s = c.send_all(std::string_view(request.data(), end), deadline);
  if (s.status != Status::ok) {
    s.bytes = 0;  // the caller counts received bytes; none were
    return s;
  }
  return read_size_reply(c.fd(), options.bytes, deadline);
}

}  // namespace

std::byte echo_pattern_byte(uint64_t offset) {
  return static_cast<std::byte>(offset % kPatternPeriod);
}

void echo_pattern(uint64_t offset, std::span<std::byte> out) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = echo_pattern_byte(offset + i);
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::ok:
      return "ok";
    case Outcome::short_reply:
      return "short_reply";
    case Outcome::long_reply:
      return "long_reply";
    case Outcome::refused:
      return "refused";
    case Outcome::reset:
      return "reset";
    case Outcome::timeout:
      return "timeout";
    case Outcome::error:
      return "error";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, Outcome o) { return out << to_string(o); }

FetchResult fetch(const Target& target, const FetchOptions& options, const SockAddr* source) {
  auto address = SockAddr::parse(target.host, target.port);
  if (!address) {
    FetchResult r;
    r.outcome = Outcome::error;
    r.error = EINVAL;
    r.detail = fmt::format("not a numeric IPv4/IPv6 address: '{}'", target.host);
    return r;
  }
  return fetch(*address, options, source);
}

namespace {

// After a complete reply: the ending, unless the reply read already knows it.
void settle_ending(Connection& c, const FetchOptions& options, Reply& reply, FetchResult& r) {
  if (reply.ending && reply.extra == 0) {
    r.ending = *reply.ending;
    return;
  }
  // The reply is complete; anything but silence, FIN or RST is too much.
  std::size_t more = 0;
  const bool echo = options.protocol == Protocol::echo;
  r.ending = c.await_ending(echo ? options.echo_close_wait : options.after_reply_wait, &more);
  std::size_t extra = reply.extra + more;
  if (extra == 0 && echo && r.ending == Ending::still_open) {
    // The size protocol tolerates a server that keeps the connection open
    // (the seed's server02); echo does not: the half-close ends the exchange.
    r.outcome = Outcome::timeout;
    r.detail = fmt::format(
        "echo: all {} bytes came back, but the server did not close within {} ms of the "
        "client's half-close [from {}]",
        options.bytes, options.echo_close_wait.count(), c.local_address().to_string());
    return;
  }
  if (extra == 0)
    return;
  r.ending = Ending::extra_bytes;
  r.received += extra;
  r.outcome = Outcome::long_reply;
  r.detail = fmt::format("{} bytes more than the {} asked for [from {}]", extra, options.bytes,
                         c.local_address().to_string());
}

}  // namespace

FetchResult fetch(const SockAddr& address, const FetchOptions& options, const SockAddr* source) {
  const auto start = Clock::now();
  const Deadline deadline = start + options.timeout;
  FetchResult r;

  // Size starts the connect and lets the request's send complete it (one
  // poll less per connection); echo multiplexes raw I/O, so it connects first.
  StepResult failure;
  auto conn = options.protocol == Protocol::size
                  ? Connection::start(address, &failure, source)
                  : Connection::open(address, deadline, &failure, source);
  if (!conn) {
    classify(failure, options.bytes, options, r);
    return r;
  }

  std::string mismatch;
  Reply reply = options.protocol == Protocol::size
                    ? exchange_size(*conn, options, deadline)
                    : Reply(exchange_echo(*conn, options.bytes, deadline, mismatch));
  r.received = reply.step.bytes;
  if (reply.step.status != Status::ok) {
    classify(reply.step, options.bytes, options, r);
    if (!mismatch.empty())
      r.detail = std::move(mismatch);
    if (reply.step.call != "connect")
      r.detail += fmt::format(" [from {}]", conn->local_address().to_string());
    return r;
  }
  r.latency = Clock::now() - start;
  settle_ending(*conn, options, reply, r);
  return r;
}

// ---- load ----------------------------------------------------------------

namespace {

// What one load thread saw. Each thread fills its own and the merge happens
// after join, so the hot path shares no cache line and takes no lock.
struct Tally {
  std::array<uint64_t, kOutcomeCount> outcomes{};
  std::array<uint64_t, kEndingCount> endings{};
  uint64_t bytes = 0;
  std::vector<std::chrono::nanoseconds> latencies;
  std::vector<std::pair<Clock::time_point, std::string>> failures;  // the thread's first few
};

constexpr std::size_t kFirstFailures = 10;

bool is_ipv4_loopback(const SockAddr& a) {
  if (a.storage.ss_family != AF_INET)
    return false;
  uint32_t host = ntohl(reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr.s_addr);
  return (host >> 24) == 127;
}

// 127.0.0.1, 127.0.0.2, ... 127.0.0.N (carrying into the next octets past
// 255; Linux routes all of 127/8 to lo).
std::vector<SockAddr> loopback_sources(int count) {
  std::vector<SockAddr> sources;
  constexpr uint32_t kFirst = 0x7f000001;
  constexpr int kMax = 0x00fffffe;  // stay inside 127/8
  for (int i = 0; i < std::min(count, kMax); ++i) {
    SockAddr a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(kFirst + static_cast<uint32_t>(i));
    v4->sin_port = 0;
    a.len = sizeof(sockaddr_in);
    sources.push_back(a);
  }
  return sources;
}

Tally run_client(int client, const LoadOptions& options, const SockAddr& address,
                 const std::vector<SockAddr>& sources, std::atomic<bool>& failed) {
  Tally t;
  t.latencies.reserve(static_cast<std::size_t>(options.conns));
  for (int i = 0; i < options.conns; ++i) {
    if (Clock::now() >= options.stop_starting_at ||
        (options.stop_at_first_failure && failed.load(std::memory_order_relaxed)))
      break;
    // Interleave clients over the sources, so that connections open at the
    // same moment come from different addresses.
    const SockAddr* source = nullptr;
    if (!sources.empty()) {
      auto slot = static_cast<std::size_t>(i) * static_cast<std::size_t>(options.clients) +
                  static_cast<std::size_t>(client);
      source = &sources[slot % sources.size()];
    }
    FetchResult r = fetch(address, options.fetch, source);
    t.outcomes[static_cast<std::size_t>(r.outcome)]++;
    t.bytes += r.received;
    if (r.outcome == Outcome::ok) {
      t.latencies.push_back(r.latency);
      t.endings[static_cast<std::size_t>(r.ending)]++;
    } else {
      failed.store(true, std::memory_order_relaxed);
    }
    if (r.outcome != Outcome::ok && t.failures.size() < kFirstFailures) {
      t.failures.emplace_back(Clock::now(), fmt::format("client {} conn {}: {}: {}", client, i,
                                                        to_string(r.outcome), r.detail));
    }
  }
  return t;
}

LoadReport merge(std::vector<Tally>& tallies) {
  LoadReport report;
  std::vector<std::pair<Clock::time_point, std::string>> failures;
  std::size_t total_latencies = 0;
  for (const auto& t : tallies) total_latencies += t.latencies.size();
  report.latencies.reserve(total_latencies);
  for (auto& t : tallies) {
    for (std::size_t i = 0; i < kOutcomeCount; ++i) {
      report.outcomes[i] += t.outcomes[i];
      report.connections += t.outcomes[i];
    }
    for (std::size_t i = 0; i < kEndingCount; ++i) report.endings[i] += t.endings[i];
    report.bytes_received += t.bytes;
    report.latencies.insert(report.latencies.end(), t.latencies.begin(), t.latencies.end());
    std::move(t.failures.begin(), t.failures.end(), std::back_inserter(failures));
  }
  std::sort(report.latencies.begin(), report.latencies.end());
  // The first failures in time across all threads: the earliest usually
  // explains the rest.
  std::stable_sort(failures.begin(), failures.end(),
                   [](auto& a, auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < std::min(failures.size(), kFirstFailures); ++i) {
    report.first_failures.push_back(std::move(failures[i].second));
  }
  return report;
}

}  // namespace

LoadReport run_load(const LoadOptions& options) {
  auto address = SockAddr::parse(options.target.host, options.target.port);
  if (!address)
    throw std::invalid_argument(
        fmt::format("not a numeric IPv4/IPv6 address: '{}'", options.target.host));
  std::vector<SockAddr> sources;
  if (options.source_addresses > 1 && is_ipv4_loopback(*address))
    sources = loopback_sources(options.source_addresses);

  const int clients = std::max(options.clients, 0);
  std::vector<Tally> tallies(static_cast<std::size_t>(clients));
  const auto start = Clock::now();
  std::atomic<bool> failed{false};
  {
    std::vector<std::jthread> threads;
    threads.reserve(tallies.size());
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        tallies[static_cast<std::size_t>(c)] = run_client(c, options, *address, sources, failed);
      });
    }
  }  // joins
  const auto elapsed = Clock::now() - start;

  LoadReport report = merge(tallies);
  report.planned =
      static_cast<uint64_t>(clients) * static_cast<uint64_t>(std::max(options.conns, 0));
  report.elapsed = elapsed;
  return report;
}

// ---- report ----------------------------------------------------------------

double LoadReport::connections_per_second() const {
  double s = std::chrono::duration<double>(elapsed).count();
  return s > 0 ? static_cast<double>(connections) / s : 0.0;
}

double LoadReport::bytes_per_second() const {
  double s = std::chrono::duration<double>(elapsed).count();
  return s > 0 ? static_cast<double>(bytes_received) / s : 0.0;
}

std::chrono::nanoseconds LoadReport::latency_percentile(double q) const {
  if (latencies.empty())
    return std::chrono::nanoseconds{0};
  // Nearest rank: the smallest latency with at least q of them at or below it.
  auto n = static_cast<double>(latencies.size());
  auto rank = static_cast<std::size_t>(std::ceil(std::clamp(q, 0.0, 1.0) * n));
  return latencies[std::clamp<std::size_t>(rank, 1, latencies.size()) - 1];
}

void to_json(nlohmann::json& j, const LoadReport& report) {
  auto us = [](std::chrono::nanoseconds d) {
    return std::chrono::duration<double, std::micro>(d).count();
  };
  nlohmann::json failures = nlohmann::json::object();
  for (std::size_t i = 1; i < kOutcomeCount; ++i)
    failures[std::string(to_string(static_cast<Outcome>(i)))] = report.outcomes[i];
  j = nlohmann::json{
      {"connections", report.connections},
      {"ok", report.outcomes[0]},
      {"failed", report.failures()},
      {"failures", failures},
      {"endings",
       {{"eof", report.endings[static_cast<std::size_t>(Ending::eof)]},
        {"reset", report.endings[static_cast<std::size_t>(Ending::reset)]},
        {"still_open", report.endings[static_cast<std::size_t>(Ending::still_open)]}}},
      {"bytes", report.bytes_received},
      {"elapsed_s", std::chrono::duration<double>(report.elapsed).count()},
      {"connections_per_s", report.connections_per_second()},
      {"bytes_per_s", report.bytes_per_second()},
      {"latency_us",
       {{"p50", us(report.latency_percentile(0.50))},
        {"p99", us(report.latency_percentile(0.99))},
        {"p999", us(report.latency_percentile(0.999))},
        {"max",
         us(report.latencies.empty() ? std::chrono::nanoseconds{0} : report.latencies.back())}}},
      {"first_failures", report.first_failures},
  };
}

namespace {

std::string rate_text(double per_second, std::string_view unit) {
  if (per_second >= 1e9)
    return fmt::format("{:.2f} G{}/s", per_second / 1e9, unit);
  if (per_second >= 1e6)
    return fmt::format("{:.2f} M{}/s", per_second / 1e6, unit);
  if (per_second >= 1e3)
    return fmt::format("{:.2f} k{}/s", per_second / 1e3, unit);
  return fmt::format("{:.1f} {}/s", per_second, unit);
}

}  // namespace

std::string format_human(const LoadReport& report) {
  std::string out = fmt::format(
      "{} connections in {:.3f} s: {:.1f} conn/s, {} ({} bytes)\n", report.connections,
      std::chrono::duration<double>(report.elapsed).count(), report.connections_per_second(),
      rate_text(report.bytes_per_second(), "B"), report.bytes_received);
  if (!report.latencies.empty()) {
    out += fmt::format("latency: p50 {}, p99 {}, p99.9 {}, max {}\n",
                       duration_text(report.latency_percentile(0.5)),
                       duration_text(report.latency_percentile(0.99)),
                       duration_text(report.latency_percentile(0.999)),
                       duration_text(report.latencies.back()));
  }
  auto reset_after = report.endings[static_cast<std::size_t>(Ending::reset)];
  auto open_after = report.endings[static_cast<std::size_t>(Ending::still_open)];
  if (reset_after > 0 || open_after > 0) {
    out +=
        fmt::format("after a full reply: {} closed (FIN), {} reset (RST), {} left open\n",
                    report.endings[static_cast<std::size_t>(Ending::eof)], reset_after, open_after);
  }
  if (report.failures() == 0) {
    out += report.connections > 0 ? "all ok\n" : "no connections made\n";
    return out;
  }
  std::string how;
  for (std::size_t i = 1; i < kOutcomeCount; ++i) {
    if (report.outcomes[i] == 0)
      continue;
    how += fmt::format("{}{} {}", how.empty() ? "" : ", ", report.outcomes[i],
                       to_string(static_cast<Outcome>(i)));
  }
  out += fmt::format("FAILED: {} of {} connections ({})\n", report.failures(), report.connections,
                     how);
  for (const auto& f : report.first_failures) out += fmt::format("  {}\n", f);
  return out;
}

}  // namespace csd::client
