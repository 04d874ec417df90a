#include "auto_models.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <string_view>

#include "auto_model.hpp"
#include "options.hpp"
#include "traits.hpp"

namespace csd::suite {

namespace {

constexpr std::string_view kUnknown = "unknown";  // observe::Verdict's model where none fits

// --assume-model's NAME=MODEL pairs, each checked against the manifests.
std::map<std::string, std::string> assumptions(const std::vector<harness::Manifest>& manifests,
                                               const std::vector<std::string>& specs) {
  const auto models = harness::known_models();
  std::map<std::string, std::string> by_name;
  for (const auto& spec : specs) {
    const auto eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      usage_error(fmt::format("--assume-model {}: expected NAME=MODEL", spec));
    const std::string name = spec.substr(0, eq);
    const std::string model = spec.substr(eq + 1);
    if (model != kUnknown && std::ranges::find(models, model) == models.end()) {
      usage_error(fmt::format("--assume-model {}: {} is no model (one of {}, or {})", spec, model,
                              fmt::join(models, ", "), kUnknown));
    }
    const bool auto_manifest = std::ranges::any_of(
        manifests, [&](const harness::Manifest& m) { return m.name == name && m.model_auto; });
    if (!auto_manifest) {
      usage_error(fmt::format("--assume-model {}: no manifest named {} says \"model\": \"auto\"",
                              spec, name));
    }
    by_name[name] = model;
  }
  return by_name;
}

}  // namespace

void resolve_auto_models(std::vector<harness::Manifest>& manifests,
                         const std::vector<std::string>& assumed) {
  const auto given = assumptions(manifests, assumed);
  for (auto& manifest : manifests) {
    if (!manifest.model_auto)
      continue;
    if (const auto found = given.find(manifest.name); found != given.end()) {
      // Said by csd-report, which observed it for every csd-suite of the run.
      harness::assume_model(manifest, found->second);
      continue;
    }
    std::cerr << "csd-suite: " << observe::observe_auto_model(manifest) << "\n" << std::flush;
  }
}

}  // namespace csd::suite
