// csd-selftest: the suite tested against deliberately broken servers. Each
// fixture in fixtures/broken has one bug; the check meant to see it must
// fail on it (and fail as a check, not as a crash or a bad manifest). A check
// that no broken server makes fail is a check that cannot fail. Which fixture
// proves which check comes from the catalogue itself (`csd-suite
// --list-checks=json`, each check's "proven_by"), read in main() before the
// tests are registered; only what is no catalogue check is in a table here.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "budgets.hpp"
#include "capture.hpp"
#include "run.hpp"
#include "summary.hpp"
#include "temp_dir.hpp"
#include "timeouts.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct Case {
  std::string fixture;    // fixtures/broken/<fixture>.json, or with `demo` the program
                          // csd-broken-<fixture> (fixtures/broken/demos/<fixture>.cpp),
                          // or a demo "csd-..." playing another's part
  std::string check;      // gtest filter for the check that must catch it
  bool must_fail = true;  // false: a well-behaved fixture the check must pass
  std::string demo{};     // the demo the broken program plays (csd-suite --demo)
};

// What is no check of the catalogue: the demo families' tests (programs of
// impl/demos, not manifests) and a correct fixture. The catalogue's checks
// and the fixtures that prove them are read from csd-suite (main() below).
const Case kCasesNotInTheCatalogue[] = {
    // A correct server that prints nothing: the harness must still launch it
    // (ready by its listening port), and the checks must pass.
    {"no-ready-line", "*Size.*:*Life.*", false},
    {"selfpipe-undrained", "SignalRace.SelfPipeSleepsAgain*", true, "csd-selfpipe"},
    // The race is the bug the fixes' checks look for, and a fix is the bug
    // for the check that the naive program loses the signal.
    {"csd-selsigrace", "SignalRace.SelfPipeCatches*", true, "csd-selfpipe"},
    {"csd-selsigrace", "SignalRace.Pselect*", true, "csd-pselect"},
    {"csd-selsigrace", "SignalRace.Signalfd*", true, "csd-signalfd"},
    {"csd-selfpipe", "SignalRace.Naive*", true, "csd-selsigrace"},
    {"sendfile-ignores-partial", "Sendfile.*/sendfile_*SlowReader", true, "csd-sendfile"},
    {"cork-never-set", "Cork.*", true, "csd-cork"},
    {"rst-graceful", "Rst.*", true, "csd-rstserver"},
    {"sigpipe-ignored", "Sigpipe.*", true, "csd-sigpipe"},
    {"rst-ignores-graceful", "Rst.GracefulServerClosesWithFinNotRst", true, "csd-rstserver"},
    {"sigpipe-mode-ignored", "Sigpipe.*Epipe", true, "csd-sigpipe"},
};

// The catalogue as csd-suite lists it, read once by main(); `problem` says
// why it could not be, and Catalogue.EveryCheckHasABrokenFixture fails with it.
struct Catalogue {
  nlohmann::json checks = nlohmann::json::array();
  std::string problem;
};
Catalogue& catalogue() {
  static Catalogue listed;
  return listed;
}

Catalogue list_catalogue() {
  Catalogue listed;
  const auto run = csd::harness::run_to_completion({CSD_SUITE_BINARY, "--list-checks=json"}, 30s);
  if (run.exit_code != 0) {
    listed.problem = "csd-suite --list-checks=json failed:\n" + run.output;
    return listed;
  }
  try {
    listed.checks = nlohmann::json::parse(run.output);
  } catch (const nlohmann::json::exception& e) {
    listed.problem = std::string("csd-suite --list-checks=json printed no JSON: ") + e.what();
  }
  return listed;
}

fs::path broken_manifest(const std::string& fixture) {
  return fs::path(CSD_BROKEN_DIR) / (fixture + ".json");
}

// What csd-suite's gtest JSON says, read the way csd-report reads it.
csd::report::Summary read_report(const fs::path& file) {
  std::ifstream in(file);
  csd::report::Summary summary;
  csd::report::add_results(nlohmann::json::parse(in), summary, file.parent_path());
  return summary;
}

// What googletest prints of a value it cannot print: "4-byte object <04-00 00-00>".
constexpr std::string_view kUnprintable = "-byte object";

// "Size.SmallRepliesExact (expected 1 bytes then EOF, ...)" for each failure.
std::string failed_checks(const csd::report::Summary& summary) {
  std::string names;
  for (const auto& f : summary.failures) names += "\n  " + f.check + " (" + f.reason + ")";
  return names;
}

// One (fixture, check) pair, registered by main() as
// Suite/BrokenFixture.CheckCatchesTheBug/FIXTURE__FAMILY_CHECK: the names a
// parameterized test had, so filters and ctest's list stay as they were.
class BrokenFixture : public ::testing::Test {
 public:
  explicit BrokenFixture(Case c) : case_(std::move(c)) {}

 private:
  void TestBody() override;
  Case case_;
};

void BrokenFixture::TestBody() {
  const Case& c = case_;
  const fs::path manifest = broken_manifest(c.fixture);
  if (c.demo.empty()) {
    ASSERT_TRUE(fs::exists(manifest)) << "a check's proven_by names " << c.fixture << ", but "
                                      << manifest.string() << " is not there";
  }
  // A directory of its own: the JSON results, and the .pcap a failed check
  // with a capture leaves next to them.
  const csd::harness::TempDir results("csd-selftest-" + c.fixture);
  const fs::path json = results.path() / "results.json";
  // --strict: a recommended check's failure must show as one here too.
  std::vector<std::string> argv{CSD_SUITE_BINARY, "--strict", "--gtest_filter=" + c.check,
                                "--gtest_output=json:" + json.string()};
  if (c.demo.empty()) {
    argv.insert(argv.end(), {"--impl", manifest.string()});
  } else {
    // A fixture named csd-... is a demo itself, playing another demo's part.
    const std::string program =
        c.fixture.starts_with("csd-") ? c.fixture : "csd-broken-" + c.fixture;
    const fs::path broken = fs::path(CSD_SUITE_BINARY).parent_path() / program;
    argv.insert(argv.end(), {"--demo", c.demo + "=" + broken.string()});
  }
  const auto run = csd::harness::run_to_completion(argv, 240s);
  ASSERT_FALSE(run.timed_out) << "csd-suite did not finish within 240 s:\n" << run.output;
  ASSERT_TRUE(run.exit_code.has_value()) << "csd-suite was killed by a signal:\n" << run.output;
  ASSERT_NE(*run.exit_code, 2) << "csd-suite refused the manifest " << manifest << ":\n"
                               << run.output;
  ASSERT_TRUE(fs::exists(json)) << "csd-suite wrote no JSON report:\n" << run.output;
  const csd::report::Summary summary = read_report(json);
  // Evidence: each capture a failure names is there and readable, its
  // transcript beside it; a passing check left none (a demo's, kept for the
  // report's gallery, is named by its test).
  for (const auto& failure : summary.failures) {
    if (failure.capture.empty())
      continue;
    EXPECT_EQ(fs::path(failure.capture).parent_path(), results.path()) << failure.check;
    EXPECT_NO_THROW(csd::harness::read_pcap_file(failure.capture)) << failure.check;
    const fs::path transcript = fs::path(failure.capture).replace_extension(".wire.txt");
    EXPECT_TRUE(fs::exists(transcript))
        << failure.check << ": no transcript " << transcript.filename() << " beside its capture";
  }
  std::size_t pcaps = 0;
  for (const auto& entry : fs::directory_iterator(results.path()))
    pcaps += entry.path().extension() == ".pcap" ? 1 : 0;
  const auto named = std::count_if(summary.tests.begin(), summary.tests.end(),
                                   [](const auto& t) { return !t.capture.empty(); });
  EXPECT_EQ(pcaps, static_cast<std::size_t>(named)) << "a .pcap no test names was left behind";
  const bool failure_captured = std::any_of(summary.failures.begin(), summary.failures.end(),
                                            [](const auto& f) { return !f.capture.empty(); });
  if (failure_captured) {
    EXPECT_NE(run.output.find("on the wire, port "), std::string::npos)
        << "a failure that kept a capture printed no transcript in the log:\n"
        << run.output;
  }
  // Every reason reads by name: googletest prints a value whose type has no
  // operator<< (or PrintTo) as "4-byte object <04-00 00-00>".
  for (const auto& test : summary.tests) {
    if (test.reason.find(kUnprintable) != std::string::npos ||
        test.details.find(kUnprintable) != std::string::npos) {
      ADD_FAILURE() << test.check << " on " << test.implementation
                    << " printed a value as its bytes: give its type an operator<< next to it.\n"
                    << "reason: " << test.reason << "\ndetails:\n"
                    << test.details;
    }
  }
  const csd::report::Tally outcome = summary.total();
  const int ran = outcome.passed + outcome.failed + outcome.warned + outcome.skipped;

  ASSERT_GT(ran, 0) << "no test matched " << c.check;
  // A check this kernel cannot run (its design needs a feature it lacks)
  // cannot be shown failing here either: a skip, with the check's reason.
  if (outcome.skipped == ran && !summary.skips.empty() &&
      summary.skips.front().reason.starts_with("needs "))
    GTEST_SKIP() << summary.skips.front().reason;
  EXPECT_LT(outcome.skipped, ran) << "every matching check was skipped for " << c.fixture;
  EXPECT_TRUE(csd::selftest::EndedWithinBudgets(summary, csd::harness::timeout_multiplier()));
  if (c.must_fail) {
    EXPECT_EQ(*run.exit_code, 1) << run.output;
    EXPECT_GT(outcome.failed + outcome.warned, 0)
        << c.check << " passed on " << c.fixture << ", whose bug it exists to catch:\n"
        << run.output;
  } else {
    EXPECT_EQ(*run.exit_code, 0) << run.output;
    EXPECT_EQ(outcome.failed + outcome.warned, 0)
        << "failed on a correct server:" << failed_checks(summary) << "\n"
        << run.output;
  }
}

// "no_reap__Lifecycle_NoZombiesAfter200Connections": the fixture, then the check.
std::string case_name(const Case& c) {
  std::string check;
  for (const char ch : c.check) {
    if (ch != '*' && ch != '/')
      check += ch;
  }
  std::string name = c.fixture + "__" + check;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)))
      ch = '_';
  }
  return name;
}

// The cases: one per (check, fixture of its proven_by) of the catalogue, in
// its order, then the table's.
std::vector<Case> every_case(const nlohmann::json& checks) {
  std::vector<Case> cases;
  for (const auto& check : checks) {
    const std::string filter = "*" + check.at("check").get<std::string>() + "/*";
    for (const auto& fixture : check.value("proven_by", nlohmann::json::array()))
      cases.push_back({fixture.get<std::string>(), filter});
  }
  cases.insert(cases.end(), std::begin(kCasesNotInTheCatalogue), std::end(kCasesNotInTheCatalogue));
  return cases;
}

void register_broken_fixture_cases(const nlohmann::json& checks) {
  for (const Case& c : every_case(checks)) {
    const std::string name = "CheckCatchesTheBug/" + case_name(c);
    const std::string shown = c.fixture + " vs " + c.check;  // as the parameter printed
    ::testing::RegisterTest("Suite/BrokenFixture", name.c_str(), nullptr, shown.c_str(), __FILE__,
                            __LINE__, [c]() -> ::testing::Test* { return new BrokenFixture(c); });
  }
}

// Every check in the catalogue names a broken server that must make it
// fail, and each it names exists: a check no fixture fails is a check that
// cannot fail.
TEST(Catalogue, EveryCheckHasABrokenFixture) {
  const Catalogue& listed = catalogue();
  ASSERT_TRUE(listed.problem.empty()) << listed.problem;
  ASSERT_FALSE(listed.checks.empty()) << "csd-suite --list-checks=json listed no check";
  for (const auto& check : listed.checks) {
    const std::string id = check.at("id").get<std::string>();
    ASSERT_TRUE(check.contains("proven_by")) << id << ": the catalogue has no \"proven_by\"";
    EXPECT_FALSE(check.at("proven_by").empty())
        << id << " (" << check.at("check").get<std::string>()
        << ") names no broken fixture that proves it can fail (CSD_CHECK's proven_by)";
    for (const auto& fixture : check.at("proven_by")) {
      const fs::path manifest = broken_manifest(fixture.get<std::string>());
      EXPECT_TRUE(fs::exists(manifest)) << id << " is proven by " << fixture.get<std::string>()
                                        << ", but " << manifest.string() << " is not there";
    }
  }
}

// "GarbageKeepsThePool" from "garbage-keeps-the-pool".
std::string camel_case(std::string_view words) {
  std::string camel;
  bool start = true;
  for (const char ch : words) {
    if (ch == '-') {
      start = true;
      continue;
    }
    camel += start ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch;
    start = false;
  }
  return camel;
}

// One name per check: a person who reads an ID in a report finds its gtest
// name and its file without a lookup. robust/garbage-keeps-the-pool is the
// test Impl/Robust.GarbageKeepsThePool/IMPLEMENTATION, in
// suite/tests/robust_test.cpp; a family too long for one file continues in
// PREFIX_SOMETHING_test.cpp (robust_when_full_test.cpp).
TEST(Catalogue, OneNamePerCheck) {
  const Catalogue& listed = catalogue();
  ASSERT_TRUE(listed.problem.empty()) << listed.problem;
  const fs::path root = fs::path(CSD_BROKEN_DIR).parent_path().parent_path();
  for (const auto& check : listed.checks) {
    const std::string id = check.at("id").get<std::string>();
    const auto slash = id.find('/');
    ASSERT_NE(slash, std::string::npos) << id << ": an ID is PREFIX/NAME";
    const std::string prefix = id.substr(0, slash);
    const std::string family = camel_case(prefix);
    EXPECT_EQ(check.at("gtest").get<std::string>(),
              "Impl/" + family + "." + camel_case(id.substr(slash + 1)))
        << id;
    const std::string file = check.at("file").get<std::string>();
    const std::regex in_its_family("suite/tests/" + prefix + "(_[a-z_]+)?_test\\.cpp");
    EXPECT_TRUE(std::regex_match(file, in_its_family)) << id << ": " << file;
    EXPECT_TRUE(fs::exists(root / file)) << id << ": " << (root / file).string();
  }
}

// A recommended check that fails is a warning: the run passes (exit 0)
// and says so, unless --strict.
TEST(Catalogue, ARecommendedCheckFailingWarnsUnlessStrict) {
  const fs::path manifest = fs::path(CSD_BROKEN_DIR) / "no-respawn.json";
  const std::string filter = "--gtest_filter=*Shape.PoolReplacesKilledWorker/*";
  const auto lenient =
      csd::harness::run_to_completion({CSD_SUITE_BINARY, "--impl", manifest.string(), filter}, 60s);
  EXPECT_EQ(lenient.exit_code, 0) << lenient.output;
  EXPECT_NE(lenient.output.find("WARNING: recommended check shape/pool-replaces-killed-worker"),
            std::string::npos)
      << lenient.output;
  const auto strict = csd::harness::run_to_completion(
      {CSD_SUITE_BINARY, "--strict", "--impl", manifest.string(), filter}, 60s);
  EXPECT_EQ(strict.exit_code, 1) << strict.output;
}

// Real servers nobody here wrote (fixtures/impls/third-party), validated as
// a new user would: the suite's verdicts on them, pinned.
csd::report::Summary run_third_party(const fs::path& manifest, int& exit_code) {
  const csd::harness::TempDir results("csd-selftest-third-party");
  const fs::path json = results.path() / "results.json";
  const auto run = csd::harness::run_to_completion(
      {CSD_SUITE_BINARY, "--impl", manifest.string(), "--gtest_output=json:" + json.string()},
      240s);
  exit_code = run.exit_code.value_or(-1);
  EXPECT_TRUE(fs::exists(json)) << run.output;
  return fs::exists(json) ? read_report(json) : csd::report::Summary{};
}

// socat forks a cat per connection: every echo check passes.
TEST(ThirdParty, SocatPassesEveryCheckThatApplies) {
  if (!csd::harness::find_in_path("socat"))
    GTEST_SKIP() << "socat is not installed (ci/install-deps.sh installs it)";
  int exit_code = 0;
  const auto summary = run_third_party(fs::path(CSD_THIRD_PARTY_DIR) / "socat.json", exit_code);
  EXPECT_EQ(exit_code, 0) << failed_checks(summary);
  EXPECT_GT(summary.total().passed, 5);
}

// ncat -k --sh-exec cat closes a connection as soon as the client
// half-closes, before its cat has echoed what it read: the checks whose
// client half-closes fail, the one whose client waits for its echo passes.
TEST(ThirdParty, NcatFailsWhereItStopsAtTheHalfClose) {
  if (!csd::harness::find_in_path("ncat"))
    GTEST_SKIP() << "ncat is not installed (ci/install-deps.sh installs it)";
  int exit_code = 0;
  const auto summary = run_third_party(fs::path(CSD_THIRD_PARTY_DIR) / "ncat.json", exit_code);
  EXPECT_EQ(exit_code, 1);
  const auto failed = [&](const std::string& id) {
    return std::any_of(summary.failures.begin(), summary.failures.end(),
                       [&](const auto& f) { return f.check_id == id; });
  };
  EXPECT_TRUE(failed("echo/small-round-trip")) << failed_checks(summary);
  EXPECT_FALSE(failed("echo/round-trip-before-close")) << failed_checks(summary);
}

// A server in another language with one deliberate bug (fixtures/other-language):
// the suite names that bug's check, and nothing else.
TEST(OtherLanguage, PythonForkServerFailsOnlyTheCheckOfItsBug) {
  if (!csd::harness::find_in_path("python3"))
    GTEST_SKIP() << "python3 is not installed (ci/install-deps.sh installs it)";
  int exit_code = 0;
  const auto summary = run_third_party(
      fs::path(CSD_BROKEN_DIR).parent_path() / "other-language" / "fork-server.json", exit_code);
  EXPECT_EQ(exit_code, 1);
  ASSERT_EQ(summary.failures.size(), 1U) << failed_checks(summary);
  EXPECT_EQ(summary.failures[0].check_id, "size/split-request") << failed_checks(summary);
  EXPECT_GT(summary.total().passed, 10);
}

// A mistyped flag is a usage error (exit 2, saying which), before any check
// runs: googletest alone would ignore it and run all of them.
TEST(SuiteUsage, UnknownArgumentsAreRefusedBeforeAnythingRuns) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"--bogus", "unknown argument --bogus"},
      {"--gtest_filtr=Size.*", "unknown googletest flag --gtest_filtr=Size.*"},
      {"stray", "unknown argument stray"},
      {"--demo=csd-nothing=/bin/true", "NAME one of the demos"},
  };
  for (const auto& [argument, message] : cases) {
    const auto run = csd::harness::run_to_completion({CSD_SUITE_BINARY, argument}, 30s);
    EXPECT_EQ(run.exit_code, 2) << argument << ":\n" << run.output;
    EXPECT_NE(run.output.find(message), std::string::npos) << argument << ":\n" << run.output;
    EXPECT_EQ(run.output.find("[ RUN      ]"), std::string::npos) << argument << ": checks ran";
  }
}

// A design that needs a kernel feature the kernel lacks: every check of it
// is skipped, saying which feature and why, the report's environment says
// the feature is absent, and the run passes. This kernel has them all, so
// the test pretends it does not (CSD_PRETEND_MISSING, for tests only).
TEST(KernelFeatures, ChecksOfADesignSkipWhereItsFeatureIsMissing) {
  const fs::path impls = fs::path(CSD_BROKEN_DIR).parent_path() / "impls";
  const csd::harness::TempDir results("csd-selftest-pretend-missing");
  const fs::path json = results.path() / "results.json";
  // env(1): run_to_completion passes its own environment on, and no other.
  const auto run = csd::harness::run_to_completion(
      {"env", "CSD_PRETEND_MISSING=SO_REUSEPORT,EPOLLEXCLUSIVE", CSD_SUITE_BINARY, "--impl",
       (impls / "reuseport.json").string(), "--impl",
       (impls / "prefork-epoll-exclusive.json").string(), "--gtest_output=json:" + json.string()},
      120s);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  ASSERT_TRUE(fs::exists(json)) << run.output;
  const csd::report::Summary summary = read_report(json);
  const csd::report::Tally outcome = summary.total();
  EXPECT_GT(outcome.skipped, 10) << run.output;
  EXPECT_EQ(outcome.passed + outcome.failed + outcome.warned, 0) << failed_checks(summary);
  const std::string pretended = "CSD_PRETEND_MISSING pretends is absent (a setting for tests only)";
  for (const auto& test : summary.tests) {
    const std::string feature =
        test.implementation.starts_with("csd-reuseport") ? "SO_REUSEPORT" : "EPOLLEXCLUSIVE";
    EXPECT_EQ(test.reason, fmt::format("needs {}, which {}", feature, pretended))
        << test.implementation << " " << test.check;
  }
  const auto& environment = summary.environment;
  const auto recorded = [&](const std::string& key) {
    const auto found = std::find_if(environment.begin(), environment.end(),
                                    [&](const auto& fact) { return fact.first == key; });
    return found == environment.end() ? std::string("(not recorded)") : found->second;
  };
  EXPECT_EQ(recorded("feature_so_reuseport"), "no: " + pretended);
  EXPECT_EQ(recorded("feature_epollexclusive"), "no: " + pretended);
  EXPECT_EQ(recorded("feature_netns"), "yes") << "this machine has network namespaces";
}

// A name that is no feature would pretend nothing: refused, before any check runs.
TEST(KernelFeatures, PretendingAnUnknownFeatureIsAUsageError) {
  const auto run = csd::harness::run_to_completion(
      {"env", "CSD_PRETEND_MISSING=SO_REUSEPORT,NO_SUCH_THING", CSD_SUITE_BINARY}, 30s);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("NO_SUCH_THING is no kernel feature"), std::string::npos) << run.output;
}

}  // namespace

const nlohmann::json& csd::selftest::catalogue_checks() { return catalogue().checks; }

// csd-selftest's own main(): the tests of the catalogue's checks can only be
// registered once the catalogue is read, from csd-suite, which takes well
// under a second. ctest lists them by running csd-selftest
// --gtest_list_tests at test time (gtest_discover_tests' PRE_TEST, with a
// DISCOVERY_TIMEOUT that allows for a loaded machine, in CMakeLists.txt):
// at build time csd-suite may not be linked yet, and the list would go stale
// whenever a check's proven_by changes without csd-selftest being rebuilt.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  catalogue() = list_catalogue();
  register_broken_fixture_cases(catalogue().checks);
  return RUN_ALL_TESTS();
}
