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

// scaled() as whole milliseconds, for the APIs that take them.
template <typename Rep, typename Period>
std::chrono::milliseconds scaled_ms(std::chrono::duration<Rep, Period> timeout) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(scaled(timeout));
}

// The point `timeout` (scaled) from now: a deadline for the client library.
inline std::chrono::steady_clock::time_point deadline_in(
    std::chrono::steady_clock::duration timeout) {
  return std::chrono::steady_clock::now() + scaled(timeout);
}

}  // namespace csd::harness
