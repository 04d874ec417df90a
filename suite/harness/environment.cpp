#include "environment.hpp"

#include <sys/utsname.h>

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include "kernel_features.hpp"

namespace csd::harness {

const std::vector<std::string>& environment_sysctls() {
  static const std::vector<std::string> names{
      "net.core.somaxconn",              // the cap on every listen() backlog
      "net.ipv4.tcp_max_syn_backlog",    // half-open connections per listener
      "net.ipv4.tcp_syncookies",         // what happens when that queue is full
      "net.ipv4.tcp_abort_on_overflow",  // RST instead of a dropped ACK on a full accept queue
      "net.ipv4.ip_local_port_range",    // how many client connections fit before ports run out
      "net.ipv4.tcp_tw_reuse",           // whether TIME_WAIT ports come back for new connects
      "net.ipv4.tcp_fin_timeout",        // how long FIN_WAIT_2 lasts
      "net.ipv4.tcp_ecn",                // the flags a capture shows on SYNs
      "net.ipv4.tcp_autocorking",        // whether small writes coalesce without TCP_CORK
  };
  return names;
}

namespace {

std::string read_sysctl(const std::string& name) {
  std::string path = "/proc/sys/" + name;
  std::replace(path.begin() + 10, path.end(), '.', '/');
  std::ifstream in(path);
  std::string value;
  if (!std::getline(in, value))
    return "absent";
  std::replace(value.begin(), value.end(), '\t', ' ');
  return value;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> machine_environment() {
  std::vector<std::pair<std::string, std::string>> facts;
  utsname name{};
  if (::uname(&name) == 0)
    facts.emplace_back("kernel", fmt::format("{} {} {}", name.sysname, name.release, name.machine));
  for (const auto& sysctl : environment_sysctls()) facts.emplace_back(sysctl, read_sysctl(sysctl));
  // The features some designs and checks need ("yes", or "no: why"): a
  // report that skipped them says so next to the kernel's version.
  for (const KernelFeature feature : kEveryKernelFeature)
    facts.emplace_back(fmt::format("feature_{}", property_key(feature)), describe_probe(feature));
  return facts;
}

}  // namespace csd::harness
