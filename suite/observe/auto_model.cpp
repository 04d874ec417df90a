#include "auto_model.hpp"

#include <fmt/format.h>

namespace csd::observe {

std::string auto_model_line(const harness::Manifest& manifest, const std::string& summary) {
  std::string line = fmt::format("{}: model auto: observed {}", manifest.name, summary);
  if (manifest.model == "other")
    line += "; checked as other (the checks every server gets)";
  return line;
}

std::string observe_auto_model(harness::Manifest& manifest, const ObserveOptions& options) {
  const Identification id = identify(manifest, options);
  harness::assume_model(manifest, id.verdict.model);
  return auto_model_line(manifest, id.verdict.summary);
}

}  // namespace csd::observe
