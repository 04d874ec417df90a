// What the machine is (for the report header) and the system-wide counters
// read around each run: CPU time from /proc/stat, listen-queue overflows
// from /proc/net/netstat, TIME_WAIT sockets from /proc/net/sockstat.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace csd::bench {

struct MachineInfo {
  std::string kernel;  // uname: sysname release version machine
  unsigned cores = 0;
  std::string port_range;  // /proc/sys/net/ipv4/ip_local_port_range, "32768 60999"
  int port_count = 0;      // ports in that range
  std::string tcp_tw_reuse;
  std::string somaxconn;
  std::string compiler;    // compiler and version csd-bench (and the servers of the same build) was
                           // built with
  std::string build_type;  // CMake build type and sanitizers
  std::string date;        // UTC, ISO 8601
};

MachineInfo describe_machine();
void to_json(nlohmann::json& j, const MachineInfo& m);

struct SystemCounters {
  uint64_t cpu_busy_ticks = 0;               // all CPUs: user nice system irq softirq steal
  uint64_t cpu_total_ticks = 0;              // the same plus idle and iowait
  std::optional<uint64_t> listen_overflows;  // TcpExt ListenOverflows (nullopt: unreadable)
  std::optional<uint64_t> listen_drops;      // TcpExt ListenDrops
};

SystemCounters read_system_counters();

// TCP sockets in TIME_WAIT in this network namespace ("tw" in
// /proc/net/sockstat, IPv4 and IPv6 together); nullopt if unreadable.
std::optional<uint64_t> time_wait_sockets();

// Clock ticks per second (/proc/stat and /proc/PID/stat units).
double ticks_per_second();

}  // namespace csd::bench
