// suite/observe on live servers: one reference server per family is
// identified as the design its manifest declares. Each test starts its own
// server on a leased port (safe under ctest -j); the server's whole tree
// dies with the test (ServerProcess, under csd-guard).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "manifest.hpp"
#include "observe.hpp"

namespace csd::observe {
namespace {

class Identify : public ::testing::TestWithParam<std::string> {};

TEST_P(Identify, TheReferenceServerAsItsManifestDeclares) {
  const auto file = std::filesystem::path(CSD_FIXTURE_IMPLS) / (GetParam() + ".json");
  const harness::Manifest manifest = harness::load_manifest(file, {harness::own_bin_dir()});
  const Identification id = identify(manifest);
  std::string evidence;
  for (const auto& line : id.verdict.evidence) evidence += "\n  " + line;
  EXPECT_EQ(id.problem, "");
  EXPECT_EQ(id.verdict.model, manifest.model) << id.verdict.summary << evidence;
  EXPECT_TRUE(id.verdict.facts.settled) << "a step did not stand still:" << evidence;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& manifest) {
  std::string name = manifest.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(OnePerFamily, Identify,
                         ::testing::Values("fork", "select", "prefork", "prefork-fdpass", "thread",
                                           "prethreaded"),
                         test_name);

}  // namespace
}  // namespace csd::observe
