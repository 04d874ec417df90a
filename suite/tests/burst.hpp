// robust/burst-above-backlog's scenario: many connections opened at once,
// before any sends its request, then a request on each; every client's fate
// decided by what it got and, for a client still waiting, by whom it waits
// on (harness::WaitsOn): the server, or only the kernels.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "connection.hpp"
#include "manifest.hpp"

namespace csd::suite {

struct BurstOutcome {
  // Why the burst proves nothing: the suite's own side ran out (no port, no
  // descriptor) before it had opened every connection; then nothing else is set.
  std::optional<std::string> suite_ran_out;
  std::optional<uint32_t> listen_backlog;  // the first listener's, as the kernel has it
  int connected = 0;                       // connects that completed
  int served = 0;
  int unclean = 0;  // neither served whole nor refused cleanly: hung, cut short, too long
  int refused = 0;
  int left_to_the_kernels = 0;  // waiting only on TCP's backoff, or never admitted
  int slow = 0;  // still waiting on a server that was still answering others when time ran out
  std::chrono::milliseconds took{0};
  // "a backlog of 16: 812 served; 188 x refused (reset in recv)": each
  // distinct fate once, counted.
  std::string fates;
};

// Opens `connections` connections to `target` at once (the suite's
// RLIMIT_NOFILE raised for it), waits for their connects (10 s at most),
// sends a `request_bytes` request on each (echo: then half-closes), and
// waits until each is served, refused or left to the kernels (30 s, or
// half the check's budget, at most). A client still waiting on
// the server then hung if the server had answered no one for 10 s, and is
// `slow` if it was still answering others. Every client that was not served
// is then closed with an RST.
BurstOutcome run_burst(const client::Target& target, harness::WireProtocol protocol,
                       int connections, std::size_t request_bytes);

// Records the burst's figures as the running test's properties
// (listen_backlog, burst_connected, burst_served, ... burst_fates).
void record_figures(const BurstOutcome& burst);

}  // namespace csd::suite
