// csd-suite: the conformance suite as one gtest binary.
//
//   csd-suite [--impl FILE.json|DIR ...] [gtest flags]
//   CSD_IMPL=FILE.json[:FILE2.json|DIR] csd-suite
//
// Without --impl or CSD_IMPL it runs over the reference implementations'
// manifests (fixtures/impls/*.json). A manifest that cannot be used is an
// error before any test runs: exit 2 with the file and the field.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "implementations.hpp"
#include "manifest.hpp"

#ifndef CSD_DEFAULT_IMPL_DIR
#error "CSD_DEFAULT_IMPL_DIR must name fixtures/impls"
#endif

namespace fs = std::filesystem;
using csd::harness::Manifest;

namespace csd::suite {
std::vector<Manifest>& implementations() {
  static std::vector<Manifest> all;
  return all;
}
}  // namespace csd::suite

namespace {

constexpr std::string_view kUsage = R"(csd-suite: conformance checks for concurrent TCP servers.

Usage: csd-suite [--impl FILE.json|DIR]... [gtest flags]

  --impl FILE.json   an implementation manifest to test (repeatable); a
                     directory means every *.json in it
  CSD_IMPL=A.json:B.json
                     the same through the environment
  Without either: the reference implementations in )" CSD_DEFAULT_IMPL_DIR R"(

Useful gtest flags: --gtest_list_tests, --gtest_filter='*Reply*prefork*',
--gtest_output=json:results.json, --gtest_brief=1.
Exit status: 0 all passed, 1 a check failed, 2 bad manifest or usage.
)";

// The directory csd-suite lives in: where bare command names (csd-fork) are found.
fs::path own_bin_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

// Removes --impl arguments from argv (gtest must not see them) and returns them.
std::vector<std::string> take_impl_arguments(int& argc, char** argv) {
  std::vector<std::string> impls;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--impl") {
      if (i + 1 >= argc) {
        std::cerr << "csd-suite: --impl needs a manifest file\n";
        std::exit(2);
      }
      impls.emplace_back(argv[++i]);
    } else if (arg.starts_with("--impl=")) {
      impls.emplace_back(arg.substr(7));
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  argv[argc] = nullptr;
  return impls;
}

std::vector<std::string> split_path_list(std::string_view list) {
  std::vector<std::string> items;
  while (!list.empty()) {
    const auto colon = list.find(':');
    if (colon != 0)
      items.emplace_back(list.substr(0, colon));
    if (colon == std::string_view::npos)
      break;
    list.remove_prefix(colon + 1);
  }
  return items;
}

std::vector<Manifest> load_all(const std::vector<std::string>& sources) {
  const std::vector<fs::path> search{own_bin_dir()};
  std::vector<Manifest> manifests;
  for (const auto& source : sources) {
    if (fs::is_directory(source)) {
      auto dir = csd::harness::load_manifest_dir(source, search);
      if (dir.empty())
        throw csd::harness::ManifestError(source, "(file)",
                                          "no *.json manifests in this directory");
      manifests.insert(manifests.end(), dir.begin(), dir.end());
    } else {
      manifests.push_back(csd::harness::load_manifest(source, search));
    }
  }
  return manifests;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage << "\n";
      testing::InitGoogleTest(&argc, argv);  // appends gtest's own flag list
      return 0;
    }
  }
  std::vector<std::string> sources = take_impl_arguments(argc, argv);
  if (sources.empty()) {
    if (const char* env = std::getenv("CSD_IMPL"); env != nullptr && *env != '\0')
      sources = split_path_list(env);
  }
  if (sources.empty())
    sources.emplace_back(CSD_DEFAULT_IMPL_DIR);

  try {
    csd::suite::implementations() = load_all(sources);
  } catch (const csd::harness::ManifestError& e) {
    std::cerr << "csd-suite: bad manifest: " << e.what() << "\n";
    return 2;
  }
  // Names must be unique: they are the tests' parameter names.
  std::vector<std::string> seen;
  for (const auto& m : csd::suite::implementations()) {
    const auto name = csd::harness::parameter_name(m.name);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      std::cerr << "csd-suite: bad manifest: " << m.path.string() << ": field 'name': '" << m.name
                << "' is used by another manifest too\n";
      return 2;
    }
    seen.push_back(name);
  }

  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
