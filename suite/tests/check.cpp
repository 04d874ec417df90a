#include "check.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <utility>

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

Registered register_applicable_checks(const std::vector<harness::Manifest>& implementations,
                                      const CheckSelection& selection) {
  Registered registered;
  for (const CheckDeclaration& check : declared_checks()) {
    if (!selected(check, selection)) {
      registered.not_selected += static_cast<int>(implementations.size());
      continue;
    }
    for (const harness::Manifest& implementation : implementations) {
      if (harness::applies(check.where, implementation)) {
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

namespace detail {

void add_declaration(CheckDeclaration declaration) {
  catalogue().push_back(std::move(declaration));
}

std::string suite_name(const CheckDeclaration& check) { return "Impl/" + check.family; }

std::string test_name(const CheckDeclaration& check, const harness::Manifest& implementation) {
  return check.name + "/" + harness::parameter_name(implementation.name);
}

}  // namespace detail
}  // namespace csd::suite
