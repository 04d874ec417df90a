// Per design and load point: the figures over the valid repetitions
// (medians, pooled latencies, summed distributions) and each one's ratio to
// the baseline's at the same point.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "designs.hpp"
#include "measure.hpp"
#include "stats.hpp"

namespace csd::bench {

// A figure and its ratio to the baseline's (nullopt: no valid run, or the
// baseline's is zero or missing).
struct Figure {
  std::optional<double> value;
  std::optional<double> ratio;
};

// conn/s over the baseline's in the same repetition, over the repetitions in
// which both runs are valid. A round of the interleaved runs sees one state
// of the machine, so pairing by round cancels most of the drift between
// rounds that widens the spread of either figure alone.
struct PairedRatio {
  double median = 0;
  double min = 0;
  double max = 0;
  int reps = 0;
};

struct Summary {
  std::size_t design = 0;
  std::size_t point = 0;
  std::string name;
  std::string model;
  bool baseline = false;
  int clients = 0;  // the load this design ran at this point
  int conns = 0;
  uint64_t bytes = 0;
  int runs = 0;
  int valid_runs = 0;

  Figure conns_per_s;  // median over valid runs
  std::optional<double> conns_per_s_min;
  std::optional<double> conns_per_s_max;
  std::optional<PairedRatio> conns_per_s_per_rep;  // to the baseline, paired by repetition
  Figure p50_us, p99_us, p999_us, max_us;          // of every valid run's connections together
  Figure server_cpu_us;                            // per connection, median
  std::optional<double> server_cpu_minus_baseline_us;
  Figure system_cpu_us;               // per connection, median
  std::optional<double> system_busy;  // share of all CPUs' time busy during the load (0..1), median
  Figure wakeups;                     // per connection, median
  bool wakeups_lower_bound = false;
  std::optional<double> eagain_per_conn;  // median; nullopt: the server does not report it
  std::optional<harness::DistributionSummary>
      distribution;  // of the per-worker counts summed over valid runs

  uint64_t failed_connections = 0;  // over all runs, valid or not
  uint64_t listen_overflows = 0;
  std::optional<uint64_t> time_wait_max;
  bool port_limited = false;
  std::vector<std::string> notes;  // distinct
};

// One summary per design per point, in design order within each point.
std::vector<Summary> summarize(const std::vector<RunRecord>& runs, const DesignList& designs,
                               const std::vector<LoadPoint>& points);

}  // namespace csd::bench
