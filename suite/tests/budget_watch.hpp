// Every test within its budget. A test's budget starts when the test does:
// its check's CheckInfo::budget (a demo family's test: kDemoBudget), scaled
// by --timeout-multiplier. Every wait of the harness and of the client is
// cut off at its end (harness::budget, client::set_cutoff), so a check on a
// server that never answers ends near it, and says so (budget_failure).
//
// The backstop does not depend on the check's code: a watchdog thread fails
// a test still running kGrace after its budget ("csd-suite ended it ..."),
// kills every process tree it started (its waits then end on EOF, refusals,
// exits), and the run goes on with the next test. A test still running
// kStuck after that is a bug of csd's own: the run ends, naming it (exit 3).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace csd::suite {

// A demo family's test, which has no catalogue entry (its programs are ours).
inline constexpr std::chrono::seconds kDemoBudget{60};

// The budget of a test, unscaled: its check's, else kDemoBudget.
std::chrono::seconds budget_of(const ::testing::TestInfo& test);

// The failure a check records when its budget ran out before it ended:
// "exceeded its budget of 20 s (x2: 40 s)". csd-report leads the reason with it.
std::string budget_failure(std::chrono::seconds budget);

class BudgetWatch : public ::testing::EmptyTestEventListener {
 public:
  static constexpr std::chrono::seconds kGrace{5};   // for stopping a server, scaled
  static constexpr std::chrono::seconds kStuck{30};  // after its trees were killed

  BudgetWatch();
  void OnTestStart(const ::testing::TestInfo& test) override;
  void OnTestEnd(const ::testing::TestInfo& test) override;

 private:
  enum class Stage { within_budget, trees_killed };
  struct Watched {
    std::string name;  // Impl/Size.SplitRequest/csd_fork
    std::chrono::seconds budget;
    std::chrono::steady_clock::time_point next;  // when the watchdog acts next
    Stage stage = Stage::within_budget;
  };

  void watch(const std::stop_token& stop);
  void act(Watched& test);  // with mutex_ held

  std::mutex mutex_;
  std::condition_variable_any changed_;
  std::optional<Watched> running_;
  std::jthread watchdog_;  // last: started once everything it uses exists
};

}  // namespace csd::suite
