// Other clients served while one client is in the way (silent, reading
// slowly, quiet after part of its data): eight at once, each a small
// exchange, and the verdict a design's traits allow. Every one must be
// served, except:
// - one client at a time (iterative): none may be;
// - a listener per worker (reuseport): the kernel hashes each connection to
//   one worker's own listening socket, so a client hashed to the stuck
//   worker's socket waits behind it (SO_REUSEPORT's known weakness) while
//   the others are served: at least one must be.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>

#include "connection.hpp"
#include "manifest.hpp"

namespace csd::suite {

struct OthersServed {
  int asked = 0;
  int served = 0;
  std::chrono::milliseconds wait{0};  // each other's deadline
  std::string problems{};             // "; 8 x timeout in recv after 0 bytes": each once, counted
};

// Eight other clients at once, each one exchange of 100 bytes in the
// implementation's protocol (echo: its side kept open, as the one in the
// way keeps its own), each within the wait the design allows: where it
// makes some clients wait, 1 s shows it (the others are served in
// milliseconds) without making the design pay 5 s for being what it says it is.
OthersServed serve_others(const client::Target& target, const harness::Manifest& implementation);

// Success if the others were served as the design allows; `meanwhile` says
// what the client in the way was doing ("one client was connected and silent").
::testing::AssertionResult OthersServedAsTheDesignAllows(const OthersServed& others,
                                                         const harness::Manifest& implementation,
                                                         std::string_view meanwhile);

}  // namespace csd::suite
