// The kernel features some designs and checks depend on (SO_REUSEPORT,
// EPOLLEXCLUSIVE, network namespaces, CAP_NET_RAW), each probed once per run
// by trying it, so that a check that needs an absent one is skipped saying
// which and why ("needs SO_REUSEPORT, which this kernel refuses (...)").
#pragma once

#include <array>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "traits.hpp"

namespace csd::harness {

enum class KernelFeature { so_reuseport, epoll_exclusive, network_namespaces, cap_net_raw };
inline constexpr std::array kEveryKernelFeature{
    KernelFeature::so_reuseport, KernelFeature::epoll_exclusive, KernelFeature::network_namespaces,
    KernelFeature::cap_net_raw};

// As people write it: "SO_REUSEPORT", "EPOLLEXCLUSIVE", "CLONE_NEWNET", "CAP_NET_RAW".
std::string_view to_string(KernelFeature feature);
// As to_string(): what googletest prints of one in a failure.
std::ostream& operator<<(std::ostream& out, KernelFeature feature);
// The env_feature_* property's suffix: "so_reuseport", "epollexclusive", "netns", "cap_net_raw".
std::string_view property_key(KernelFeature feature);
// Either of the above, any case; nullopt for anything else.
std::optional<KernelFeature> parse_kernel_feature(std::string_view name);

struct FeatureProbe {
  bool present = false;
  // When absent, the clause that ends "needs X, which ...": "this kernel
  // refuses (setsockopt SO_REUSEPORT: Protocol not available)".
  std::string absent_because;
};

// The probe of `feature`, run the first time it is asked for (thread-safe)
// and then remembered, with CSD_PRETEND_MISSING applied (below).
const FeatureProbe& probe(KernelFeature feature);

// "needs SO_REUSEPORT, which this kernel refuses (...)" for the first of
// `needed` that is absent; nullopt when every one is present.
std::optional<std::string> missing_feature(std::span<const KernelFeature> needed);

// What an implementation's design needs from the kernel, from its traits:
// a listener per worker is SO_REUSEPORT; a LIFO wake-up (one waiter, the
// most recently idle) is what EPOLLEXCLUSIVE gives, and nothing else does.
std::vector<KernelFeature> features_needed_by(const Traits& traits);

// "yes", or "no: <why>", for the env_feature_* properties of a run.
std::string describe_probe(KernelFeature feature);

// For tests only: CSD_PRETEND_MISSING=SO_REUSEPORT,EPOLLEXCLUSIVE makes the
// probes report these features absent on a kernel that has them, so that a
// test can show the skip happen. The features named, and the names that are
// none (csd-suite refuses those: exit 2).
struct PretendMissing {
  std::vector<KernelFeature> features;
  std::vector<std::string> unknown;
};
PretendMissing parse_pretend_missing(std::string_view list);
inline constexpr const char* kPretendMissingVariable = "CSD_PRETEND_MISSING";

// Whether capability number `capability` (CAP_NET_RAW is 13) is in the CapEff
// line of a /proc/PID/status text; nullopt if there is no readable CapEff.
std::optional<bool> effective_capability(std::string_view proc_status, int capability);

}  // namespace csd::harness
