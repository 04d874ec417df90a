#include "check.hpp"

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

Registered register_applicable_checks(const std::vector<harness::Manifest>& implementations) {
  Registered registered;
  for (const CheckDeclaration& check : declared_checks()) {
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
