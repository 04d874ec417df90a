// One multiplier for every deadline the suite waits on, for slow machines
// and sanitizer builds: CSD_TIMEOUT_MULTIPLIER in the environment, or
// csd-suite --timeout-multiplier. A check names its deadlines as on a quick
// machine; scaled() is what the waiting primitives (wait_until, the
// capture, the processes, the client deadlines) actually wait.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace csd::harness {

// The multiplier in force: set_timeout_multiplier()'s, else the
// environment's, else 1.
double timeout_multiplier();
void set_timeout_multiplier(double multiplier);

// "2.5" -> 2.5; nullopt for anything that is not a number from 0.1 to 100.
std::optional<double> parse_timeout_multiplier(std::string_view text);

template <typename Rep, typename Period>
std::chrono::steady_clock::duration scaled(std::chrono::duration<Rep, Period> timeout) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double, Period>(timeout) * timeout_multiplier());
}

// A check's budget (csd-suite's, per test): one point in time at which every
// deadline computed here is cut off. Once it has passed, every wait of the
// harness (wait_until, deadline_in, a server's start, a capture's packets)
// ends at once as timed out, so a check on a server that never answers ends
// near its budget however many waits it has left. Safe from any thread.
namespace budget {
using Clock = std::chrono::steady_clock;
// From now, the running test may take `scaled_budget` (already scaled).
void begin(Clock::duration scaled_budget);
void end();  // no budget: deadlines are cut by nothing
[[nodiscard]] bool running();
[[nodiscard]] Clock::duration length();     // as begun; zero without a budget
[[nodiscard]] Clock::time_point ends_at();  // time_point::max() without a budget
[[nodiscard]] bool spent();                 // its end has passed
// `deadline`, or the budget's end if that is sooner.
[[nodiscard]] Clock::time_point cut(Clock::time_point deadline);
// `fraction` (0..1) of the budget in: where a check that repeats exchanges
// stops starting new ones, keeping the rest for what follows them.
[[nodiscard]] Clock::time_point share(double fraction);
// How a failure for want of time begins ("exceeded its budget of 20 s"), so
// that a report can lead with it.
inline constexpr std::string_view kExceeded = "exceeded its budget of ";
}  // namespace budget

// The test property (report.json: a figure) that says what a check waited
// for in vain until its deadline ("timeout in recv after 0 of 1 bytes (limit
// 10.00 s)"): a server that never answers is stopped by time, as one that
// forks without end is by csd-guard's limits, and a grade says which.
inline constexpr std::string_view kTimedOutProperty = "timed_out";

// scaled() as whole milliseconds, for the APIs that take them.
template <typename Rep, typename Period>
std::chrono::milliseconds scaled_ms(std::chrono::duration<Rep, Period> timeout) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(scaled(timeout));
}

// The point `timeout` (scaled) from now, or the budget's end if sooner: the
// deadline of every wait, the harness's and the client library's.
inline std::chrono::steady_clock::time_point deadline_in(
    std::chrono::steady_clock::duration timeout) {
  return budget::cut(std::chrono::steady_clock::now() + scaled(timeout));
}

}  // namespace csd::harness
