// csd-selftest: the suite tested against deliberately broken servers. Each
// fixture in fixtures/broken has one bug; the check meant to see it must
// fail on it (and fail as a check, not as a crash or a bad manifest). A check
// that no broken server makes fail is a check that cannot fail.
#include <fnmatch.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "capture.hpp"
#include "run.hpp"
#include "summary.hpp"
#include "temp_dir.hpp"

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

void PrintTo(const Case& c, std::ostream* os) { *os << c.fixture << " vs " << c.check; }

const Case kCases[] = {
    {"short-reply", "*Reply.SmallRepliesAreExact/*"},
    {"long-reply", "*Reply.SmallRepliesAreExact/*"},
    {"single-recv", "*Reply.RequestSplitByteByByte/*"},
    {"newline-only", "*Reply.BareNumberLikeClientPy/*"},
    {"dies-on-garbage", "*Robustness.GarbageRequestClosesOnlyThatConnection/*"},
    {"no-limit", "*Robustness.OverLimitRequestClosesOnlyThatConnection/*"},
    {"no-reap", "*Lifecycle.NoZombiesAfter200Connections/*"},
    {"fd-leak", "*Lifecycle.DescriptorCountStableOver500Connections/*"},
    {"orphans", "*Lifecycle.SigtermStopsWholeTreeWithinOneSecond/*"},
    {"ignores-sigterm", "*Lifecycle.SigtermStopsWholeTreeWithinOneSecond/*"},
    {"lazy-pool", "*Distribution.EveryWorkerAccepts/*"},
    {"miscount", "*Distribution.ReportedCountsMatchObserved/*"},
    {"echo-no-halfclose", "*Echo.SmallRoundTripThenCloseOnHalfClose/*"},
    {"echo-truncates", "*Echo.LargePayloadComesBackWhole/*"},
    {"select-blocking-write", "*Concurrency.SlowReaderDoesNotStallOthers/*"},
    {"no-reap", "*ResourceShape.PerClientWorkersGoAwayAfterClientsLeave/*"},
    {"thread-leak", "*ResourceShape.PerClientWorkersGoAwayAfterClientsLeave/*"},
    {"extra-worker", "*ResourceShape.PoolKeepsExactlyItsWorkers/*"},
    {"no-respawn", "*ResourceShape.ProcessPoolReplacesAKilledWorker/*"},
    {"herd-pool", "*WakeUps.PerAcceptMatchesTheDeclaredWakeup/*"},
    {"herd-claimed", "*WakeUps.PerAcceptMatchesTheDeclaredWakeup/*"},
    {"fifo-claimed", "*Distribution.OneClientAtATimeFollowsTheDeclaredWakeup/*"},
    {"lifo-claimed", "*Distribution.OneClientAtATimeFollowsTheDeclaredWakeup/*"},
    {"lazy-thread-pool", "*Distribution.EveryPoolThreadServes/*"},
    {"concurrent-iterative", "*Concurrency.SilentClientDoesNotBlockOthers/*"},
    // A correct server that prints nothing: the harness must still launch it
    // (ready by its listening port), and the checks must pass.
    {"no-ready-line", "*Reply.*:*Lifecycle.*", false},
    {"drops-when-busy", "*Reply.TenClientsTimesHundredConnections/*"},
    {"drops-when-busy-echo", "*Echo.TenClientsTimesHundredConnections/*"},
    {"negative-as-size", "*Robustness.NegativeRequestClosesOnlyThatConnection/*"},
    {"caps-large-reply", "*Reply.ThreeMegabyteReplyIsExact/*"},
    {"echo-waits-for-eof", "*Echo.RoundTripBeforeClose/*"},
    {"rst-after-reply", "*Close.ServerClosesWithFinNotRst/*"},
    {"dies-on-reset", "*Close.ClientResetMidReplyLeavesServerServing/*"},
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
    {"drops-on-half-close", "*Hostile.HalfCloseAfterRequestGetsWholeReply/*"},
    {"drops-on-half-close-echo", "*Hostile.HalfCloseAfterRequestGetsWholeReply/*"},
    {"select-blocking-read", "*Hostile.DripFedRequestDoesNotStallOthers/*"},
    {"pool-dies-on-garbage", "*Hostile.GarbageKeepsThePool/*"},
    {"dies-on-garbage", "*Hostile.GarbageKeepsThePool/*"},
    {"select-echo-to-the-end", "*Hostile.PartialRequestThenSilenceDoesNotStallOthers/*"},
};

// Whether googletest's --gtest_filter `filter` ("A*:B*-C*") selects `test`.
bool filter_matches(const std::string& filter, const std::string& test) {
  const auto dash = filter.find('-');
  const auto any_of = [&](const std::string& patterns) {
    std::size_t start = 0;
    while (start <= patterns.size()) {
      const auto end = std::min(patterns.find(':', start), patterns.size());
      if (::fnmatch(patterns.substr(start, end - start).c_str(), test.c_str(), 0) == 0)
        return true;
      start = end + 1;
    }
    return false;
  };
  return any_of(filter.substr(0, dash)) &&
         (dash == std::string::npos || !any_of(filter.substr(dash + 1)));
}

// What csd-suite's gtest JSON says, read the way csd-report reads it.
csd::report::Summary read_report(const fs::path& file) {
  std::ifstream in(file);
  csd::report::Summary summary;
  csd::report::add_results(nlohmann::json::parse(in), summary, file.parent_path());
  return summary;
}

// "Reply.SmallRepliesAreExact (asked for 1 bytes, got 0 ...)" for each failure.
std::string failed_checks(const csd::report::Summary& summary) {
  std::string names;
  for (const auto& f : summary.failures) names += "\n  " + f.check + " (" + f.reason + ")";
  return names;
}

class BrokenFixture : public ::testing::TestWithParam<Case> {};

TEST_P(BrokenFixture, CheckCatchesTheBug) {
  const Case& c = GetParam();
  const fs::path manifest = fs::path(CSD_BROKEN_DIR) / (c.fixture + ".json");
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
  // Evidence: each capture a failure names is there and readable; a passing
  // check left none.
  for (const auto& failure : summary.failures) {
    if (failure.capture.empty())
      continue;
    EXPECT_EQ(fs::path(failure.capture).parent_path(), results.path()) << failure.check;
    EXPECT_NO_THROW(csd::harness::read_pcap_file(failure.capture)) << failure.check;
  }
  std::size_t pcaps = 0;
  for (const auto& entry : fs::directory_iterator(results.path()))
    pcaps += entry.path().extension() == ".pcap" ? 1 : 0;
  const auto named = std::count_if(summary.failures.begin(), summary.failures.end(),
                                   [](const auto& f) { return !f.capture.empty(); });
  EXPECT_EQ(pcaps, static_cast<std::size_t>(named)) << "a .pcap no failure names was left behind";
  const csd::report::Tally outcome = summary.total();
  const int ran = outcome.passed + outcome.failed + outcome.warned + outcome.skipped;

  ASSERT_GT(ran, 0) << "no test matched " << c.check;
  EXPECT_LT(outcome.skipped, ran) << "every matching check was skipped for " << c.fixture;
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
std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string check;
  for (const char ch : info.param.check) {
    if (ch != '*' && ch != '/')
      check += ch;
  }
  std::string name = info.param.fixture + "__" + check;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)))
      ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Suite, BrokenFixture, ::testing::ValuesIn(kCases), CaseName);

// Every check in the catalogue has a broken server in kCases that must make
// it fail: a check no fixture fails is a check that cannot fail.
TEST(Catalogue, EveryCheckHasABrokenFixture) {
  const auto run = csd::harness::run_to_completion({CSD_SUITE_BINARY, "--list-checks=json"}, 30s);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto catalogue = nlohmann::json::parse(run.output);
  ASSERT_FALSE(catalogue.empty());
  for (const auto& check : catalogue) {
    // The name one of its tests has: Impl/Reply.SmallRepliesAreExact/x.
    const std::string test = "Impl/" + check.at("check").get<std::string>() + "/x";
    const bool caught = std::any_of(std::begin(kCases), std::end(kCases), [&](const Case& c) {
      return c.must_fail && c.demo.empty() && filter_matches(c.check, test);
    });
    EXPECT_TRUE(caught) << check.at("id").get<std::string>() << " (" << test
                        << ") has no broken fixture in kCases";
  }
}

// A recommended check that fails is a warning: the run passes (exit 0)
// and says so, unless --strict.
TEST(Catalogue, ARecommendedCheckFailingWarnsUnlessStrict) {
  const fs::path manifest = fs::path(CSD_BROKEN_DIR) / "no-respawn.json";
  const std::string filter = "--gtest_filter=*ResourceShape.ProcessPoolReplacesAKilledWorker/*";
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
  // Its one bug, seen by the two checks that send a request in pieces.
  std::vector<std::string> failed;
  for (const auto& f : summary.failures) failed.push_back(f.check_id);
  std::sort(failed.begin(), failed.end());
  EXPECT_EQ(failed,
            (std::vector<std::string>{"concurrency/drip-fed-request", "size/split-request"}))
      << failed_checks(summary);
  EXPECT_GT(summary.total().passed, 10);
}

// A mistyped flag is a usage error (exit 2, saying which), before any check
// runs: googletest alone would ignore it and run all of them.
TEST(SuiteUsage, UnknownArgumentsAreRefusedBeforeAnythingRuns) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"--bogus", "unknown argument --bogus"},
      {"--gtest_filtr=Reply.*", "unknown googletest flag --gtest_filtr=Reply.*"},
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

}  // namespace
