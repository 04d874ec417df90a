// Watching a black-box server under a short, fixed workload: idle, one
// connection held open (no request sent, so a worker waits on it), 4 held
// at once, then all released. At each step, once the server stands still
// (every task asleep, the same shape for a few polls in a row), one
// snapshot (snapshot.hpp). Knows nothing of any design: classify.hpp reads
// the snapshots.
#pragma once

#include <chrono>
#include <string>

#include "classify.hpp"
#include "manifest.hpp"
#include "server_process.hpp"
#include "snapshot.hpp"

namespace csd::observe {

struct ObserveOptions {
  // How long a step may take to stand still (scaled by the timeout multiplier);
  // a step that does not is kept as it was last seen, marked not settled.
  std::chrono::milliseconds step_timeout{3000};
  int still_polls = 5;  // the same shape, every task asleep, this many polls in a row
  std::chrono::milliseconds poll_every{10};
};

// The workload against a running, ready server: one snapshot per step.
// Throws std::runtime_error (std::system_error) if a connection of the
// workload is refused or not established within a step's timeout.
Observation observe_running(const harness::ServerProcess& server,
                            const ObserveOptions& options = {});

// What csd-report --identify says of one manifest.
struct Identification {
  std::string name{};      // the manifest's
  std::string declared{};  // its model
  Observation observation{};
  Verdict verdict{};
  std::string
      problem{};  // why the server could not be observed (it did not start); empty if it was
};

// Starts the manifest's server, observes it, stops it, and classifies what
// was seen. A server that does not start is an Identification with its
// problem and the verdict `unknown`.
Identification identify(const harness::Manifest& manifest, const ObserveOptions& options = {});

}  // namespace csd::observe
