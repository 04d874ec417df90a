// Which servers csd-bench runs: the baseline (csd-citerative), then every
// size-protocol manifest of the default directory, or the --impl manifests.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "manifest.hpp"
#include "options.hpp"

namespace csd::bench {

struct Design {
  harness::Manifest manifest;
  bool baseline = false;  // the row every figure is a ratio to
  [[nodiscard]] const std::string& name() const { return manifest.name; }
};

struct DesignList {
  std::vector<Design> designs;       // the baseline first
  std::vector<std::string> skipped;  // "FILE: why", for the report
};

// Bad input the user must fix (an --impl that cannot be used, an --only that
// names nothing): main prints what() and exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kBaselineName = "csd-citerative";

// `bin_dir` is where programs named without a path are looked for first
// (csd-bench's own directory). Throws UsageError.
DesignList find_designs(const Options& options, const std::filesystem::path& bin_dir);

// The directory of the running executable.
std::filesystem::path own_bin_dir();

}  // namespace csd::bench
