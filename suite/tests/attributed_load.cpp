#include "attributed_load.hpp"

#include <fmt/format.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "server_test.hpp"  // kLoadShareOfBudget
#include "sockdiag.hpp"
#include "timeouts.hpp"
#include "wire.hpp"

namespace csd::suite {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct ClientTally {
  int64_t made = 0;
  std::map<pid_t, int64_t> per_process;
  int64_t unattributed = 0;
  int64_t failed = 0;
  std::vector<std::string> problems;
  void note(std::string problem) {
    if (problems.size() < 5)
      problems.push_back(std::move(problem));
  }
};

void one_attributed_connection(const client::Target& target, pid_t root,
                               std::optional<pid_t> exclude, uint64_t bytes, ClientTally& tally) {
  client::StepResult failure;
  auto connection = client::Connection::open(target, harness::deadline_in(10s), &failure);
  if (!connection) {
    ++tally.failed;
    tally.note(fmt::format("connect: {}", client::to_string(failure.status)));
    return;
  }
  const auto local = connection->local_address();
  const auto peer = connection->peer_address();
  const auto who = harness::attribute_connection(
      reinterpret_cast<const sockaddr*>(&local.storage), local.len,
      reinterpret_cast<const sockaddr*>(&peer.storage), peer.len, root, exclude, 5s);
  if (who.owner) {
    ++tally.per_process[*who.owner];
  } else {
    ++tally.unattributed;
    std::string holders;
    for (const pid_t pid : who.last_holders) holders += fmt::format(" {}", pid);
    tally.note(
        fmt::format("connection from {} {} within 5 s (holders seen:{})", local.to_string(),
                    who.accepted ? "was never held by exactly one worker" : "was never accepted",
                    holders.empty() ? " none" : holders));
  }
  const auto request = fmt::format("{}\n", bytes);
  if (connection->send_all(request, harness::deadline_in(10s)).status != client::Status::ok) {
    ++tally.failed;
    tally.note("request could not be sent");
    return;
  }
  const auto reply = read_reply(*connection, bytes);
  if (reply.outcome != client::Outcome::ok) {
    ++tally.failed;
    tally.note(fmt::format("reply: {} {}", client::to_string(reply.outcome), reply.detail));
  }
}

}  // namespace

AttributedLoad run_attributed_load(const client::Target& target, pid_t root,
                                   std::optional<pid_t> exclude, int clients, int conns,
                                   uint64_t bytes) {
  std::vector<ClientTally> tallies(static_cast<std::size_t>(clients));
  const auto stop_starting_at = harness::budget::share(kLoadShareOfBudget);
  std::atomic<bool> verdict_known{false};
  {
    std::vector<std::jthread> threads;
    threads.reserve(tallies.size());
    for (auto& tally : tallies) {
      threads.emplace_back([&, conns] {
        for (int i = 0; i < conns && !verdict_known && Clock::now() < stop_starting_at; ++i) {
          one_attributed_connection(target, root, exclude, bytes, tally);
          ++tally.made;
          if (tally.failed > 0 || tally.unattributed > 0)
            verdict_known = true;
        }
      });
    }
  }
  AttributedLoad total;
  total.planned = static_cast<int64_t>(clients) * conns;
  for (const auto& tally : tallies) {
    total.connections += tally.made;
    for (const auto& [pid, count] : tally.per_process) total.per_process[pid] += count;
    total.unattributed += tally.unattributed;
    total.failed += tally.failed;
    for (const auto& p : tally.problems) {
      if (total.problems.size() < 10)
        total.problems.push_back(p);
    }
  }
  return total;
}

}  // namespace csd::suite
