// Distribution: in a pool of worker processes, which worker served each
// connection, found from outside (sock_diag + /proc), so it holds for anyone's
// server. Printed like the seed's server03a table and recorded in the JSON.
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <numeric>

#include "attributed_load.hpp"
#include "implementations.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "stats.hpp"
#include "wait.hpp"

namespace csd::suite {
namespace {

class Distribution : public ServerTest {
 protected:
  Distribution() { applies_to_protocol(harness::WireProtocol::size); }

  // Skips unless the model is a pool of worker processes; then waits for the
  // pool to be complete and fills `pool` with its workers, in pid order.
  void find_process_pool_workers(std::vector<pid_t>& pool) {
    if (traits().thread_pool()) {
      CSD_SKIP(fmt::format(
          "model {}: the workers are threads sharing one descriptor table, so which one "
          "accepted cannot be seen from /proc/PID/fd",
          model()));
    }
    if (!traits().process_pool())
      CSD_SKIP(fmt::format("model {} is not a pool of worker processes", model()));
    const int workers = server().workers();
    if (workers <= 0)
      CSD_SKIP("the manifest gives no worker count");
    const bool complete =
        server().wait_for_tree_size(static_cast<std::size_t>(workers) + 1, 5000ms);
    auto tree = server().tree();
    EXPECT_TRUE(complete) << "expected the parent and " << workers << " workers; the tree has "
                          << tree.size() << " processes";
    pool.assign(tree.begin() + 1, tree.end());
    std::sort(pool.begin(), pool.end());
  }

  // Runs an attributed load and returns the per-worker counts, in `workers` order.
  std::vector<int64_t> served_by(const std::vector<pid_t>& workers, int clients, int conns) {
    const auto load =
        run_attributed_load(target(), server().pid(), server().pid(), clients, conns, 100);
    std::string problems;
    for (const auto& p : load.problems) problems += "\n  " + p;
    EXPECT_EQ(load.failed, 0) << load.failed << " of " << load.connections
                              << " exchanges failed:" << problems;
    EXPECT_EQ(load.unattributed, 0)
        << load.unattributed << " of " << load.connections
        << " connections could not be attributed to one worker:" << problems;
    std::vector<int64_t> counts;
    counts.reserve(workers.size());
    for (const pid_t pid : workers)
      counts.push_back(load.per_process.contains(pid) ? load.per_process.at(pid) : 0);
    for (const auto& [pid, count] : load.per_process) {
      EXPECT_NE(std::find(workers.begin(), workers.end(), pid), workers.end())
          << count << " connections were served by " << harness::describe(pid)
          << ", which is not one of the " << workers.size() << " workers seen at start";
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
};

// Every worker of the pool serves. With blocking accept() Linux wakes one
// waiter at a time, first come first served, so the spread is near uniform;
// the bound below is deliberately generous (10x) and holds only where the
// kernel picks the worker. Where the parent picks (prefork-fdpass: first free
// child), only "every worker serves" is asserted, at a concurrency above the
// pool size.
TEST_P(Distribution, EveryWorkerAccepts) {
  std::vector<pid_t> workers;
  find_process_pool_workers(workers);
  if (IsSkipped() || HasFailure())
    return;
  const int clients = static_cast<int>(workers.size()) * 3;
  const auto counts = served_by(workers, clients, 40);
  const auto summary = harness::summarize_distribution(counts);
  record(summary);
  EXPECT_EQ(summary.total, int64_t{clients} * 40)
      << "the per-worker counts must add up to the connections made";
  for (std::size_t i = 0; i < counts.size(); ++i) {
    EXPECT_GT(counts[i], 0) << "worker " << i << " " << harness::describe(workers[i])
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
TEST_P(Distribution, ReportedCountsMatchObserved) {
  std::vector<pid_t> workers;
  find_process_pool_workers(workers);
  if (IsSkipped() || HasFailure())
    return;
  auto observed = served_by(workers, static_cast<int>(workers.size()) * 2, 150);
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
//   all / unspecified (a herd, a hash, a parent's choice): no claim, the
//     spread is recorded and the counts must still add up.
TEST_P(Distribution, OneClientAtATimeFollowsTheDeclaredWakeup) {
  std::vector<pid_t> workers;
  find_process_pool_workers(workers);
  if (IsSkipped() || HasFailure())
    return;
  const int conns = static_cast<int>(workers.size()) * 10;
  const auto counts = served_by(workers, 1, conns);
  const auto summary = harness::summarize_distribution(counts);
  record(summary);
  const auto declared = traits().wakeup;
  RecordProperty("accept_wakeup", std::string(harness::to_string(declared)));
  EXPECT_EQ(summary.total, conns) << "the per-worker counts must add up to the connections made";
  if (declared == harness::AcceptWakeup::fifo) {
    for (std::size_t i = 0; i < counts.size(); ++i) {
      EXPECT_GT(counts[i], 0)
          << "worker " << i << " " << harness::describe(workers[i]) << " served none of " << conns
          << " connections made one at a time: a FIFO wake-up (accept_wakeup fifo) "
          << "hands them round the pool";
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
TEST_P(Distribution, EveryPoolThreadServes) {
  if (!traits().thread_pool())
    CSD_SKIP(fmt::format("model {} is not a pool of worker threads", model()));
  const int workers = server().workers();
  if (workers <= 0)
    CSD_SKIP("the manifest gives no worker count");
  ASSERT_TRUE(harness::wait_until(
      [&] {
        return harness::thread_ids(server().pid()).size() >= static_cast<std::size_t>(workers);
      },
      5000ms))
      << "the pool never reached " << workers << " threads";
  const auto before = harness::read_tasks(server().pid());
  const int clients = workers * 3;
  const int conns = 40;
  ASSERT_TRUE(EveryConnectionSucceeded(load(clients, conns, 100)));
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
  EXPECT_EQ(summary.total, int64_t{clients} * conns)
      << "the table's counts do not add up to the connections made";
  for (std::size_t i = 0; i < reported.size(); ++i) {
    EXPECT_GT(reported[i], 0) << "thread " << i << " served none of " << summary.total
                              << " connections from " << clients
                              << " concurrent clients, by its own table";
  }
}

CSD_INSTANTIATE_FAMILY(Distribution);

}  // namespace
}  // namespace csd::suite
