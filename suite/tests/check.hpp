// Declaring a check, and registering it only where it applies.
//
//   CSD_CHECK(Pool, EveryWorkerAccepts, kProcessPoolsSpeakingSize,
//             {.id = "pool/every-worker-accepts",
//              .level = Level::required,
//              .statement = "Under load, every worker of a process pool serves connections.",
//              .why_level = "The pool is the design: a worker that never accepts is not one.",
//              .proven_by = {"lazy-pool"},
//              .runs = {.under_network_conditions = false}}) {
//     ... a googletest test body, with the family's fixture as `this` ...
//   }
//
// declares the check Pool.EveryWorkerAccepts: where it applies
// (harness::AppliesTo: the protocol, the kind of workers, the worker count)
// and its entry in the catalogue (CheckInfo: a stable ID, a level, what it
// asserts and why it has that level, the broken servers that prove it can
// fail, where it runs, how it starts its server and, where a plain client
// shows its bug, how to see it by hand), as data next to the body. One name
// per check: the ID's prefix is the family (the fixture class, and the gtest
// suite: Impl/Pool), its rest in CamelCase the check's name, and the
// family's checks live in suite/tests/<prefix>_test.cpp; a test
// (Catalogue.OneNamePerCheck) holds every check to it.
//
// docs/CHECKS.md is the catalogue as `csd-suite --list-checks=markdown`
// prints it; a test keeps them equal. Nothing is registered with googletest
// yet: the manifests are read at run time, so csd-suite's main() loads them
// and then calls register_applicable_checks(), which registers, with
// googletest's testing::RegisterTest, one test per (check, implementation)
// pair that applies, named Impl/FAMILY.CHECK/IMPLEMENTATION. A pair that
// does not apply is no test at all: it is counted, never run or skipped.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "applicability.hpp"
#include "kernel_features.hpp"
#include "manifest.hpp"
#include "server_test.hpp"

namespace csd::suite {

// In the manner of RFC 2119's MUST and SHOULD. A required check holds for
// every correct server of its design as Stevens and the csdesign tutorial
// describe it; a recommended one goes beyond the textbook, and its failure
// is a warning (a failure only with csd-suite --strict).
enum class Level { required, recommended };
std::string_view to_string(Level level);

// Where a check runs beyond a quick loopback over IPv4: the data behind
// csd-suite --network and a manifest's "ipv6": true.
struct Runs {
  // Under csd-suite --network (loss, rate, delay): what a server must get
  // right on any path. False for the checks that measure the design on a
  // quick loopback (distribution, wake-ups, shape), where a degraded path
  // would measure the path instead.
  bool under_network_conditions = true;
  // Again on a NAME@ipv6 copy, over ::1: the protocol's correctness, which
  // the address family could break; not what the design's processes do.
  bool on_ipv6_copy = false;
  // Why the check runs with nothing beside it (csd-report --jobs): it measures
  // what another check's load would disturb (CPU time, wake-ups, how work is
  // spread, a queue it fills). Empty: it may run beside others.
  std::string alone_because{};
};

// A check's budget when it declares none: what every check of the reference
// implementations needs many times over, and a server that is never ready
// (15 s) still fails inside it.
inline constexpr std::chrono::seconds kDefaultBudget{20};

struct CheckInfo {
  std::string id;  // stable, h2spec-like: "size/split-request"
  Level level = Level::required;
  std::string statement;  // one sentence: what it asserts
  std::string why_level;  // why it is required, or only recommended
  // The broken servers (fixtures/broken/NAME.json) whose bug it exists to
  // catch: csd-selftest runs it on each and requires it to fail.
  std::vector<std::string> proven_by{};
  // Where a plain client shows the behaviour, the command that shows it
  // against a server a person started: "csd-client -i {host} -p {port} -c 1
  // -t 1 -b 100". {host} and {port} as in a manifest; a program next to
  // csd-suite is named by its absolute path in the report. Only where it is
  // true: csd-selftest runs it on each server of proven_by and requires it
  // to fail there, and to pass on a reference server.
  std::string by_hand{};
  // The kernel features the check itself needs, whatever the design (a
  // capture's CAP_NET_RAW); what a design needs comes from its traits
  // (harness::features_needed_by). Where one is absent the check is skipped
  // with the reason, before its server starts (see needs_missing_feature);
  // CAP_NET_RAW is listed here for the catalogue, and the capture itself
  // skips without it, with libpcap's reason.
  std::vector<harness::KernelFeature> needs{};
  Runs runs{};
  // The most the check may take, from its server's start to its stop, on a
  // quick machine (scaled by --timeout-multiplier). Every wait of the check is
  // cut off where it ends, and csd-suite ends a check that outlives it (see
  // budget_watch.hpp): a check on any server, however broken, ends in time.
  std::chrono::seconds budget = kDefaultBudget;
  // How the check starts its server where it differs from the manifest (a
  // variant of the family's fixture, as data): a small backlog, few descriptors.
  ServerStart server{};
};

struct CheckDeclaration {
  std::string family;  // the fixture class's name, the ID's prefix: Pool
  std::string name;    // EveryWorkerAccepts
  harness::AppliesTo where;
  CheckInfo info;
  const char* file = nullptr;  // where the body is, for googletest's messages
  int line = 0;
  // Registers this check for one implementation (see declare_check below).
  void (*register_for)(const CheckDeclaration&, const harness::Manifest&) = nullptr;

  [[nodiscard]] std::string full_name() const { return family + "." + name; }
};

// Every check declared with CSD_CHECK, in declaration order (families in
// link order, checks in file order).
const std::vector<CheckDeclaration>& declared_checks();

// The check whose test this is ("Impl/Size", "SmallRepliesExact/csd_fork"),
// or nullptr for a test that is no check of an implementation (a demo's).
const CheckDeclaration* find_check(std::string_view test_suite, std::string_view test_name);

// Records the running test's catalogue entry as properties the report reads:
// "check_id", "level" and "statement" (what it asserts, shown on hover).
void record_catalogue_entry(const CheckDeclaration& check);

// csd-suite --checks and --skip-checks: ID patterns (fnmatch: 'size/*').
struct CheckSelection {
  std::vector<std::string> include;  // empty: every check
  std::vector<std::string> exclude;
};
// True if `id` matches one of `patterns`.
bool id_matches(std::string_view id, const std::vector<std::string>& patterns);
bool selected(const CheckDeclaration& check, const CheckSelection& selection);

struct Registered {
  int tests = 0;           // (check, implementation) pairs registered
  int not_applicable = 0;  // pairs whose check does not apply to the implementation
  int not_selected = 0;    // pairs left out by --checks / --skip-checks
};

// The kernel features a test of `check` on `implementation` needs: the
// check's own and its design's, each once.
std::vector<harness::KernelFeature> features_needed(const CheckDeclaration& check,
                                                    const harness::Manifest& implementation);

// True if `check` is registered for `implementation`: it applies
// (harness::applies), and on a NAME@ipv6 copy only if it runs there (Runs).
bool registered_for(const CheckDeclaration& check, const harness::Manifest& implementation);

// Registers every applicable (check, implementation) pair of the selected
// checks with googletest, check by check, each over the implementations in
// their order. `implementations` must outlive RUN_ALL_TESTS().
Registered register_applicable_checks(const std::vector<harness::Manifest>& implementations,
                                      const CheckSelection& selection = {});

// Narrows --gtest_filter to the checks of implementations (the Impl/
// suites), whatever else it selects: a run that validates someone's server
// leaves out every other test, the demo families'.
void run_only_checks_of_implementations();

namespace detail {

// For the running test, a check of `implementation`: the reason to skip it
// ("needs SO_REUSEPORT, which this kernel refuses (...)") when a feature it
// needs is absent, with the properties a skipped check's record carries;
// nullopt when it can run.
std::optional<std::string> needs_missing_feature(const harness::Manifest& implementation);

void add_declaration(CheckDeclaration declaration);
std::string suite_name(const CheckDeclaration& check);
std::string test_name(const CheckDeclaration& check, const harness::Manifest& implementation);

// googletest requires every test of a suite to be made by a factory that
// returns the same fixture type, hence `Family*` rather than `Body*`.
template <class Family, class Body>
void register_for(const CheckDeclaration& check, const harness::Manifest& implementation) {
  ::testing::RegisterTest(suite_name(check).c_str(), test_name(check, implementation).c_str(),
                          nullptr, implementation.name.c_str(), check.file, check.line,
                          [&implementation, start = check.info.server]() -> Family* {
                            return new Body(implementation, start);
                          });
}

template <class Family, class Body>
bool declare_check(const char* family, const char* name, const char* file, int line,
                   const harness::AppliesTo& where, CheckInfo info) {
  add_declaration({family, name, where, std::move(info), file, line, &register_for<Family, Body>});
  return true;
}

}  // namespace detail
}  // namespace csd::suite

// Declares FAMILY.CHECK, applying where `where` (a harness::AppliesTo) says,
// with `...` its CheckInfo as designated initializers ({.id = ..., .level =
// ..., .statement = ..., .why_level = ..., .proven_by = {"a", "b"}, and where
// they differ from the defaults .needs, .runs, .server}); the braces that
// follow are its body. A family is a ServerTest subclass that inherits
// ServerTest's constructor. A test whose check or design needs an
// absent kernel feature is skipped in SetUp, before its server starts.
#define CSD_CHECK(family, check, where, ...)                                                  \
  class family##_##check##_Check : public family {                                            \
   public:                                                                                    \
    using family::family;                                                                     \
                                                                                              \
   protected:                                                                                 \
    void SetUp() override {                                                                   \
      if (const auto missing = ::csd::suite::detail::needs_missing_feature(manifest()))       \
        GTEST_SKIP() << *missing;                                                             \
      family::SetUp();                                                                        \
    }                                                                                         \
                                                                                              \
   private:                                                                                   \
    void TestBody() override;                                                                 \
  };                                                                                          \
  [[maybe_unused]] const bool family##_##check##_declared =                                   \
      ::csd::suite::detail::declare_check<family, family##_##check##_Check>(                  \
          #family, #check, __FILE__, __LINE__, (where), ::csd::suite::CheckInfo __VA_ARGS__); \
  void family##_##check##_Check::TestBody()
