// Distribution: in a pool of worker processes, which worker served each
// connection, found from outside (sock_diag + /proc), so it holds for anyone's
// server. Printed like the seed's server03a table and recorded in the JSON.
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <numeric>

#include "attributed_load.hpp"
#include "implementations.hpp"
#include "models.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "stats.hpp"

namespace csd::suite {
namespace {

class Distribution : public ServerTest {
 protected:
  Distribution() { applies_to_protocol(harness::WireProtocol::size); }

  // Skips unless the model is a pool of worker processes; then waits for the
  // pool to be complete and fills `pool` with its workers, in pid order.
  void find_process_pool_workers(std::vector<pid_t>& pool) {
    if (is_thread_pool(model())) {
      CSD_SKIP(
          fmt::format("model {}: the workers are threads sharing one descriptor table, so which one "
                      "accepted cannot be seen from /proc/PID/fd",
                      model()));
    }
    if (!is_process_pool(model())) CSD_SKIP(fmt::format("model {} is not a pool of worker processes", model()));
    const int workers = server().workers();
    if (workers <= 0) CSD_SKIP("the manifest gives no worker count");
    const bool complete = server().wait_for_tree_size(static_cast<std::size_t>(workers) + 1, 5000ms);
    auto tree = server().tree();
    EXPECT_TRUE(complete) << "expected the parent and " << workers << " workers; the tree has " << tree.size()
                          << " processes";
    pool.assign(tree.begin() + 1, tree.end());
    std::sort(pool.begin(), pool.end());
  }

  // Runs an attributed load and returns the per-worker counts, in `workers` order.
  std::vector<int64_t> served_by(const std::vector<pid_t>& workers, int clients, int conns) {
    const auto load = run_attributed_load(target(), server().pid(), server().pid(), clients, conns, 100);
    std::string problems;
    for (const auto& p : load.problems) problems += "\n  " + p;
    EXPECT_EQ(load.failed, 0) << load.failed << " of " << load.connections << " exchanges failed:" << problems;
    EXPECT_EQ(load.unattributed, 0) << load.unattributed << " of " << load.connections
                                    << " connections could not be attributed to one worker:" << problems;
    std::vector<int64_t> counts;
    counts.reserve(workers.size());
    for (const pid_t pid : workers) counts.push_back(load.per_process.contains(pid) ? load.per_process.at(pid) : 0);
    for (const auto& [pid, count] : load.per_process) {
      EXPECT_NE(std::find(workers.begin(), workers.end(), pid), workers.end())
          << count << " connections were served by " << harness::describe(pid) << ", which is not one of the "
          << workers.size() << " workers seen at start";
    }
    return counts;
  }

  void record(const harness::DistributionSummary& s) {
    std::string counts;
    for (const auto c : s.counts) counts += fmt::format("{}{}", counts.empty() ? "" : " ", c);
    RecordProperty("distribution", counts);
    RecordProperty("max_over_min", fmt::format("{:.2f}", s.max_over_min));
    RecordProperty("chi_square", fmt::format("{:.2f}", s.chi_square));
    RecordProperty("p_value", fmt::format("{:.4f}", s.p_value));
    std::cout << "connections per worker, seen from outside:\n"
              << harness::format_seed_table(s.counts)
              << fmt::format("max/min {:.2f}, chi-square {:.2f} (p = {:.4f})\n", s.max_over_min, s.chi_square,
                             s.p_value);
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
  if (IsSkipped() || HasFailure()) return;
  const int clients = static_cast<int>(workers.size()) * 3;
  const auto counts = served_by(workers, clients, 40);
  const auto summary = harness::summarize_distribution(counts);
  record(summary);
  EXPECT_EQ(summary.total, int64_t{clients} * 40) << "the per-worker counts must add up to the connections made";
  for (std::size_t i = 0; i < counts.size(); ++i) {
    EXPECT_GT(counts[i], 0) << "worker " << i << " " << harness::describe(workers[i]) << " served nothing of "
                            << summary.total << " connections from " << clients << " concurrent clients";
  }
  if (!parent_accepts(model()) && summary.min > 0) {
    EXPECT_LE(summary.max_over_min, 10.0) << "the kernel's accept hand-off should spread connections";
  }
}

// A server that prints the seed's "child N : K times" table when stopped must
// print the truth: the counts, matched as a multiset, equal what the suite saw.
// (The seed's server03a keeps each count in one byte, so it wraps at 256; the
// load below gives each worker about 300.)
TEST_P(Distribution, ReportedCountsMatchObserved) {
  std::vector<pid_t> workers;
  find_process_pool_workers(workers);
  if (IsSkipped() || HasFailure()) return;
  auto observed = served_by(workers, static_cast<int>(workers.size()) * 2, 150);
  const auto report = stop_server(SIGTERM, 2000ms);
  auto reported = harness::parse_seed_table(report.output);
  if (reported.empty()) CSD_SKIP("prints no 'child N : K times' table when stopped");
  record(harness::summarize_distribution(observed));
  std::sort(observed.begin(), observed.end());
  std::sort(reported.begin(), reported.end());
  const auto sum = [](const std::vector<int64_t>& v) { return std::accumulate(v.begin(), v.end(), int64_t{0}); };
  EXPECT_EQ(sum(reported), sum(observed)) << "the table's counts do not add up to the connections made";
  EXPECT_EQ(reported, observed) << "the printed per-worker counts differ from the ones seen from outside";
}

CSD_INSTANTIATE_FAMILY(Distribution);

}  // namespace
}  // namespace csd::suite
