// pool/*: what a pool's workers do, seen from outside. In a pool of worker
// processes, which worker served each connection (sock_diag + /proc), so it
// holds for anyone's server: printed like the seed's server03a table and
// recorded in the JSON. The workers of a thread pool share one descriptor
// table, so which of them accepted cannot be seen in /proc/PID/fd: thread
// pools have a check of their own (EveryThreadServes), and the process-pool
// checks do not apply to them. And how many workers the kernel wakes per
// accepted connection (wakeups.hpp), against the manifest's accept_wakeup.
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "attributed_load.hpp"
#include "check.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "stats.hpp"
#include "wakeups.hpp"

namespace csd::suite {
namespace {

ServerStart on_a_full_pool(ServerStart start) {
  start.full_pool_first = true;
  return start;
}

class Pool : public ServerTest {
 public:
  Pool(const harness::Manifest& implementation, ServerStart start)
      : ServerTest(implementation, on_a_full_pool(start)) {}

 protected:
  // Every check starts once the whole pool is up; a process pool's workers
  // are then known.
  void SetUp() override {
    ServerTest::SetUp();
    if (!HasFatalFailure() && traits().process_pool()) {
      const auto tree = server().tree();
      workers_.assign(tree.begin() + 1, tree.end());
      std::sort(workers_.begin(), workers_.end());
    }
  }

  // A process pool's workers, in pid order.
  [[nodiscard]] const std::vector<pid_t>& workers() const { return workers_; }
  [[nodiscard]] int pool_size() const { return static_cast<int>(workers_.size()); }

  // The connections the last served_by_each_worker() made: as many as it
  // asked for, or fewer once one failed or its share of the budget ran out.
  [[nodiscard]] int64_t connections_made() const { return made_; }

  // Runs an attributed load and returns the per-worker counts, in workers() order.
  std::vector<int64_t> served_by_each_worker(int clients, int conns) {
    const auto load =
        run_attributed_load(target(), server().pid(), server().pid(), clients, conns, 100);
    made_ = load.connections;
    std::string problems;
    for (const auto& p : load.problems) problems += "\n  " + p;
    EXPECT_EQ(load.failed, 0) << load.failed << " of " << load.connections
                              << " exchanges failed:" << problems;
    EXPECT_EQ(load.unattributed, 0)
        << load.unattributed << " of " << load.connections
        << " connections could not be attributed to one worker:" << problems;
    std::vector<int64_t> counts;
    counts.reserve(workers_.size());
    for (const pid_t pid : workers_)
      counts.push_back(load.per_process.contains(pid) ? load.per_process.at(pid) : 0);
    for (const auto& [pid, count] : load.per_process) {
      EXPECT_TRUE(std::find(workers_.begin(), workers_.end(), pid) != workers_.end())
          << count << " connections were served by " << harness::describe(pid)
          << ", which is not one of the " << workers_.size() << " workers seen at start";
    }
    return counts;
  }

  // `source` says where the counts come from, `label` names a worker in the table.
  void record(const harness::DistributionSummary& s,
              std::string_view source = "connections per worker, seen from outside",
              const std::string& label = "child") {
    std::string counts;
    for (const auto c : s.counts) counts += fmt::format("{}{}", counts.empty() ? "" : " ", c);
    RecordProperty("distribution", counts);
    RecordProperty("max_over_min", fmt::format("{:.2f}", s.max_over_min));
    RecordProperty("chi_square", fmt::format("{:.2f}", s.chi_square));
    RecordProperty("p_value", fmt::format("{:.4f}", s.p_value));
    std::cout << source << ":\n"
              << harness::format_seed_table(s.counts, label)
              << fmt::format("max/min {:.2f}, chi-square {:.2f} (p = {:.4f})\n", s.max_over_min,
                             s.chi_square, s.p_value);
  }

 private:
  std::vector<pid_t> workers_;
  int64_t made_ = 0;
};

// What a pool does on a quick loopback: not run under --network, where a
// degraded path would be measured instead.
const Runs kOnAQuickLoopback{.under_network_conditions = false};
// The pool checks measure how the kernel and the scheduler share the work out,
// which other checks' clients and servers beside them on the CPUs would decide.
Runs alone_on_a_quick_loopback(std::string why) {
  return {.under_network_conditions = false, .alone_because = std::move(why)};
}
constexpr auto kSpread =
    "It measures how connections spread over the workers, which another check's load on the "
    "CPUs skews: the scheduler, not the design, would pick who runs.";

// Where the checks apply: servers speaking the size protocol whose manifest
// gives the worker count, the pool of worker processes for the first three
// checks, of worker threads for the last.
constexpr harness::AppliesTo kProcessPoolsSpeakingSize{
    .protocol = harness::WireProtocol::size, .workers = harness::kProcessPools, .min_workers = 1};
constexpr harness::AppliesTo kThreadPoolsSpeakingSize{
    .protocol = harness::WireProtocol::size, .workers = harness::kThreadPools, .min_workers = 1};

// Every worker of the pool serves. With blocking accept() Linux wakes one
// waiter at a time, first come first served, so the spread is near uniform;
// the bound below is deliberately generous (10x) and holds only where the
// kernel picks the worker. Where the parent picks (prefork-fdpass: first free
// child), only "every worker serves" is asserted, at a concurrency above the
// pool size.
CSD_CHECK(Pool, EveryWorkerAccepts, kProcessPoolsSpeakingSize,
          {.id = "pool/every-worker-accepts",
           .level = Level::required,
           .statement = "Under load, every worker of a process pool serves connections.",
           .why_level = "The pool is the design: a worker that never accepts is not a worker.",
           .proven_by = {"lazy-pool"},
           .runs = alone_on_a_quick_loopback(kSpread)}) {
  const int clients = pool_size() * 3;
  const auto counts = served_by_each_worker(clients, 40);
  const auto summary = harness::summarize_distribution(counts);
  record(summary);
  EXPECT_EQ(summary.total, connections_made())
      << "the per-worker counts must add up to the connections made";
  for (std::size_t i = 0; i < counts.size(); ++i) {
    EXPECT_GT(counts[i], 0) << "worker " << i << " " << harness::describe(workers()[i])
                            << " served nothing of " << summary.total << " connections from "
                            << clients << " concurrent clients";
  }
  if (!traits().parent_accepts && summary.min > 0) {
    EXPECT_LE(summary.max_over_min, 10.0)
        << "the kernel's accept hand-off should spread connections";
  }
}

// A server that prints the seed's "child N : K times" table when stopped must
// print the truth: the counts, matched as a multiset, equal what the suite saw.
// (The seed's server03a keeps each count in one byte, so it wraps at 256; the
// load below gives each worker about 300.)
CSD_CHECK(
    Pool, ReportedCounts, kProcessPoolsSpeakingSize,
    {.id = "pool/reported-counts",
     .level = Level::recommended,
     .statement = "The per-worker table the server prints when stopped (UNP's meter) matches the "
                  "connections each worker was seen to serve.",
     .why_level = "Printing the table is UNP's habit, not the design; a server that prints none is "
                  "skipped, one that prints a wrong one is warned.",
     .proven_by = {"miscount"},
     .runs = alone_on_a_quick_loopback(kSpread),
     .budget = 30s}) {
  auto observed = served_by_each_worker(pool_size() * 2, 150);
  const auto report = stop_server(SIGTERM, 2000ms);
  auto reported = harness::parse_seed_table(report.output);
  if (reported.empty())
    CSD_SKIP("prints no 'child N : K times' table when stopped");
  record(harness::summarize_distribution(observed));
  std::sort(observed.begin(), observed.end());
  std::sort(reported.begin(), reported.end());
  const auto sum = [](const std::vector<int64_t>& v) {
    return std::accumulate(v.begin(), v.end(), int64_t{0});
  };
  EXPECT_EQ(sum(reported), sum(observed))
      << "the table's counts do not add up to the connections made";
  EXPECT_EQ(reported, observed)
      << "the printed per-worker counts differ from the ones seen from outside";
}

// One client, one connection at a time: who serves depends on whom the
// kernel wakes, so the expectation is the manifest's accept_wakeup.
//   fifo (blocking accept: the longest-waiting worker wins): each worker goes
//     to the back of the queue after serving, so every worker serves.
//   lifo (EPOLLEXCLUSIVE: the waiter first in the listener's wait queue that
//     is idle wins, again and again): one worker takes most of the load.
//   all / some / unspecified (a herd, a hash, a parent's choice): no claim,
//     the spread is recorded and the counts must still add up.
CSD_CHECK(
    Pool, DeclaredWakeupOrder, kProcessPoolsSpeakingSize,
    {.id = "pool/declared-wakeup-order",
     .level = Level::required,
     .statement = "With one client at a time, the workers take turns in the order the manifest's "
                  "accept_wakeup declares (fifo or lifo).",
     .why_level = "A manifest's claim must be true: the report shows it as the design's behaviour.",
     .proven_by = {"fifo-claimed", "lifo-claimed"},
     .runs = alone_on_a_quick_loopback(
         "It watches which sleeping worker takes each connection; on busy CPUs a woken worker "
         "waits to run, and the order seen is the scheduler's.")}) {
  const int conns = pool_size() * 10;
  const auto counts = served_by_each_worker(1, conns);
  const auto summary = harness::summarize_distribution(counts);
  record(summary);
  const auto declared = traits().wakeup;
  RecordProperty("accept_wakeup", std::string(harness::to_string(declared)));
  EXPECT_EQ(summary.total, connections_made())
      << "the per-worker counts must add up to the connections made";
  if (declared == harness::AcceptWakeup::fifo) {
    for (std::size_t i = 0; i < counts.size(); ++i) {
      EXPECT_GT(counts[i], 0) << "worker " << i << " " << harness::describe(workers()[i])
                              << " served none of " << conns
                              << " connections made one at a time: a FIFO wake-up "
                              << "(accept_wakeup fifo) hands them round the pool";
    }
  } else if (declared == harness::AcceptWakeup::lifo) {
    EXPECT_GT(summary.max * 2, summary.total)
        << "with a LIFO wake-up (accept_wakeup lifo) one worker should take "
           "most connections made one at a time; the busiest took "
        << summary.max << " of " << summary.total;
  }
}

// Thread pools share one descriptor table, so which thread accepted cannot be
// read from /proc/PID/fd. From outside: every pool thread must run during a
// load that keeps them all busy (its context-switch count moves). From the
// server's own "thread N : K times" table, if it prints one: N rows, every
// count above zero, the sum equal to the connections made.
CSD_CHECK(Pool, EveryThreadServes, kThreadPoolsSpeakingSize,
          {.id = "pool/every-thread-serves",
           .level = Level::required,
           .statement = "Under load, every thread of a thread pool serves connections.",
           .why_level = "As pool/every-worker-accepts, for threads.",
           .proven_by = {"lazy-thread-pool"},
           .runs = alone_on_a_quick_loopback(kSpread)}) {
  const int workers = server().workers();
  const auto before = harness::read_tasks(server().pid());
  const int clients = workers * 3;
  const int conns = 40;
  const auto load_report = load(clients, conns, 100);
  ASSERT_TRUE(EveryConnectionSucceeded(load_report));
  const auto after = harness::read_tasks(server().pid());
  int ran = 0;
  for (const auto& task : after) {
    const auto was = std::find_if(before.begin(), before.end(),
                                  [&](const auto& t) { return t.tid == task.tid; });
    if (was == before.end() || was->switches() != task.switches())
      ++ran;
  }
  RecordProperty("threads_that_ran", ran);
  EXPECT_GE(ran, workers) << "only " << ran << " of the process's " << after.size()
                          << " threads ran while " << clients << " clients kept a pool of "
                          << workers << " busy: some pool threads never serve";

  const auto report = stop_server(SIGTERM, 2000ms);
  const auto reported = harness::parse_seed_table(report.output);
  if (reported.empty()) {
    std::cout
        << "prints no 'thread N : K times' table when stopped; judged by context switches only\n";
    return;
  }
  const auto summary = harness::summarize_distribution(reported);
  record(summary, "connections per thread, by the server's own table", "thread");
  EXPECT_EQ(reported.size(), static_cast<std::size_t>(workers))
      << "the table has one row per thread";
  EXPECT_EQ(summary.total, static_cast<int64_t>(load_report.connections))
      << "the table's counts do not add up to the connections made";
  for (std::size_t i = 0; i < reported.size(); ++i) {
    EXPECT_GT(reported[i], 0) << "thread " << i << " served none of " << summary.total
                              << " connections from " << clients
                              << " concurrent clients, by its own table";
  }
}

// ---- pool/declared-wakeups -------------------------------------------------------

// Connections are made one at a time; after each, the suite waits until no
// task of the server is runnable any more and counts the tasks whose
// context-switch count moved (wakeups.hpp). Expected per manifest
// `accept_wakeup`: "fifo" and "lifo" (and, by default, any pool) wake about
// one task per connection, plus at most a hand-off partner (the next thread
// to take a mutex, the parent passing a descriptor); "all" wakes every idle
// worker. The assertion is the side of half the pool the figure falls on,
// never a time; the figure is recorded. "some" (an fcntl lock, whose unlock
// wakes a varying number of waiters) claims no side: the figure is only
// recorded.

// A bigger pool than the usual 4 makes "one" and "all" far apart.
constexpr int kWakeupPoolSize = 8;
constexpr int kWakeupConnections = 40;

// Pools, of processes or threads, whose idle workers wait for connections; at
// least two of them, or one wake-up could not be told from all (a manifest
// whose command takes {workers} is started with kWakeupPoolSize).
constexpr harness::AppliesTo kPoolsOfTwoOrMore{
    .protocol = harness::WireProtocol::size, .workers = harness::kPools, .min_workers = 2};

CSD_CHECK(
    Pool, DeclaredWakeups, kPoolsOfTwoOrMore,
    {.id = "pool/declared-wakeups",
     .level = Level::required,
     .statement = "The workers woken per accepted connection (from /proc) match the manifest's "
                  "accept_wakeup: one, or the herd.",
     .why_level =
         "A manifest's claim must be true; the thundering herd is what the reader of UNP 30.7 "
         "comes to see.",
     .proven_by = {"herd-pool", "herd-claimed"},
     .runs = alone_on_a_quick_loopback(
         "It counts the workers woken per connection from /proc; on busy CPUs a woken worker "
         "that has not yet run is counted with the next connection's herd."),
     .server = {.workers = kWakeupPoolSize}}) {
  const int pool = server().workers();
  // Warm-up: every worker past its first accept, so only steady state is measured.
  ASSERT_TRUE(EveryConnectionSucceeded(load(pool, 2, 100)));

  int woken_total = 0;
  uint64_t switches_total = 0;
  std::map<int, int> histogram;  // tasks woken -> connections
  TaskSwitches before = sample_when_quiet(server());
  for (int i = 0; i < kWakeupConnections && !HasFailure(); ++i) {
    ASSERT_TRUE(GotExactReply(fetch(100), 100)) << "connection " << i;
    const TaskSwitches after = sample_when_quiet(server());
    const int woken = woken_between(before, after, switches_total);
    woken_total += woken;
    ++histogram[woken];
    before = after;
  }
  if (HasFailure())
    return;

  const double per_connection = static_cast<double>(woken_total) / kWakeupConnections;
  const double switches_per_connection = static_cast<double>(switches_total) / kWakeupConnections;
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
      pool, harness::to_string(declared), per_connection, switches_per_connection,
      kWakeupConnections, spread);

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
