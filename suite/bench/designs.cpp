#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "bench.hpp"

namespace csd::bench {

namespace fs = std::filesystem;

namespace {

// The baseline has no manifest file: it is part of the benchmark itself.
Design baseline_design(const fs::path& bin_dir) {
  const fs::path program = bin_dir / kBaselineName;
  if (::access(program.c_str(), X_OK) != 0)
    throw UsageError(
        fmt::format("{} is missing: build the csd-citerative target", program.string()));
  harness::Manifest m;
  m.path = program;
  m.name = kBaselineName;
  m.command = {program.string(), "-i", "{host}", "-p", "{port}"};
  m.model = "iterative";
  m.traits = harness::traits_of_model(m.model);
  return {.manifest = std::move(m), .baseline = true};
}

bool has_name(const std::vector<Design>& designs, const std::string& name) {
  return std::ranges::any_of(designs, [&](const Design& d) { return d.manifest.name == name; });
}

// Why manifest `m` cannot be benchmarked; "" if it can. The load
// speaks the size protocol, and each name is a row of its own.
std::string problem_with(const harness::Manifest& m, const std::vector<Design>& designs) {
  if (m.protocol != harness::WireProtocol::size)
    return "speaks the echo protocol; the benchmark's load is the size protocol";
  if (m.name == kBaselineName)
    return fmt::format("{} is the baseline, always included", m.name);
  if (has_name(designs, m.name))
    return fmt::format("a design named {} is already in the list", m.name);
  return "";
}

// A file given with --impl must work (UsageError otherwise); one from the
// default directory that does not is skipped and noted, except the echo
// twins of the size manifests, which are skipped silently.
void add_manifest(std::vector<Design>& designs, std::vector<std::string>& skipped,
                  const fs::path& file, bool explicit_file) {
  std::string problem;
  harness::Manifest m;
  try {
    m = harness::load_manifest(file, {harness::own_bin_dir()});
    problem = problem_with(m, designs);
  } catch (const harness::ManifestError& e) {
    problem = e.what();
  }
  if (problem.empty())
    designs.push_back({.manifest = std::move(m), .baseline = false});
  else if (explicit_file)
    throw UsageError(fmt::format("{}: {}", file.string(), problem));
  else if (m.protocol == harness::WireProtocol::size)
    skipped.push_back(fmt::format("{}: {}", file.string(), problem));
}

}  // namespace

std::vector<Design> find_designs(const Options& options, std::vector<std::string>& skipped) {
  std::vector<Design> designs{baseline_design(harness::own_bin_dir())};
  if (options.impls.empty()) {
    for (const auto& file : harness::manifest_files(harness::default_impl_dir()))
      add_manifest(designs, skipped, file, false);
  } else {
    for (const auto& file : options.impls) add_manifest(designs, skipped, file, true);
  }
  for (const auto& name : options.only) {
    if (!has_name(designs, name))
      throw UsageError(fmt::format("--only {}: no such design", name));
  }
  if (!options.only.empty()) {
    std::erase_if(designs, [&](const Design& d) {
      return !d.baseline && std::ranges::find(options.only, d.manifest.name) == options.only.end();
    });
  }
  return designs;
}

}  // namespace csd::bench
