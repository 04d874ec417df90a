// The timeout multiplier: what it accepts, and that the waiting primitives
// wait the scaled deadline, not the named one.
#include "timeouts.hpp"

#include <gtest/gtest.h>

#include "wait.hpp"

namespace csd::harness {
namespace {

using namespace std::chrono_literals;

TEST(TimeoutMultiplier, AcceptsNumbersFromATenthToAHundred) {
  EXPECT_EQ(parse_timeout_multiplier("2.5"), 2.5);
  EXPECT_EQ(parse_timeout_multiplier("0.1"), 0.1);
  EXPECT_EQ(parse_timeout_multiplier("100"), 100.0);
  for (const char* bad : {"", "0", "-1", "abc", "2x", "101", "0.05"})
    EXPECT_FALSE(parse_timeout_multiplier(bad).has_value()) << bad;
}

// Restores the multiplier a test changes.
class Scaled : public ::testing::Test {
 protected:
  void TearDown() override { set_timeout_multiplier(before_); }
  double before_ = timeout_multiplier();
};

TEST_F(Scaled, DurationsAndWaitsFollowTheMultiplier) {
  set_timeout_multiplier(3);
  EXPECT_EQ(scaled_ms(10ms), 30ms);
  EXPECT_EQ(scaled_ms(2s), 6000ms);
  // A condition that never holds: wait_until gives up after the scaled time.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(wait_until([] { return false; }, 20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 60ms);
}

}  // namespace
}  // namespace csd::harness
