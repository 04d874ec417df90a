// csd-suite: the conformance suite as one gtest binary (its flags and help:
// options.cpp).
//
// Without --impl or CSD_IMPL it runs over the reference implementations'
// manifests (fixtures/impls/*.json). A manifest that cannot be used is an
// error before any test runs: exit 2 with the file and the field. The tests
// are registered here, once the manifests are loaded and each "auto" one has
// the model its server showed (auto_models.hpp): one per (check,
// implementation) pair where the check applies (check.hpp); where a check
// runs under --network is its catalogue entry's (CheckInfo::runs).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auto_models.hpp"
#include "backstop.hpp"
#include "budget_watch.hpp"
#include "catalogue.hpp"
#include "check.hpp"
#include "demos.hpp"
#include "environment.hpp"
#include "kernel_features.hpp"
#include "limits.hpp"
#include "manifest.hpp"
#include "netns.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "rerun.hpp"
#include "timeouts.hpp"

namespace fs = std::filesystem;
using csd::harness::Manifest;
using csd::suite::usage_error;

namespace {

std::vector<Manifest> load_all(const std::vector<std::string>& sources) {
  const std::vector<fs::path> search{csd::harness::own_bin_dir()};
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
  // Names must be unique: they end every test's name.
  std::vector<std::string> seen;
  for (const auto& m : manifests) {
    const auto name = csd::harness::parameter_name(m.name);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      throw csd::harness::ManifestError(
          m.path, "name", fmt::format("'{}' is used by another manifest too", m.name));
    }
    seen.push_back(name);
  }
  return manifests;
}

// The build and the machine, as env_* properties of the run: csd-report
// prints them with every summary.
void record_environment() {
#ifdef __clang__
  const std::string compiler = "clang " __clang_version__;
#else
  const std::string compiler = "GCC " __VERSION__;
#endif
  const std::string sanitizers = CSD_SANITIZERS;
  testing::Test::RecordProperty(
      "env_csd", fmt::format("{} ({}, {}{})", CSD_VERSION, CSD_BUILD_TYPE, compiler,
                             sanitizers.empty() ? "" : ", sanitizers " + sanitizers));
  for (const auto& [name, value] : csd::harness::machine_environment())
    testing::Test::RecordProperty("env_" + name, value);
}

// What a line that reruns one test of this run needs (harness/rerun.hpp):
// this program, the flags that can change a verdict and each manifest, all
// as absolute paths.
csd::harness::SuiteInvocation record_invocation(const csd::suite::SuiteOptions& own,
                                                const std::vector<Manifest>& implementations) {
  csd::harness::SuiteInvocation invocation;
  std::error_code unknown;
  invocation.program = fs::read_symlink("/proc/self/exe", unknown).string();
  for (const auto& condition : own.network)
    invocation.flags.insert(invocation.flags.end(), {"--network", condition});
  if (own.timeout_multiplier)
    invocation.flags.push_back(fmt::format("--timeout-multiplier={}", *own.timeout_multiplier));
  if (own.strict)
    invocation.flags.emplace_back("--strict");
  // The run's limits: a rerun stops a server where this run did.
  for (auto& flag : own.limits.suite_flags()) invocation.flags.push_back(std::move(flag));
  for (auto& flag : csd::suite::demo_override_flags()) invocation.flags.push_back(std::move(flag));
  if (const char* pretend = std::getenv(csd::harness::kPretendMissingVariable); pretend != nullptr)
    invocation.environment.emplace_back(csd::harness::kPretendMissingVariable, pretend);
  for (const auto& implementation : implementations) {
    if (!implementation.path.empty())
      invocation.manifests[implementation.name] = fs::absolute(implementation.path).string();
  }
  testing::Test::RecordProperty(csd::harness::kRerunProperty,
                                csd::harness::to_json(invocation).dump());
  return invocation;
}

// Under each failed test in csd-suite's own output, the line that reruns it
// alone. googletest calls end events in reverse order, so the line comes
// before the test's "[  FAILED  ]".
class RerunLine : public testing::EmptyTestEventListener {
 public:
  explicit RerunLine(csd::harness::SuiteInvocation invocation)
      : invocation_(std::move(invocation)) {}

  void OnTestEnd(const testing::TestInfo& test) override {
    const testing::TestResult& result = *test.result();
    if (!result.Failed())
      return;
    std::string manifest;
    for (int i = 0; i < result.test_property_count(); ++i) {
      const testing::TestProperty& property = result.GetTestProperty(i);
      if (std::string_view(property.key()) == csd::harness::kManifestProperty)
        manifest = property.value();
    }
    const auto* check = csd::suite::find_check(test.test_suite_name(), test.name());
    if (manifest.empty() && check != nullptr && test.value_param() != nullptr) {
      const auto known = invocation_.manifests.find(test.value_param());
      if (known == invocation_.manifests.end())
        return;
      manifest = known->second;
    }
    const bool recommended =
        check != nullptr && check->info.level == csd::suite::Level::recommended;
    std::cout << "rerun: "
              << csd::harness::rerun_command(
                     invocation_, manifest, std::string(test.test_suite_name()) + "." + test.name(),
                     recommended)
              << "\n"
              << std::flush;
  }

 private:
  csd::harness::SuiteInvocation invocation_;
};

// Proof that the condition happened, at the end of the run, in the
// namespace: run properties csd-report shows, and a line on stderr.
class NetworkCounterReport : public testing::Environment {
 public:
  void TearDown() override {
    const auto counters = csd::harness::read_network_counters();
    std::vector<std::string> parts;
    if (counters.dropped_packets) {
      testing::Test::RecordProperty("network_dropped_packets",
                                    std::to_string(*counters.dropped_packets));
      parts.push_back(
          fmt::format("{} packets dropped by the loss rule", *counters.dropped_packets));
    }
    if (counters.retransmitted_segments) {
      testing::Test::RecordProperty("network_retransmitted_segments",
                                    std::to_string(*counters.retransmitted_segments));
      parts.push_back(
          fmt::format("{} TCP segments retransmitted", *counters.retransmitted_segments));
    }
    std::cerr << fmt::format("csd-suite: network: {}\n", fmt::join(parts, ", "));
  }
};

}  // namespace

int main(int argc, char** argv) {
  const csd::suite::SuiteOptions own = csd::suite::parse_suite_options(argc, argv);
  // --network: into the run's own namespace first, while csd-suite is one
  // thread (a thread started before would stay outside), so that every
  // server, client and capture of the run shares it, and it vanishes with
  // the last of them, whatever kills the run.
  std::optional<csd::harness::NetworkConditions> network;
  std::string network_description;
  csd::harness::NetworkSetup network_setup;  // held to the end: its helpers run while it is
  if (!own.network.empty()) {
    const auto parsed = csd::harness::parse_network_conditions(own.network);
    if (!parsed.error.empty())
      usage_error("--network: " + parsed.error);
    network = parsed.conditions;
    if (!own.list_checks) {
      network_setup = csd::harness::enter_network_namespace(*network);
      const auto& setup = network_setup;
      switch (setup.outcome) {
        case csd::harness::NetworkSetup::Outcome::ready:
          network_description = setup.description;
          break;
        case csd::harness::NetworkSetup::Outcome::unavailable:
          std::cerr << "csd-suite: " << setup.message << ": every check is skipped\n";
          network_description = "unavailable: " + setup.message;
          break;
        case csd::harness::NetworkSetup::Outcome::refused:
          std::cerr << "csd-suite: --network " << network->describe() << ": " << setup.message
                    << "\n";
          return 2;
      }
    }
  }
  // googletest takes its own flags out of argv and ignores what it does not
  // know: whatever is left is a mistake, and running every check anyway
  // would hide it.
  testing::InitGoogleTest(&argc, argv);
  if (argc > 1) {
    const std::string_view arg = argv[1];
    usage_error(arg.starts_with("--gtest_") ? fmt::format("unknown googletest flag {}", arg)
                                            : fmt::format("unknown argument {}", arg));
  }
  // What every server of the run may use (csd-guard enforces it).
  csd::harness::set_run_limits(own.limits);
  // Every deadline of the run, scaled once, here.
  if (own.timeout_multiplier)
    csd::harness::set_timeout_multiplier(*own.timeout_multiplier);
  else if (network)
    csd::harness::set_timeout_multiplier(network->default_timeout_multiplier());
  std::vector<std::string> sources = own.impls;
  // The demo families test the project's own demos: they run with the
  // reference implementations, or when --demo puts a program in, never
  // when the run validates someone's server.
  const bool with_demos = (sources.empty() || own.demo_given) && !network;
  if (sources.empty())
    sources.push_back(csd::harness::default_impl_dir().string());

  std::vector<Manifest> implementations;
  try {
    implementations = load_all(sources);
  } catch (const csd::harness::ManifestError& e) {
    std::cerr << "csd-suite: bad manifest: " << e.what() << "\n";
    return 2;
  }
  // "model": "auto": each such server watched (or its model taken from
  // --assume-model) before any check is registered, its copy on ::1 with it.
  csd::suite::resolve_auto_models(implementations, own.assume_models);
  implementations = csd::harness::with_ipv6_variants(std::move(implementations));
  for (const auto& pattern : own.selection.include) {
    const bool any = std::any_of(
        csd::suite::declared_checks().begin(), csd::suite::declared_checks().end(),
        [&](const auto& check) { return csd::suite::id_matches(check.info.id, {pattern}); });
    if (!any)
      usage_error(fmt::format("--checks {}: no check has a matching ID (csd-suite --list-checks)",
                              pattern));
  }
  csd::suite::CheckSelection selection = own.selection;
  if (network) {
    for (const auto& check : csd::suite::declared_checks()) {
      if (!check.info.runs.under_network_conditions)
        selection.exclude.push_back(check.info.id);
    }
  }
  if (own.list_checks) {
    csd::suite::print_catalogue(*own.list_checks, implementations, selection, std::cout);
    return 0;
  }

  if (!with_demos)
    csd::suite::run_only_checks_of_implementations();
  const auto registered = csd::suite::register_applicable_checks(implementations, selection);
  csd::suite::register_backstop_selftest();
  // Outside any test: properties of the whole run, which csd-report reads
  // from the JSON results.
  testing::Test::RecordProperty("checks_not_applicable", registered.not_applicable);
  record_environment();
  auto invocation = record_invocation(own, implementations);
  if (network) {
    testing::Test::RecordProperty(
        "env_network",
        fmt::format("{}; timeouts x{}", network_description, csd::harness::timeout_multiplier()));
    if (!csd::harness::network_unavailable())
      testing::AddGlobalTestEnvironment(std::make_unique<NetworkCounterReport>().release());
  }
  const csd::suite::Progress progress(own.progress);
  // Owned by googletest from here; every test within its budget.
  // Appended before BudgetWatch, so that its end comes after BudgetWatch's,
  // which waits for a failure the watchdog may be adding.
  testing::UnitTest::GetInstance()->listeners().Append(
      std::make_unique<RerunLine>(std::move(invocation)).release());
  testing::UnitTest::GetInstance()->listeners().Append(
      std::make_unique<csd::suite::BudgetWatch>().release());
  if (RUN_ALL_TESTS() == 0)
    return 0;
  // googletest failed the run for any failed test; the levels decide.
  return csd::suite::verdict_by_level(own.strict, std::cout);
}
