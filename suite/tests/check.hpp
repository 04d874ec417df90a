// Declaring a check, and registering it only where it applies.
//
//   CSD_CHECK(Distribution, EveryWorkerAccepts, kProcessPoolsSpeakingSize) {
//     ... a googletest test body, with the family's fixture as `this` ...
//   }
//
// declares the check Distribution.EveryWorkerAccepts with the fixture class
// Distribution (a ServerTest) and where it applies (harness::AppliesTo: the
// protocol, the kind of workers, the worker count), as data next to the body.
// Nothing is registered with googletest yet: the manifests are read at run
// time, so csd-suite's main() loads them and then calls
// register_applicable_checks(), which registers, with googletest's
// testing::RegisterTest, one test per (check, implementation) pair that
// applies, named Impl/FAMILY.CHECK/IMPLEMENTATION (the names a
// parameterized test would have, so filters keep working). A pair that does
// not apply is no test at all: it is counted, never run or skipped.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "applicability.hpp"
#include "manifest.hpp"

namespace csd::suite {

struct CheckDeclaration {
  std::string family;  // the fixture class's name: Distribution
  std::string name;    // EveryWorkerAccepts
  harness::AppliesTo where;
  const char* file = nullptr;  // where the body is, for googletest's messages
  int line = 0;
  // Registers this check for one implementation (see declare_check below).
  void (*register_for)(const CheckDeclaration&, const harness::Manifest&) = nullptr;

  [[nodiscard]] std::string full_name() const { return family + "." + name; }
};

// Every check declared with CSD_CHECK, in declaration order (families in
// link order, checks in file order).
const std::vector<CheckDeclaration>& declared_checks();

struct Registered {
  int tests = 0;           // (check, implementation) pairs registered
  int not_applicable = 0;  // pairs whose check does not apply to the implementation
};

// Registers every applicable (check, implementation) pair with googletest,
// check by check, each over the implementations in their order.
// `implementations` must outlive RUN_ALL_TESTS().
Registered register_applicable_checks(const std::vector<harness::Manifest>& implementations);

namespace detail {

void add_declaration(CheckDeclaration declaration);
std::string suite_name(const CheckDeclaration& check);
std::string test_name(const CheckDeclaration& check, const harness::Manifest& implementation);

// googletest requires every test of a suite to be made by a factory that
// returns the same fixture type, hence `Family*` rather than `Body*`.
template <class Family, class Body>
void register_for(const CheckDeclaration& check, const harness::Manifest& implementation) {
  ::testing::RegisterTest(suite_name(check).c_str(), test_name(check, implementation).c_str(),
                          nullptr, implementation.name.c_str(), check.file, check.line,
                          [&implementation]() -> Family* { return new Body(implementation); });
}

template <class Family, class Body>
bool declare_check(const char* family, const char* name, const char* file, int line,
                   const harness::AppliesTo& where) {
  add_declaration({family, name, where, file, line, &register_for<Family, Body>});
  return true;
}

}  // namespace detail
}  // namespace csd::suite

// Declares FAMILY.CHECK, applying where `...` (a harness::AppliesTo) says;
// the braces that follow are its body. A family is a ServerTest subclass
// that inherits ServerTest's constructor.
#define CSD_CHECK(family, check, ...)                                                   \
  class family##_##check##_Check : public family {                                      \
   public:                                                                              \
    using family::family;                                                               \
                                                                                        \
   private:                                                                             \
    void TestBody() override;                                                           \
  };                                                                                    \
  [[maybe_unused]] const bool family##_##check##_declared =                             \
      ::csd::suite::detail::declare_check<family, family##_##check##_Check>(            \
          #family, #check, __FILE__, __LINE__, ::csd::harness::AppliesTo(__VA_ARGS__)); \
  void family##_##check##_Check::TestBody()
