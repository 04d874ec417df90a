#include "burst.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>
#include <string_view>
#include <system_error>
#include <vector>

#include "sockdiag.hpp"
#include "timeouts.hpp"
#include "wire.hpp"

namespace csd::suite {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr rlim_t kSuiteDescriptors = 4096;  // the burst's, and the suite's own
// How long the connects may take: a SYN the kernel drops over a full accept
// queue is retried at 1 s and 3 s; a connect not completed by then is a
// refusal the client's own connect() would report as ETIMEDOUT.
constexpr auto kBurstConnectWait = 10s;
// Every accepted connection's whole exchange, one at a time on an iterative
// server included (1,000 x 100 bytes take well under a second there), or
// half the check's budget: the other half is for what follows, which on a
// slow server (a fork per connection on a loaded machine) is still working
// through the connections the burst left it.
constexpr auto kBurstReplyWait = 30s;
constexpr double kBurstShareOfBudget = 0.5;
// A server that answers none of the clients still waiting on it for this
// long has stopped serving them: they hung. One that is still answering
// some when the wait ends is slow, not hung (a fork-and-exec per connection
// serves a few dozen a second).
constexpr auto kBurstStall = 10s;
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

// The server's accept queue(s), from the kernel; empty if sock_diag fails.
std::vector<harness::ListenQueue> accept_queues(uint16_t port) {
  try {
    return harness::tcp_listen_queues(port);
  } catch (const std::system_error&) {
    return {};
  }
}

// "a backlog of 16", "backlogs of 16, 16, 16, 16" (SO_REUSEPORT): what the
// burst was far above, as the kernel has it; the first in `first`.
std::string describe_backlogs(uint16_t port, std::optional<uint32_t>& first) {
  const auto queues = accept_queues(port);
  if (queues.empty())
    return "backlog unknown";
  first = queues.front().backlog;
  std::vector<uint32_t> backlogs(queues.size());
  std::transform(queues.begin(), queues.end(), backlogs.begin(),
                 [](const harness::ListenQueue& q) { return q.backlog; });
  return fmt::format("{} {}", queues.size() == 1 ? "a backlog of" : "backlogs of",
                     fmt::join(backlogs, ", "));
}

// True when every accept queue is full: the kernel drops new SYNs until
// the server accepts.
bool accept_queues_full(uint16_t port) {
  const auto queues = accept_queues(port);
  return !queues.empty() && std::all_of(queues.begin(), queues.end(),
                                        [](const harness::ListenQueue& q) { return q.full(); });
}

// Whom a client still waiting waits on (harness::WaitsOn); the server, if
// sock_diag cannot tell: then it keeps waiting.
harness::WaitsOn waits_on(const client::Connection& connection) {
  try {
    return harness::waits_on(connection.fd(), server_side(connection));
  } catch (const std::exception&) {
    return harness::WaitsOn::server;
  }
}

}  // namespace

BurstOutcome run_burst(const client::Target& target, harness::WireProtocol protocol,
                       int connections, std::size_t request_bytes) {
  // The suite's side holds all 1,000 at once: a soft limit of 1024 (a
  // common default) is raised towards the hard one, for the suite only (the
  // server has already inherited its own).
  if (rlimit limit{};
      ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < kSuiteDescriptors) {
    limit.rlim_cur = std::min<rlim_t>(kSuiteDescriptors, limit.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  BurstOutcome outcome;
  const auto address = client::SockAddr::parse(target.host, target.port);
  if (!address) {
    outcome.suite_ran_out = "cannot parse the server's address " + target.host;
    return outcome;
  }
  const bool speaks_echo = protocol == harness::WireProtocol::echo;
  std::vector<std::byte> pattern(request_bytes);
  client::echo_pattern(0, pattern);
  const std::string echo_payload(reinterpret_cast<const char*>(pattern.data()), pattern.size());
  const std::string request = speaks_echo ? echo_payload : fmt::format("{}\n", request_bytes);

  const std::string backlog = describe_backlogs(target.port, outcome.listen_backlog);
  const auto started = Clock::now();
  std::vector<BurstClient> clients(static_cast<std::size_t>(connections));
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
      outcome.suite_ran_out = fmt::format("the suite could not start connection {} of {}: {} ({})",
                                          &c - clients.data() + 1, connections, failure.call,
                                          std::generic_category().message(failure.error));
      return outcome;
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
      [&] { return queue_was_full = accept_queues_full(target.port); });
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
    } else if (speaks_echo) {
      c.connection->shutdown_write();  // the end of an echo exchange
    }
  }
  const std::string& expected = speaks_echo ? echo_payload : std::string(request_bytes, '\0');
  const auto judge_end = [&](BurstClient& c, std::string_view how) {
    const bool whole =
        c.received.size() == expected.size() && (!speaks_echo || c.received == expected);
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
  // ends there. Each client is then judged by what it waited on at that
  // lull: one the kernel admits a moment later (a retransmission meeting
  // room in the queue) did not wait on the server for the whole wait.
  // Empty if the deadline ended the wait.
  std::vector<std::optional<harness::WaitsOn>> at_the_lull;
  auto last_progress = Clock::now();  // the last reply byte, or the last client decided
  bool stalled = false;
  const auto waiting_only_for_the_kernels = [&] {
    if (Clock::now() - last_progress >= harness::scaled(kBurstStall)) {
      stalled = true;
      return true;
    }
    std::vector<std::optional<harness::WaitsOn>> view(clients.size());
    for (std::size_t i = 0; i < clients.size(); ++i) {
      const BurstClient& c = clients[i];
      if (!c.fate.empty() || !c.connection)
        continue;
      view[i] = waits_on(*c.connection);
      if (view[i] == harness::WaitsOn::server)
        return false;
    }
    at_the_lull = std::move(view);
    return true;
  };
  poll_undecided(
      clients, POLLIN,
      std::min(harness::deadline_in(kBurstReplyWait), harness::budget::share(kBurstShareOfBudget)),
      [&](BurstClient& c) {
        last_progress = Clock::now();
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
  for (std::size_t i = 0; i < clients.size(); ++i) {
    BurstClient& c = clients[i];
    if (!c.fate.empty())
      continue;
    const auto seen = at_the_lull.empty() ? std::nullopt : at_the_lull[i];
    switch (seen ? *seen : waits_on(*c.connection)) {
      case harness::WaitsOn::server_finished:
        judge_end(c, "the server's FIN on its way");
        continue;
      case harness::WaitsOn::not_admitted:
        c.fate = refusal("never admitted: its handshake's last ACK dropped, the accept queue full");
        break;
      case harness::WaitsOn::tcp_backoff:
        c.fate = fmt::format(
            "left to TCP ({} reply bytes; bytes unacknowledged, being "
            "retransmitted on TCP's backoff)",
            c.received.size());
        break;
      case harness::WaitsOn::server:
        if (stalled) {
          c.fate = fmt::format(
              "hung ({} bytes, then nothing while the server answered no one "
              "for {} s)",
              c.received.size(), kBurstStall.count());
          continue;
        }
        // The wait's time ran out while the server was still answering others.
        c.fate = "still waiting when the check's time ran out, the server serving others";
        c.clean = true;
        ++outcome.slow;
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
  outcome.connected = static_cast<int>(connected);
  outcome.served = served;
  outcome.unclean = unclean;
  outcome.refused = connections - served - unclean - outcome.slow;
  outcome.left_to_the_kernels = left_to_the_kernels;
  outcome.took = took;
  outcome.fates = fates;
  return outcome;
}

void record_figures(const BurstOutcome& burst) {
  const auto record = [](const char* name, const auto& value) {
    ::testing::Test::RecordProperty(name, value);
  };
  if (burst.listen_backlog)
    record("listen_backlog", static_cast<int>(*burst.listen_backlog));
  record("burst_connected", burst.connected);
  record("burst_served", burst.served);
  record("burst_refused", burst.refused);
  record("burst_left_to_the_kernels", burst.left_to_the_kernels);
  record("burst_ms", static_cast<int>(burst.took.count()));
  record("burst_fates", burst.fates);
}

}  // namespace csd::suite
