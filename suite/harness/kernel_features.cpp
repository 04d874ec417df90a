// Probing a kernel feature is trying it: the errno of the refusal is the
// reason a check is skipped, in the words of strerror.
#include "kernel_features.hpp"

#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>

#include "fd.hpp"

namespace csd::harness {

namespace {

constexpr int kCapNetRaw = 13;  // linux/capability.h

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

FeatureProbe refused(std::string_view call, int error) {
  return {false, fmt::format("this kernel refuses ({}: {})", call, std::strerror(error))};
}

FeatureProbe probe_so_reuseport() {
  const Fd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket)
    return refused("socket", errno);
  const int on = 1;
  if (::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
    return refused("setsockopt SO_REUSEPORT", errno);
  return {true, ""};
}

// Kernels before 4.5 ignore the flag rather than refuse it; those are also
// older than anything else the suite runs on.
FeatureProbe probe_epoll_exclusive() {
  const Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  const Fd event(::eventfd(0, EFD_CLOEXEC));
  if (!epoll || !event)
    return refused(!epoll ? "epoll_create1" : "eventfd", errno);
  epoll_event wanted{};
  wanted.events = EPOLLIN | EPOLLEXCLUSIVE;
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, event.get(), &wanted) != 0)
    return refused("epoll_ctl EPOLLEXCLUSIVE", errno);
  return {true, ""};
}

// In a child, so that the suite itself stays in its namespace: the child's
// exit status is the errno of unshare().
FeatureProbe probe_network_namespaces() {
  const pid_t child = ::fork();
  if (child < 0)
    return refused("fork", errno);
  if (child == 0)
    ::_exit(::unshare(CLONE_NEWNET) == 0 ? 0 : errno);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR)
      return refused("waitpid", errno);
  }
  if (!WIFEXITED(status))
    return {false, "the probe's child died by a signal"};
  if (WEXITSTATUS(status) != 0)
    return refused("unshare CLONE_NEWNET", WEXITSTATUS(status));
  return {true, ""};
}

FeatureProbe probe_cap_net_raw() {
  std::ifstream in("/proc/self/status");
  std::stringstream text;
  text << in.rdbuf();
  const auto has = effective_capability(text.str(), kCapNetRaw);
  if (!has)
    return {false, "this process lacks (no CapEff line in /proc/self/status)"};
  if (!*has)
    return {false, "this process lacks (not in CapEff of /proc/self/status)"};
  return {true, ""};
}

FeatureProbe run_probe(KernelFeature feature) {
  switch (feature) {
    case KernelFeature::so_reuseport:
      return probe_so_reuseport();
    case KernelFeature::epoll_exclusive:
      return probe_epoll_exclusive();
    case KernelFeature::network_namespaces:
      return probe_network_namespaces();
    case KernelFeature::cap_net_raw:
      return probe_cap_net_raw();
  }
  return {false, "unknown feature"};
}

}  // namespace

std::string_view to_string(KernelFeature feature) {
  switch (feature) {
    case KernelFeature::so_reuseport:
      return "SO_REUSEPORT";
    case KernelFeature::epoll_exclusive:
      return "EPOLLEXCLUSIVE";
    case KernelFeature::network_namespaces:
      return "CLONE_NEWNET";
    case KernelFeature::cap_net_raw:
      return "CAP_NET_RAW";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, KernelFeature feature) {
  return out << to_string(feature);
}

std::string_view property_key(KernelFeature feature) {
  switch (feature) {
    case KernelFeature::so_reuseport:
      return "so_reuseport";
    case KernelFeature::epoll_exclusive:
      return "epollexclusive";
    case KernelFeature::network_namespaces:
      return "netns";
    case KernelFeature::cap_net_raw:
      return "cap_net_raw";
  }
  return "?";
}

std::optional<KernelFeature> parse_kernel_feature(std::string_view name) {
  const std::string wanted = lower(name);
  for (const KernelFeature feature : kEveryKernelFeature) {
    if (wanted == lower(to_string(feature)) || wanted == property_key(feature))
      return feature;
  }
  return std::nullopt;
}

PretendMissing parse_pretend_missing(std::string_view list) {
  PretendMissing pretend;
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view name = list.substr(0, comma);
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.front())) != 0)
      name.remove_prefix(1);
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back())) != 0)
      name.remove_suffix(1);
    if (!name.empty()) {
      if (const auto feature = parse_kernel_feature(name))
        pretend.features.push_back(*feature);
      else
        pretend.unknown.emplace_back(name);
    }
    if (comma == std::string_view::npos)
      break;
    list.remove_prefix(comma + 1);
  }
  return pretend;
}

std::optional<bool> effective_capability(std::string_view proc_status, int capability) {
  constexpr std::string_view kKey = "CapEff:";
  std::size_t at = 0;
  while (at < proc_status.size()) {
    const auto end = std::min(proc_status.find('\n', at), proc_status.size());
    std::string_view line = proc_status.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(kKey))
      continue;
    line.remove_prefix(kKey.size());
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())) != 0)
      line.remove_prefix(1);
    std::uint64_t mask = 0;
    const auto [last, error] = std::from_chars(line.data(), line.data() + line.size(), mask, 16);
    if (error != std::errc{} || last == line.data())
      return std::nullopt;
    return ((mask >> capability) & 1U) != 0;
  }
  return std::nullopt;
}

const FeatureProbe& probe(KernelFeature feature) {
  // Probed once, all together, the first time any is asked for: a static's
  // initialization is thread-safe, and the answers cannot change in a run.
  static const std::map<KernelFeature, FeatureProbe> probes = [] {
    std::map<KernelFeature, FeatureProbe> result;
    for (const KernelFeature f : kEveryKernelFeature) result[f] = run_probe(f);
    if (const char* list = std::getenv(kPretendMissingVariable); list != nullptr) {
      for (const KernelFeature f : parse_pretend_missing(list).features)
        result[f] = {false, fmt::format("{} pretends is absent (a setting for tests only)",
                                        kPretendMissingVariable)};
    }
    return result;
  }();
  return probes.at(feature);
}

std::optional<std::string> missing_feature(std::span<const KernelFeature> needed) {
  for (const KernelFeature feature : needed) {
    const FeatureProbe& result = probe(feature);
    if (!result.present)
      return fmt::format("needs {}, which {}", to_string(feature), result.absent_because);
  }
  return std::nullopt;
}

std::vector<KernelFeature> features_needed_by(const Traits& traits) {
  std::vector<KernelFeature> needed;
  if (traits.listener_per_worker)
    needed.push_back(KernelFeature::so_reuseport);
  if (traits.wakeup == AcceptWakeup::lifo)
    needed.push_back(KernelFeature::epoll_exclusive);
  return needed;
}

std::string describe_probe(KernelFeature feature) {
  const FeatureProbe& result = probe(feature);
  return result.present ? "yes" : "no: " + result.absent_because;
}

}  // namespace csd::harness
