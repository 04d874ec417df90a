#include "applicability.hpp"

#include <fmt/format.h>

#include <vector>

namespace csd::harness {

bool applies(const AppliesTo& where, const Manifest& implementation) {
  if (where.protocol && implementation.protocol != *where.protocol)
    return false;
  if (!where.workers.contains(implementation.traits.workers))
    return false;
  if (where.declared_model && implementation.model == "other" && !implementation.model_auto)
    return false;
  return implementation.workers >= where.min_workers;
}

std::string describe(const AppliesTo& where) {
  std::vector<std::string> parts;
  if (where.protocol)
    parts.push_back(fmt::format("{} protocol", to_string(*where.protocol)));
  if (where.workers != kAnyWorkers) {
    std::vector<std::string_view> kinds;
    for (const Workers kind : kEveryWorkers) {
      if (where.workers.contains(kind))
        kinds.push_back(to_string(kind));
    }
    parts.push_back(fmt::format("{}", fmt::join(kinds, " or ")));
  }
  if (where.min_workers > 0) {
    parts.push_back(
        fmt::format("at least {} worker{}", where.min_workers, where.min_workers == 1 ? "" : "s"));
  }
  if (where.declared_model)
    parts.emplace_back("a declared model (not other), or auto");
  return parts.empty() ? "every implementation" : fmt::format("{}", fmt::join(parts, "; "));
}

}  // namespace csd::harness
