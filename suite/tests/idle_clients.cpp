#include "idle_clients.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <optional>
#include <thread>

#include "procfs.hpp"
#include "timeouts.hpp"
#include "wait.hpp"
#include "wire.hpp"

namespace csd::suite {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

IdleClients open_idle_clients(const client::Target& target, int count) {
  constexpr int kOpeners = 10;
  std::vector<std::optional<client::Connection>> opened(static_cast<std::size_t>(count));
  {
    std::vector<std::jthread> openers;
    openers.reserve(kOpeners);
    for (int first = 0; first < kOpeners; ++first) {
      openers.emplace_back([&opened, first, target] {
        for (std::size_t i = first; i < opened.size(); i += kOpeners)
          opened[i] = client::Connection::open(target, harness::deadline_in(5s));
      });
    }
  }
  IdleClients idle;
  idle.connected.reserve(opened.size());
  for (auto& connection : opened) {
    if (connection)
      idle.connected.push_back(std::move(*connection));
    else
      ++idle.refused;
  }
  return idle;
}

Settling wait_until_settled(const std::vector<client::Connection>& idle) {
  constexpr auto kSettledFor = 200ms;  // a server accepting every few ms changes it much sooner
  // A fork per connection on a loaded machine takes tens of ms per accept:
  // 100 of them, seconds.
  constexpr auto kMostSettling = 12s;
  const auto not_accepted = [&] {
    return std::count_if(idle.begin(), idle.end(), [](const client::Connection& c) {
      const auto s = server_side(c);
      return !s || s->inode == 0;
    });
  };
  Settling settling;
  settling.not_accepted = not_accepted();
  auto unchanged_since = Clock::now();
  const auto start = Clock::now();
  settling.settled = harness::wait_until(
      [&] {
        const auto count = not_accepted();
        if (count != settling.not_accepted) {
          settling.not_accepted = count;
          unchanged_since = Clock::now();
        }
        return count == 0 || Clock::now() - unchanged_since >= kSettledFor;
      },
      kMostSettling, 10ms);
  settling.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return settling;
}

namespace {

// A count in nanoseconds of every live process of `tree` (its CPU time, its
// runnable time), by pid.
using PerProcess = std::map<pid_t, uint64_t>;
PerProcess tree_ns(const std::vector<pid_t>& tree, std::optional<uint64_t> (*count)(pid_t)) {
  PerProcess counted;
  for (const pid_t pid : tree) {
    if (const auto ns = count(pid))
      counted[pid] = *ns;
  }
  return counted;
}

// Each thread's runnable time, by thread id, over every process of `tree`.
PerProcess threads_runnable_ns(const std::vector<pid_t>& tree) {
  PerProcess threads;
  for (const pid_t pid : tree) threads.merge(harness::thread_runnable_ns(pid));
  return threads;
}

// What `after` adds to `before` for each key (a key new in `after` from zero).
std::vector<uint64_t> growth(const PerProcess& before, const PerProcess& after) {
  std::vector<uint64_t> grown;
  for (const auto& [id, ns] : after) {
    const auto earlier = before.find(id);
    grown.push_back(ns - (earlier == before.end() ? 0 : std::min(ns, earlier->second)));
  }
  return grown;
}

// All of it together, and the most of one key, in ms.
int grown_ms(const PerProcess& before, const PerProcess& after) {
  const auto grown = growth(before, after);
  return static_cast<int>(std::accumulate(grown.begin(), grown.end(), uint64_t{0}) / 1'000'000);
}
int most_grown_ms(const PerProcess& before, const PerProcess& after) {
  const auto grown = growth(before, after);
  return static_cast<int>((grown.empty() ? 0 : *std::max_element(grown.begin(), grown.end())) /
                          1'000'000);
}

}  // namespace

StallCpu cpu_over_a_stall(const harness::ServerProcess& server, std::chrono::milliseconds window) {
  const auto tree = server.tree();
  const auto cpu_before = tree_ns(tree, harness::process_cpu_ns);
  const auto runnable_before = threads_runnable_ns(tree);
  const auto start = Clock::now();
  harness::wait_until([&] { return !server.running(); }, window, 50ms);
  const auto tree_after = server.tree();
  return {.used_ms = grown_ms(cpu_before, tree_ns(tree_after, harness::process_cpu_ns)),
          .runnable_ms = most_grown_ms(runnable_before, threads_runnable_ns(tree_after)),
          .window = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start)};
}

IdleStall hold_with_idle_clients(const harness::ServerProcess& server, const client::Target& target,
                                 int count, std::chrono::milliseconds window) {
  IdleStall stall;
  const pid_t main_pid = server.pid();
  stall.idle = open_idle_clients(target, count);
  stall.settling = wait_until_settled(stall.idle.connected);
  if (!stall.settling.settled)
    return stall;
  stall.cpu = cpu_over_a_stall(server, window);
  stall.main_process_fds = harness::open_fd_count(main_pid);
  return stall;
}

void record_figures(const IdleStall& stall) {
  const auto record = [](const char* name, auto value) {
    ::testing::Test::RecordProperty(name, static_cast<int>(value));
  };
  record("settle_ms", stall.settling.took.count());
  record("idle_clients_not_accepted", stall.settling.not_accepted);
  if (!stall.settling.settled)
    return;
  record("stall_cpu_ms", stall.cpu.used_ms);
  record("stall_runnable_ms", stall.cpu.runnable_ms);
  record("stall_window_ms", stall.cpu.window.count());
  record("main_process_fds", stall.main_process_fds);
  record("idle_clients_connected", stall.idle.connected.size());
}

}  // namespace csd::suite
