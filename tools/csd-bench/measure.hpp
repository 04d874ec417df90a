// One run: a freshly started server under one load, and everything measured
// around it (the client's report, the server tree's CPU and context
// switches from /proc, the system's counters, the server's own tables).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "designs.hpp"
#include "load.hpp"

namespace csd::bench {

// One cell of the load matrix. The baseline may run its own load there
// (--preset unp: 1 client x 5000 connections, as Stevens measured it).
struct LoadPoint {
  int clients = 1;
  int conns = 1;  // per client
  uint64_t bytes = 0;
  int baseline_clients = 1;
  int baseline_conns = 1;
};

struct RunSpec {
  std::size_t design = 0;  // index into DesignList::designs
  std::size_t point = 0;   // index into the load points
  int rep = 0;             // 0-based
  int clients = 1;
  int conns = 1;  // per client
  uint64_t bytes = 0;
};

struct ServerFigures {
  uint64_t cpu_ns = 0;  // whole tree, reaped children included, during the load
  bool cpu_from_ticks =
      false;  // part of cpu_ns came from 10 ms clock ticks (ended threads, reaped children)
  uint64_t user_ticks =
      0;  // the same from /proc/PID/stat alone, UNP-style: utime+cutime, stime+cstime
  uint64_t sys_ticks = 0;
  uint64_t wakeups = 0;              // voluntary + involuntary context switches of every task
  bool wakeups_lower_bound = false;  // some tasks ended during the run and took their counts along
  std::optional<uint64_t> accept_eagain;  // from "accept() returned EAGAIN K times"
  std::vector<int64_t> worker_counts;     // from the "child N : K times" table; empty if none
  bool settled = true;                    // the tree was back to its idle shape when measured
  bool stopped_cleanly = true;
  std::vector<std::string> killed;  // what had to be SIGKILLed at stop
};

struct SystemFigures {
  uint64_t cpu_busy_ticks = 0;  // all CPUs, during the load
  uint64_t cpu_total_ticks = 0;
  std::optional<uint64_t> listen_overflows;  // delta
  std::optional<uint64_t> listen_drops;      // delta
  std::optional<uint64_t> time_wait;         // sockets in TIME_WAIT just after the run
  std::chrono::nanoseconds client_cpu{0};  // csd-bench's own user+sys during the load (the clients)
};

struct RunRecord {
  RunSpec spec;
  std::string design;
  std::string model;
  bool valid = false;
  std::string invalid_reason;
  bool started = false;       // the server became ready
  bool port_limited = false;  // connections failed for want of ephemeral ports / 4-tuples
  client::LoadReport load;
  ServerFigures server;
  SystemFigures system;
  std::vector<std::string> notes;

  [[nodiscard]] uint64_t connections() const { return load.connections; }
  [[nodiscard]] double conns_per_second() const { return load.connections_per_second(); }
  [[nodiscard]] double server_cpu_us_per_conn() const;
  [[nodiscard]] double system_cpu_us_per_conn() const;
  [[nodiscard]] double system_busy_share()
      const;  // busy ÷ total CPU time of the machine during the load
  [[nodiscard]] double wakeups_per_conn() const;
  [[nodiscard]] std::optional<double> eagain_per_conn() const;
};

struct MeasureOptions {
  int sources = 16;
  std::chrono::milliseconds timeout{10000};
  int port_count = 28232;  // ephemeral ports per source address
};

// Starts the design's server, waits until its pool is complete, runs the
// load, waits until the tree is back to its idle shape, stops it (SIGTERM)
// and reads its tables. Never throws for a server that misbehaves: the run
// is marked invalid with the reason. Call from the main thread (the
// harness's parent-death signal is per thread).
RunRecord measure_run(const Design& design, const RunSpec& spec, const MeasureOptions& options);

}  // namespace csd::bench
