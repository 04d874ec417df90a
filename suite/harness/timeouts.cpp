#include "timeouts.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <string>

namespace csd::harness {

namespace {

// 0 until set: then the environment decides, once.
std::atomic<double> g_multiplier{0};

}  // namespace

std::optional<double> parse_timeout_multiplier(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || !(value >= 0.1 && value <= 100))
    return std::nullopt;
  return value;
}

double timeout_multiplier() {
  double multiplier = g_multiplier.load();
  if (multiplier > 0)
    return multiplier;
  const char* env = std::getenv("CSD_TIMEOUT_MULTIPLIER");
  // A bad value is refused by csd-suite's main() before any test runs; a
  // program that does not check it gets the plain deadlines.
  multiplier = env != nullptr ? parse_timeout_multiplier(env).value_or(1.0) : 1.0;
  g_multiplier.store(multiplier);
  return multiplier;
}

void set_timeout_multiplier(double multiplier) { g_multiplier.store(multiplier); }

namespace budget {

namespace {

// The running test's budget as two clock readings; kNone when there is none.
// Atomics: the client's threads read them while the test's thread sets them.
constexpr Clock::rep kNone = 0;
std::atomic<Clock::rep> g_begun{kNone};
std::atomic<Clock::rep> g_ends{kNone};

}  // namespace

void begin(Clock::duration scaled_budget) {
  const auto now = Clock::now();
  g_begun.store(now.time_since_epoch().count());
  g_ends.store((now + scaled_budget).time_since_epoch().count());
}

void end() {
  g_ends.store(kNone);
  g_begun.store(kNone);
}

bool running() { return g_ends.load() != kNone; }

Clock::duration length() {
  const auto begun = g_begun.load();
  const auto ends = g_ends.load();
  return ends == kNone ? Clock::duration::zero() : Clock::duration(ends - begun);
}

Clock::time_point ends_at() {
  const auto ends = g_ends.load();
  return ends == kNone ? Clock::time_point::max() : Clock::time_point(Clock::duration(ends));
}

bool spent() { return Clock::now() >= ends_at(); }

Clock::time_point cut(Clock::time_point deadline) { return std::min(deadline, ends_at()); }

Clock::time_point share(double fraction) {
  const auto ends = g_ends.load();
  if (ends == kNone)
    return Clock::time_point::max();
  const auto begun = Clock::duration(g_begun.load());
  return Clock::time_point(begun) +
         std::chrono::duration_cast<Clock::duration>((Clock::duration(ends) - begun) * fraction);
}

}  // namespace budget

}  // namespace csd::harness
