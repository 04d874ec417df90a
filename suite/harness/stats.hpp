// Statistics for distributions and latencies. Pure functions, unit-tested.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace csd::harness {

struct DistributionSummary {
  std::vector<int64_t> counts;
  int64_t total = 0;
  int64_t min = 0;
  int64_t max = 0;
  double max_over_min = 0;  // infinity when min == 0
  double chi_square = 0;    // against uniform, k-1 degrees of freedom
  double p_value = 1;       // upper tail of chi-square(k-1)
};

DistributionSummary summarize_distribution(std::span<const int64_t> counts);

// Upper-tail probability of the chi-square distribution with `dof` degrees.
double chi_square_upper_tail(double x, int dof);

// The seed's server03a table: one line per worker, "child 0 : 127 times"
// (`label` = "child" or "thread").
std::string format_seed_table(std::span<const int64_t> counts, const std::string& label = "child");

// Parses lines "child N : K times" / "thread N : K times" from a server's
// output; returns counts indexed by N (missing indices are 0), empty if none.
std::vector<int64_t> parse_seed_table(const std::string& output);

// q-quantile (0..1) of unsorted values, nearest-rank.
double percentile(std::vector<double> values, double q);

}  // namespace csd::harness
