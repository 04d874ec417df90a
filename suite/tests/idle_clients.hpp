// robust/descriptor-exhaustion's scenario: clients that connect and say
// nothing, as many as it takes to run a server out of descriptors, and what
// the server's processes do meanwhile (their CPU time, from /proc).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "connection.hpp"
#include "server_process.hpp"

namespace csd::suite {

struct IdleClients {
  std::vector<client::Connection> connected;
  int refused = 0;  // connects that failed within 5 s: turned away, which is fine
};

// Opens `count` connections that send nothing, ten at a time: a server with
// a short listen queue (socat's is 5) meets a full queue with a SYN the
// client sends again 1 s later; one connect after the other, that made 15 s.
IdleClients open_idle_clients(const client::Target& target, int count);

struct Settling {
  bool settled = false;
  long not_accepted = 0;  // the idle clients without an accepted socket at the end
  std::chrono::milliseconds took{0};
};

// Waits until the server has taken what it will take of `idle`: the number of
// them it has not accepted (server side without an inode: queued, or shed)
// stays the same for 200 ms, or is zero; 12 s at most.
Settling wait_until_settled(const std::vector<client::Connection>& idle);

struct StallCpu {
  int used_ms = 0;                      // CPU time, by the whole tree
  int runnable_ms = 0;                  // on a CPU or waiting for one, by its busiest thread
  std::chrono::milliseconds window{0};  // as long as it was watched
};

// The CPU time the server's tree uses over `window`, and the longest time
// one of its threads was runnable (a process or thread new meanwhile counts
// from zero): summed over the tree, the run-queue waits of 100 children just
// forked on a busy machine add up to most of the window, while a busy loop is
// one thread runnable throughout. The window ends early if the server's main
// process exits. A server that goes
// back to a level-triggered poll() on a listener that stays readable spins at
// ~100% of a CPU on a quiet machine, but only at whatever share a busy one
// gives it (20% under stress-ng --cpu 2 on 2 cores, and less with more
// beside it, seen here): it is runnable all the time either way. The
// reference servers that shed use 0 to 15 ms in 1 s.
StallCpu cpu_over_a_stall(const harness::ServerProcess& server, std::chrono::milliseconds window);

struct IdleStall {
  IdleClients idle;
  Settling settling;
  StallCpu cpu;              // measured only once settled
  int main_process_fds = 0;  // at the end of the window
};

// The whole stall: `count` idle clients opened; the server's taking what it
// will take of them awaited (the work of accepting, a fork per client say,
// is no stall); then its CPU time over `window`.
IdleStall hold_with_idle_clients(const harness::ServerProcess& server, const client::Target& target,
                                 int count, std::chrono::milliseconds window);

// Records the stall's figures as the running test's properties (settle_ms,
// idle_clients_not_accepted, stall_cpu_ms, stall_window_ms, ...).
void record_figures(const IdleStall& stall);

}  // namespace csd::suite
