// What the manifest's `model` says about a design: the groups of models that
// the checks and the benchmark treat alike. Design-specific
// expectations live in the checks that need them; this only names groups.
#pragma once

#include <string_view>

namespace csd::harness {

// Pools of worker processes forked up front (reuseport: each with its own
// listening socket, the kernel hashing connections across them).
inline bool is_process_pool(std::string_view model) {
  return model == "prefork" || model == "prefork-lock" || model == "prefork-fdpass" ||
         model == "reuseport";
}

// Pools of worker threads created up front.
inline bool is_thread_pool(std::string_view model) {
  return model == "prethreaded" || model == "prethreaded-main";
}

// One process or thread per client, created per connection.
inline bool is_per_client(std::string_view model) { return model == "fork" || model == "thread"; }

// Serves one client at a time, by design.
inline bool is_iterative(std::string_view model) { return model == "iterative"; }

// The parent hands accepted descriptors to a worker (so it holds each one briefly).
inline bool parent_accepts(std::string_view model) {
  return model == "prefork-fdpass" || model == "fork";
}

}  // namespace csd::harness
