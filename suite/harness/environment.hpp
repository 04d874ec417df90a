// What a report must say about where it was made: the kernel, and the
// sysctls that change how TCP connects, queues and closes. A result from a
// machine with somaxconn 128 or tcp_tw_reuse 0 reads differently.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace csd::harness {

// ("kernel", "Linux 6.1.0-28-amd64 x86_64"), ("net.core.somaxconn", "4096"),
// ...; a sysctl the kernel lacks reads "absent". Then the kernel features
// (kernel_features.hpp): ("feature_so_reuseport", "yes"), ... or "no: why".
std::vector<std::pair<std::string, std::string>> machine_environment();

// The sysctls machine_environment() reads, in its order.
const std::vector<std::string>& environment_sysctls();

}  // namespace csd::harness
