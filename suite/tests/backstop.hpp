// A test for csd-selftest alone: with CSD_BACKSTOP_SELFTEST=1 in its
// environment, csd-suite registers Backstop.UnboundedWaitIsEnded, which
// waits with no deadline for a program that never ends, as a check with a
// bug would, with a budget of kBackstopBudget. Only BudgetWatch's backstop
// can end it: csd-selftest's Budget.BackstopEndsACheckThatOutlivesItsBudget
// shows that it does.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string_view>

namespace csd::suite {

inline constexpr std::string_view kBackstopSuite = "Backstop";
inline constexpr std::chrono::seconds kBackstopBudget{1};

// Registers the test if CSD_BACKSTOP_SELFTEST is 1; true if it did.
bool register_backstop_selftest();

}  // namespace csd::suite
