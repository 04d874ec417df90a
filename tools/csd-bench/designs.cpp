#include "designs.hpp"

#include <unistd.h>

#include <algorithm>
#include <system_error>

#include <fmt/format.h>

namespace csd::bench {

namespace fs = std::filesystem;

namespace {

// The baseline has no manifest file: it is part of the benchmark itself.
Design baseline_design(const fs::path& bin_dir) {
  const fs::path program = bin_dir / kBaselineName;
  if (::access(program.c_str(), X_OK) != 0) {
    throw UsageError(fmt::format(
        "the baseline server {} is missing: build the csd-citerative target", program.string()));
  }
  harness::Manifest m;
  m.path = program;
  m.name = kBaselineName;
  m.command = {program.string(), "-i", "{host}", "-p", "{port}"};
  m.protocol = harness::WireProtocol::size;
  m.model = "iterative";
  return {.manifest = std::move(m), .baseline = true};
}

std::vector<fs::path> json_files(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".json")
      files.push_back(entry.path());
  }
  if (ec)
    throw UsageError(fmt::format("{}: cannot list: {}", dir.string(), ec.message()));
  std::sort(files.begin(), files.end());
  return files;
}

bool has_name(const std::vector<Design>& designs, const std::string& name) {
  return std::any_of(designs.begin(), designs.end(),
                     [&](const Design& d) { return d.name() == name; });
}

// Adds the manifest in `file`. A file given explicitly must work (UsageError
// otherwise); one from the default directory that does not is skipped and noted.
void add_manifest(DesignList& list, const fs::path& file, const fs::path& bin_dir,
                  bool explicit_file) {
  harness::Manifest m;
  try {
    m = harness::load_manifest(file, {bin_dir});
  } catch (const harness::ManifestError& e) {
    if (explicit_file)
      throw UsageError(e.what());
    list.skipped.push_back(e.what());
    return;
  }
  if (m.name == kBaselineName) {
    list.skipped.push_back(
        fmt::format("{}: {} is the baseline, always included", file.string(), m.name));
    return;
  }
  std::string problem;
  if (m.protocol != harness::WireProtocol::size) {
    problem = "speaks the echo protocol; the benchmark's load is the size protocol";
    if (!explicit_file)
      return;  // the default directory's echo twins are skipped silently
  } else if (has_name(list.designs, m.name)) {
    problem = fmt::format("a design named {} is already in the list", m.name);
  }
  if (problem.empty()) {
    list.designs.push_back({.manifest = std::move(m), .baseline = false});
  } else if (explicit_file) {
    throw UsageError(fmt::format("{}: {}", file.string(), problem));
  } else {
    list.skipped.push_back(fmt::format("{}: {}", file.string(), problem));
  }
}

void keep_only(DesignList& list, const std::vector<std::string>& only) {
  if (only.empty())
    return;
  for (const auto& name : only) {
    if (!has_name(list.designs, name)) {
      std::string known;
      for (const auto& d : list.designs) known += (known.empty() ? "" : ", ") + d.name();
      throw UsageError(fmt::format("--only {}: no such design (known: {})", name, known));
    }
  }
  std::erase_if(list.designs, [&](const Design& d) {
    return !d.baseline && std::find(only.begin(), only.end(), d.name()) == only.end();
  });
}

}  // namespace

fs::path own_bin_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

DesignList find_designs(const Options& options, const fs::path& bin_dir) {
  DesignList list;
  list.designs.push_back(baseline_design(bin_dir));
  if (options.impls.empty()) {
    for (const auto& file : json_files(options.impl_dir)) add_manifest(list, file, bin_dir, false);
  } else {
    for (const auto& file : options.impls) add_manifest(list, file, bin_dir, true);
  }
  keep_only(list, options.only);
  return list;
}

}  // namespace csd::bench
