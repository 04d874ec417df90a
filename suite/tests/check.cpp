#include "check.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "netns.hpp"

namespace csd::suite {

namespace {

// Filled during static initialization, before main(); a function-local
// static, so that it exists before the first CSD_CHECK of any file adds to it.
std::vector<CheckDeclaration>& catalogue() {
  static std::vector<CheckDeclaration> checks;
  return checks;
}

}  // namespace

const std::vector<CheckDeclaration>& declared_checks() { return catalogue(); }

std::string_view to_string(Level level) {
  return level == Level::required ? "required" : "recommended";
}

const CheckDeclaration* find_check(std::string_view test_suite, std::string_view test_name) {
  const std::string_view name = test_name.substr(0, test_name.find('/'));
  for (const CheckDeclaration& check : declared_checks()) {
    if (detail::suite_name(check) == test_suite && check.name == name)
      return &check;
  }
  return nullptr;
}

bool id_matches(std::string_view id, const std::vector<std::string>& patterns) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    return ::fnmatch(pattern.c_str(), std::string(id).c_str(), 0) == 0;
  });
}

bool selected(const CheckDeclaration& check, const CheckSelection& selection) {
  return (selection.include.empty() || id_matches(check.info.id, selection.include)) &&
         !id_matches(check.info.id, selection.exclude);
}

std::vector<harness::KernelFeature> features_needed(const CheckDeclaration& check,
                                                    const harness::Manifest& implementation) {
  std::vector<harness::KernelFeature> needed = check.info.needs;
  for (const auto feature : harness::features_needed_by(implementation.traits)) {
    if (std::find(needed.begin(), needed.end(), feature) == needed.end())
      needed.push_back(feature);
  }
  return needed;
}

bool registered_for(const CheckDeclaration& check, const harness::Manifest& implementation) {
  return harness::applies(check.where, implementation) &&
         (!implementation.ipv6_variant() || check.info.runs.on_ipv6_copy);
}

Registered register_applicable_checks(const std::vector<harness::Manifest>& implementations,
                                      const CheckSelection& selection) {
  Registered registered;
  for (const CheckDeclaration& check : declared_checks()) {
    if (!selected(check, selection)) {
      registered.not_selected += static_cast<int>(implementations.size());
      continue;
    }
    for (const harness::Manifest& implementation : implementations) {
      if (registered_for(check, implementation)) {
        check.register_for(check, implementation);
        ++registered.tests;
      } else {
        ++registered.not_applicable;
      }
    }
  }
  return registered;
}

void run_only_checks_of_implementations() {
  // "POSITIVE[-NEGATIVE]": each positive pattern is held to the Impl/ suites.
  const std::string filter = ::testing::GTEST_FLAG(filter);
  const auto dash = filter.find('-');
  std::string positive = filter.substr(0, dash);
  if (positive.empty())
    positive = "*";
  std::string narrowed;
  std::size_t start = 0;
  while (start <= positive.size()) {
    const auto end = std::min(positive.find(':', start), positive.size());
    const std::string pattern = positive.substr(start, end - start);
    narrowed += (narrowed.empty() ? "" : ":") +
                (pattern.starts_with("Impl/") ? pattern : "Impl/" + pattern);
    start = end + 1;
  }
  ::testing::GTEST_FLAG(filter) =
      dash == std::string::npos ? narrowed : narrowed + filter.substr(dash);
}

void record_catalogue_entry(const CheckDeclaration& check) {
  ::testing::Test::RecordProperty("check_id", check.info.id);
  ::testing::Test::RecordProperty("level", std::string(to_string(check.info.level)));
  ::testing::Test::RecordProperty("statement", check.info.statement);
}

namespace detail {

std::optional<std::string> needs_missing_feature(const harness::Manifest& implementation) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const CheckDeclaration* check = find_check(test->test_suite_name(), test->name());
  if (check == nullptr)
    return std::nullopt;
  std::vector<harness::KernelFeature> needed = features_needed(*check, implementation);
  // A capture finds out itself whether it may capture, and skips with
  // libpcap's reason, which names the device and the call that was refused:
  // more than a missing bit in CapEff says.
  std::erase(needed, harness::KernelFeature::cap_net_raw);
  auto missing = harness::missing_feature(needed);
  // --network without a namespace (no root): nothing of the run can run.
  if (!missing && harness::network_unavailable())
    missing = *harness::network_unavailable();
  if (missing) {
    // What ServerTest::SetUp records for a check that runs, so that the
    // report attributes the skip as it would a verdict.
    ::testing::Test::RecordProperty("implementation", implementation.name);
    record_catalogue_entry(*check);
    ::testing::Test::RecordProperty("model", implementation.model);
    ::testing::Test::RecordProperty("skipped_because", *missing);
  }
  return missing;
}

void add_declaration(CheckDeclaration declaration) {
  catalogue().push_back(std::move(declaration));
}

std::string suite_name(const CheckDeclaration& check) { return "Impl/" + check.family; }

std::string test_name(const CheckDeclaration& check, const harness::Manifest& implementation) {
  return check.name + "/" + harness::parameter_name(implementation.name);
}

}  // namespace detail
}  // namespace csd::suite
