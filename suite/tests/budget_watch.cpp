#include "budget_watch.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#include "backstop.hpp"
#include "check.hpp"
#include "connection.hpp"
#include "server_process.hpp"
#include "timeouts.hpp"

namespace csd::suite {

using Clock = std::chrono::steady_clock;

std::chrono::seconds budget_of(const ::testing::TestInfo& test) {
  if (test.test_suite_name() == kBackstopSuite)
    return kBackstopBudget;
  const CheckDeclaration* check = find_check(test.test_suite_name(), test.name());
  return check == nullptr ? kDemoBudget : check->info.budget;
}

std::string budget_failure(std::chrono::seconds budget) {
  const double multiplier = harness::timeout_multiplier();
  const std::string scaled = multiplier == 1.0
                                 ? ""
                                 : fmt::format(" (x{}: {:.0f} s)", multiplier,
                                               static_cast<double>(budget.count()) * multiplier);
  return fmt::format("{}{} s{}", harness::budget::kExceeded, budget.count(), scaled);
}

BudgetWatch::BudgetWatch() : watchdog_([this](const std::stop_token& stop) { watch(stop); }) {}

void BudgetWatch::OnTestStart(const ::testing::TestInfo& test) {
  const auto budget = budget_of(test);
  harness::budget::begin(harness::scaled(budget));
  client::set_cutoff(harness::budget::ends_at());
  const std::scoped_lock lock(mutex_);
  running_ = Watched{.name = fmt::format("{}.{}", test.test_suite_name(), test.name()),
                     .budget = budget,
                     .next = harness::budget::ends_at() + harness::scaled(kGrace)};
  changed_.notify_one();
}

void BudgetWatch::OnTestEnd(const ::testing::TestInfo& /*test*/) {
  {
    const std::scoped_lock lock(mutex_);
    running_.reset();
    changed_.notify_one();
  }
  harness::budget::end();
  client::set_cutoff(std::nullopt);
}

void BudgetWatch::watch(const std::stop_token& stop) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    if (!running_) {
      changed_.wait(lock, stop, [&] { return running_.has_value(); });
      continue;
    }
    const auto next = running_->next;
    if (Clock::now() >= next)
      act(*running_);
    else
      changed_.wait_until(lock, stop, next, [&] { return !running_ || running_->next != next; });
  }
}

void BudgetWatch::act(Watched& test) {
  switch (test.stage) {
    case Stage::within_budget: {
      // A failure from this thread goes to the running test: OnTestEnd, which
      // comes before the next test starts, waits for mutex_, which we hold.
      const int trees = harness::end_every_process_tree();
      ADD_FAILURE() << budget_failure(test.budget) << ", and was still running " << kGrace.count()
                    << " s (scaled) later: csd-suite ended it and killed " << trees
                    << " process tree(s) it had started";
      test.stage = Stage::trees_killed;
      test.next = Clock::now() + kStuck;
      return;
    }
    case Stage::trees_killed:
      std::fprintf(stderr,
                   "csd-suite: %s was still running %lld s after its budget ran out and its "
                   "processes were killed: a bug of csd's own; the run ends here\n",
                   test.name.c_str(), static_cast<long long>(kStuck.count()));
      std::fflush(stderr);
      std::_Exit(3);
  }
}

}  // namespace csd::suite
