// Every check within its budget, as csd-selftest verifies it on the runs it
// makes: each check's time in the gtest JSON against the catalogue's budget_s.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "summary.hpp"

namespace csd::selftest {

// The catalogue, as `csd-suite --list-checks=json` printed it for this run
// of csd-selftest (read once by its main()).
const nlohmann::json& catalogue_checks();

// Success if every check of `summary` ended within its budget (budget_s,
// times `multiplier`, the run's --timeout-multiplier) and the grace
// csd-suite's BudgetWatch gives a check before it ends it itself: past that,
// a check went on after its waits had been cut off. The failure names each
// check, its time and its budget.
::testing::AssertionResult EndedWithinBudgets(const csd::report::Summary& summary,
                                              double multiplier = 1.0);

}  // namespace csd::selftest
