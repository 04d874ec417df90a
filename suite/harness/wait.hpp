// Waiting for a condition that nothing signals (a /proc state, a kernel
// queue), with a deadline. The step is a short poll(), not a sleep: the
// condition is what the caller waits for, the deadline what bounds it
// (scaled by the timeout multiplier, timeouts.hpp).
#pragma once

#include <poll.h>

#include <chrono>
#include "timeouts.hpp"

namespace csd::harness {

template <typename Condition>
bool wait_until(Condition condition, std::chrono::steady_clock::duration timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds{2}) {
  const auto deadline = deadline_in(timeout);  // cut at the check's budget
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    ::poll(nullptr, 0, static_cast<int>(step.count()));
  }
  return true;
}

}  // namespace csd::harness
