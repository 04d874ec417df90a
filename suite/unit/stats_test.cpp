#include "stats.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace csd::harness {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;

// Critical values from any chi-square table: P(X > x) for the given dof.
TEST(ChiSquareUpperTail, MatchesTableValues) {
  EXPECT_THAT(chi_square_upper_tail(3.841, 1), DoubleNear(0.05, 1e-4));
  EXPECT_THAT(chi_square_upper_tail(6.635, 1), DoubleNear(0.01, 1e-4));
  EXPECT_THAT(chi_square_upper_tail(11.070, 5), DoubleNear(0.05, 1e-4));
  EXPECT_THAT(chi_square_upper_tail(15.086, 5), DoubleNear(0.01, 1e-4));
  EXPECT_THAT(chi_square_upper_tail(23.209, 10), DoubleNear(0.01, 1e-4));
  EXPECT_THAT(chi_square_upper_tail(2.706, 1), DoubleNear(0.10, 1e-4));
  EXPECT_THAT(chi_square_upper_tail(0.455, 1), DoubleNear(0.50, 1e-3));
  EXPECT_THAT(chi_square_upper_tail(124.342, 100),
              DoubleNear(0.05, 1e-4));  // large dof: continued fraction
}

TEST(ChiSquareUpperTail, TwoDegreesOfFreedomIsAnExponential) {
  // For dof = 2 the tail is exactly exp(-x/2): checks both evaluation branches.
  for (const double x : {0.1, 0.5, 1.0, 2.9, 3.1, 10.0, 40.0}) {
    EXPECT_THAT(chi_square_upper_tail(x, 2), DoubleNear(std::exp(-x / 2), 1e-12)) << "x = " << x;
  }
}

TEST(ChiSquareUpperTail, EdgeCases) {
  EXPECT_DOUBLE_EQ(chi_square_upper_tail(0, 3), 1.0);
  EXPECT_DOUBLE_EQ(chi_square_upper_tail(-1, 3), 1.0);
  EXPECT_DOUBLE_EQ(chi_square_upper_tail(5, 0), 1.0);
  EXPECT_LT(chi_square_upper_tail(1000, 3), 1e-100);
}

TEST(SummarizeDistribution, UniformCountsFitPerfectly) {
  const std::vector<int64_t> counts{100, 100, 100, 100};
  const auto s = summarize_distribution(counts);
  EXPECT_EQ(s.total, 400);
  EXPECT_EQ(s.min, 100);
  EXPECT_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.max_over_min, 1.0);
  EXPECT_DOUBLE_EQ(s.chi_square, 0.0);
  EXPECT_DOUBLE_EQ(s.p_value, 1.0);
}

TEST(SummarizeDistribution, SkewedCounts) {
  // expected 50 each: (90-50)^2/50 + (10-50)^2/50 = 64, dof 1
  const std::vector<int64_t> counts{90, 10};
  const auto s = summarize_distribution(counts);
  EXPECT_DOUBLE_EQ(s.chi_square, 64.0);
  EXPECT_DOUBLE_EQ(s.max_over_min, 9.0);
  EXPECT_LT(s.p_value, 1e-10);
}

TEST(SummarizeDistribution, AnIdleWorkerMakesTheRatioInfinite) {
  const std::vector<int64_t> counts{5, 0, 5};
  const auto s = summarize_distribution(counts);
  EXPECT_EQ(s.min, 0);
  EXPECT_TRUE(std::isinf(s.max_over_min));
  EXPECT_DOUBLE_EQ(s.chi_square, 5.0);  // expected 10/3 each
  EXPECT_THAT(s.p_value, DoubleNear(std::exp(-2.5), 1e-12));
}

TEST(SummarizeDistribution, EmptyAndAllZero) {
  const auto empty = summarize_distribution({});
  EXPECT_EQ(empty.total, 0);
  EXPECT_DOUBLE_EQ(empty.p_value, 1.0);
  const std::vector<int64_t> zeros{0, 0};
  const auto z = summarize_distribution(zeros);
  EXPECT_DOUBLE_EQ(z.chi_square, 0.0);
  EXPECT_DOUBLE_EQ(z.p_value, 1.0);
}

TEST(SeedTable, FormatsLikeTheSeedServer) {
  const std::vector<int64_t> counts{127, 3};
  EXPECT_EQ(format_seed_table(counts), "child 0 : 127 times\nchild 1 : 3 times\n");
  EXPECT_EQ(format_seed_table(counts, "thread"), "thread 0 : 127 times\nthread 1 : 3 times\n");
}

TEST(SeedTable, RoundTrips) {
  const std::vector<int64_t> counts{127, 0, 42, 1000000};
  EXPECT_EQ(parse_seed_table(format_seed_table(counts)), counts);
  EXPECT_EQ(parse_seed_table(format_seed_table(counts, "thread")), counts);
}

TEST(SeedTable, ParsesAmongOtherOutput) {
  const std::string output =
      "listening on 127.0.0.1:9000\n"
      "the child process said hello\n"
      "child 2 : 7 times\r\n"
      "  child 0:  5 times\n"
      "child 9 was not a row\n";
  EXPECT_THAT(parse_seed_table(output), ElementsAre(5, 0, 7));
  EXPECT_TRUE(parse_seed_table("no table here\n").empty());
}

TEST(Percentile, NearestRank) {
  const std::vector<double> v{15, 20, 35, 40, 50};
  EXPECT_DOUBLE_EQ(percentile(v, 0.05), 15);
  EXPECT_DOUBLE_EQ(percentile(v, 0.30), 20);
  EXPECT_DOUBLE_EQ(percentile(v, 0.40), 20);
  EXPECT_DOUBLE_EQ(percentile(v, 0.50), 35);
  EXPECT_DOUBLE_EQ(percentile(v, 1.00), 50);
  EXPECT_DOUBLE_EQ(percentile(v, 0.0), 15);
  EXPECT_DOUBLE_EQ(percentile({50, 15, 40, 35, 20}, 0.5), 35);  // unsorted input
  EXPECT_TRUE(std::isnan(percentile({}, 0.5)));
}

}  // namespace
}  // namespace csd::harness
