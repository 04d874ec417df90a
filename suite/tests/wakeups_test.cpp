// Wake-ups per accept (the thundering herd), seen from outside: how many of
// a pool's tasks (processes or threads) the kernel runs for one new
// connection. Connections are made one at a time; after each, the suite waits
// until no task of the server is runnable any more and counts the tasks whose
// context-switch count (/proc/PID/task/TID/status) moved. A task that was
// woken and found nothing to do (accept() -> EAGAIN) switched out once more,
// so it is counted even though it served nothing.
//
// Expected per manifest `accept_wakeup`: "fifo" and "lifo" (and, by default,
// any pool) wake about one task per connection, plus at most a hand-off
// partner (the next thread to take a mutex, the parent passing a
// descriptor); "all" wakes every idle worker. The assertion is the side of
// half the pool the figure falls on, never a time; the figure is recorded.
// "some" (an fcntl lock, whose unlock wakes a varying number of waiters)
// claims no side: the figure is only recorded.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "check.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "wait.hpp"

namespace csd::suite {
namespace {

// A bigger pool than the usual 4 makes "one" and "all" far apart.
constexpr int kPoolSize = 8;
constexpr int kConnections = 40;

// Context switches per task of a process tree, keyed by (pid, tid).
using TaskSwitches = std::map<std::pair<pid_t, pid_t>, uint64_t>;

class WakeUps : public ServerTest {
 public:
  // The measurement starts once the whole pool is up.
  explicit WakeUps(const harness::Manifest& implementation) : ServerTest(implementation) {
    if (harness::command_takes_workers(implementation))
      set_workers(kPoolSize);
    start_with_full_pool();
  }

 protected:
  // Every task of the server's tree; `running` names the ones in state R.
  TaskSwitches sample_tasks(std::vector<std::string>* running = nullptr) {
    TaskSwitches switches;
    for (const pid_t pid : server().tree()) {
      for (const auto& task : harness::read_tasks(pid)) {
        switches[{task.pid, task.tid}] = task.switches();
        if (running != nullptr && task.state == 'R')
          running->push_back(fmt::format("task {} of {}", task.tid, harness::describe(pid)));
      }
    }
    return switches;
  }

  // Waits until no task of the server is runnable (a woken task is 'R' until
  // it has run and blocked again), then samples. Fails the test naming the
  // tasks still running when the deadline passes.
  TaskSwitches sample_when_quiet() {
    TaskSwitches switches;
    std::vector<std::string> running;
    const bool quiet = harness::wait_until(
        [&] {
          running.clear();
          switches = sample_tasks(&running);
          return running.empty();
        },
        2000ms);
    EXPECT_TRUE(quiet)
        << "the server's tasks did not all block within 2 s after a connection; still running: "
        << fmt::format("{}", fmt::join(running, ", "));
    return switches;
  }

  static int woken_between(const TaskSwitches& before, const TaskSwitches& after,
                           uint64_t& switches) {
    int woken = 0;
    for (const auto& [task, count] : after) {
      const auto earlier = before.find(task);
      const uint64_t was =
          earlier == before.end() ? 0 : earlier->second;  // a new task counts as woken
      if (count != was)
        ++woken;
      switches += count - std::min(count, was);
    }
    return woken;
  }
};

// Pools, of processes or threads, whose idle workers wait for connections; at
// least two of them, or one wake-up could not be told from all (a manifest
// whose command takes {workers} is started with kPoolSize).
constexpr harness::AppliesTo kPoolsOfTwoOrMore{
    .protocol = harness::WireProtocol::size, .workers = harness::kPools, .min_workers = 2};

CSD_CHECK(WakeUps, PerAcceptMatchesTheDeclaredWakeup, kPoolsOfTwoOrMore, "pool/declared-wakeups",
          Level::required,
          "The workers woken per accepted connection (from /proc) match the manifest's "
          "accept_wakeup: one, or the herd.",
          "A manifest's claim must be true; the thundering herd is what the reader of UNP 30.7 "
          "comes to see.",
          {"herd-pool", "herd-claimed"}) {
  const int pool = server().workers();
  // Warm-up: every worker past its first accept, so only steady state is measured.
  ASSERT_TRUE(EveryConnectionSucceeded(load(pool, 2, 100)));

  int woken_total = 0;
  uint64_t switches_total = 0;
  std::map<int, int> histogram;  // tasks woken -> connections
  TaskSwitches before = sample_when_quiet();
  for (int i = 0; i < kConnections && !HasFailure(); ++i) {
    ASSERT_TRUE(GotExactReply(fetch(100), 100)) << "connection " << i;
    const TaskSwitches after = sample_when_quiet();
    const int woken = woken_between(before, after, switches_total);
    woken_total += woken;
    ++histogram[woken];
    before = after;
  }
  if (HasFailure())
    return;

  const double per_connection = static_cast<double>(woken_total) / kConnections;
  const double switches_per_connection = static_cast<double>(switches_total) / kConnections;
  std::string spread;
  for (const auto& [woken, times] : histogram)
    spread += fmt::format(" {} task(s) x{}", woken, times);
  RecordProperty("wakeups_per_connection", fmt::format("{:.2f}", per_connection));
  RecordProperty("switches_per_connection", fmt::format("{:.2f}", switches_per_connection));
  RecordProperty("pool", pool);
  const auto declared = traits().wakeup;
  std::cout << fmt::format(
      "pool of {}, accept_wakeup {}: {:.2f} tasks woken and {:.2f} context switches per connection "
      "({} connections, one at a time);{}\n",
      pool, harness::to_string(declared), per_connection, switches_per_connection, kConnections,
      spread);

  const double half = pool / 2.0;
  if (declared == harness::AcceptWakeup::some)
    return;  // recorded above; no side claimed
  if (declared == harness::AcceptWakeup::all) {
    EXPECT_GE(per_connection, half)
        << "the manifest says every idle worker wakes per connection (a thundering herd), "
           "but on average only "
        << per_connection << " of " << pool << " tasks ran";
  } else {
    EXPECT_LT(per_connection, half)
        << "a pool should wake about one worker per connection (accept_wakeup "
        << harness::to_string(declared) << "), but on average " << per_connection << " of " << pool
        << " tasks ran for each: a thundering herd (select/poll/epoll on a shared "
           "listener without EPOLLEXCLUSIVE?)";
  }
}

}  // namespace
}  // namespace csd::suite
