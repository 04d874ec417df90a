// csd-report's runs made of parts, run for real on a broken fixture, a
// reference server and the size/* checks. Verify for the sequences: --jobs 2 -> the verdicts of
// --jobs 1, in its order; --shard 1/3, 2/3, 3/3, then --merge of the three ->
// the verdicts of one run; --merge of a folder twice, or of folders of two
// csd versions -> refused, exit 2; a csd-suite SIGKILLed in a test -> that
// test failed with its last words, every other verdict as in a serial run,
// exit 3; --baseline of the serial run's report.json -> exit 0, of one of its
// failures only -> exit 1 with the others listed as new, over one of the two
// servers -> the other's tests listed as not run, exit 0; --repeat 2 on a
// server broken at every other start -> its test flaky, exit 1 (0 with
// --allow-flaky).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "files.hpp"
#include "run.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using csd::selftest::contents;

// What must not change between a serial run and one made of parts: each
// test and its verdict, in order.
using Verdicts = std::vector<std::tuple<std::string, std::string, std::string, std::string>>;

Verdicts verdicts_in(const fs::path& dir) {
  const auto report = nlohmann::json::parse(contents(dir / "report.json"));
  Verdicts verdicts;
  for (const auto& result : report.at("results"))
    verdicts.emplace_back(result.at("implementation"), result.at("id"), result.at("check"),
                          result.at("verdict"));
  return verdicts;
}

std::string listed(const Verdicts& verdicts) {
  std::string text;
  for (const auto& [implementation, id, check, verdict] : verdicts)
    text.append(implementation).append(" ").append(id).append(" ").append(verdict).append("\n");
  return text;
}

// A broken server, which fails every size/* check, and a reference one
// (on 127.0.0.1 and ::1), which passes them: a lost or swapped verdict shows.
std::vector<std::string> inputs() {
  return {std::string(CSD_BROKEN_DIR) + "/short-reply.json",
          std::string(CSD_BROKEN_DIR) + "/../impls/fork.json", "--checks", "size/*"};
}

csd::harness::RunResult report(std::vector<std::string> args) {
  args.insert(args.begin(), CSD_REPORT_BINARY);
  return csd::harness::run_to_completion(args, 300s);
}

class ReportJobs : public ::testing::Test {
 protected:
  // The serial run every other is compared with, made once.
  static void SetUpTestSuite() {
    serial_dir_.emplace("csd-selftest-serial");
    auto args = inputs();
    args.insert(args.end(), {"--jobs", "1", "-o", serial_dir_->path().string()});
    const auto run = report(args);
    ASSERT_EQ(run.exit_code, 1) << run.output;
    serial_ = verdicts_in(serial_dir_->path());
  }
  static void TearDownTestSuite() { serial_dir_.reset(); }

  void SetUp() override {
    ASSERT_FALSE(serial_.empty()) << "the serial run made no results";
    bool passed = false;
    bool failed = false;
    for (const auto& result : serial_) {
      passed = passed || std::get<3>(result) == "pass";
      failed = failed || std::get<3>(result) == "fail";
    }
    ASSERT_TRUE(passed && failed) << "the comparison needs passes and failures:\n"
                                  << listed(serial_);
  }

  static inline std::optional<csd::harness::TempDir> serial_dir_;
  static inline Verdicts serial_;
};

TEST_F(ReportJobs, SideBySideGivesTheSerialVerdictsInItsOrder) {
  const csd::harness::TempDir out("csd-selftest-jobs");
  auto args = inputs();
  args.insert(args.end(), {"--jobs", "2", "-o", out.path().string()});
  const auto run = report(args);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_EQ(listed(verdicts_in(out.path())), listed(serial_)) << run.output;
  for (const char* file :
       {"report.json", "junit.xml", "report.html", "suite.json", "suite.log", "run.json"})
    EXPECT_TRUE(fs::exists(out.path() / file)) << file << " missing:\n" << run.output;
  // Nothing of the parts is left: their JSON and logs are merged.
  for (const auto& entry : fs::directory_iterator(out.path()))
    EXPECT_FALSE(entry.path().filename().string().starts_with("suite.batch-")) << entry.path();
}

TEST_F(ReportJobs, ThreeShardsMergedGiveOneRunsVerdicts) {
  const csd::harness::TempDir dir("csd-selftest-shards");
  std::vector<std::string> merge_args{"--merge"};
  std::size_t tests_in_shards = 0;
  for (const char* shard : {"1/3", "2/3", "3/3"}) {
    const fs::path part = dir.path() / (std::string("shard-") + shard[0]);
    auto args = inputs();
    args.insert(args.end(), {"--shard", shard, "-o", part.string()});
    const auto run = report(args);
    EXPECT_TRUE(run.exit_code == 0 || run.exit_code == 1) << shard << ":\n" << run.output;
    tests_in_shards += verdicts_in(part).size();
    merge_args.push_back(part.string());
  }
  EXPECT_EQ(tests_in_shards, serial_.size()) << "every test in exactly one shard";
  const fs::path merged = dir.path() / "merged";
  merge_args.insert(merge_args.end(), {"-o", merged.string()});
  const auto run = report(merge_args);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_EQ(listed(verdicts_in(merged)), listed(serial_)) << run.output;
  EXPECT_NE(run.output.find("all 2 implementations"), std::string::npos) << run.output;

  // The same shard twice: a pair present twice.
  const auto twice =
      report({"--merge", merge_args[1], merge_args[1], "-o", (dir.path() / "twice").string()});
  EXPECT_EQ(twice.exit_code, 2) << twice.output;
  EXPECT_NE(twice.output.find("is in both"), std::string::npos) << twice.output;
  EXPECT_FALSE(fs::exists(dir.path() / "twice" / "report.json"));

  // A shard of another csd version.
  const fs::path other = dir.path() / "other-version";
  fs::copy(merge_args[2], other);
  auto report_json = nlohmann::json::parse(contents(other / "report.json"));
  report_json["environment"]["csd"] = "0.0.0-other (Debug, GCC 1.0)";
  std::ofstream(other / "report.json") << report_json.dump(2);
  const auto mixed =
      report({"--merge", merge_args[1], other.string(), "-o", (dir.path() / "mixed").string()});
  EXPECT_EQ(mixed.exit_code, 2) << mixed.output;
  EXPECT_NE(mixed.output.find("csd 0.0.0-other"), std::string::npos) << mixed.output;
}

// A csd-suite killed (SIGKILL) as it starts one test: that test is failed
// with the reason, the rest of its batch runs again, and the run goes on.
TEST_F(ReportJobs, ACsdSuiteThatDiesLosesOnlyItsTest) {
  const csd::harness::TempDir dir("csd-selftest-dies");
  // The second test of the run, in the first batch with the first (of the
  // 12 tests with 2 jobs, the first batch takes 2): the first one's result
  // dies with the process, and comes back only if the batch runs again.
  const std::string victim = "Impl/Size.SmallRepliesExact/csd_fork";
  const fs::path wrapper = dir.path() / "csd-suite";
  // A stand-in for csd-suite: the real one, killed with this script the
  // first time it starts `victim` (a marker file says it happened).
  std::ofstream(wrapper) << "#!/bin/sh\n"
                         << "case \"$*\" in *--gtest_output*) ;; *) exec " << CSD_SUITE_BINARY
                         << " \"$@\";; esac\n"
                         // One pipe per instance: csd-report runs two at once.
                         << "fifo=" << (dir.path() / "fifo").string() << ".$$\n"
                         << "mkfifo $fifo\n"
                         << CSD_SUITE_BINARY << " \"$@\" >$fifo 2>&1 &\n"
                         << "while IFS= read -r line; do\n"
                         << "  printf '%s\\n' \"$line\"\n"
                         << "  if [ \"$line\" = '[ RUN      ] " << victim << "' ] && "
                         << "[ ! -e " << (dir.path() / "killed").string() << " ]; then\n"
                         << "    echo 'the stand-in kills it now'; : >"
                         << (dir.path() / "killed").string() << "\n"
                         << "    kill -9 $!; kill -9 $$\n"
                         << "  fi\n"
                         << "done <$fifo\n"
                         << "wait $!; status=$?; rm -f $fifo; exit $status\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  auto args = inputs();
  const fs::path out = dir.path() / "results";
  args.insert(args.end(), {"--jobs", "2", "--suite", wrapper.string(), "-o", out.string()});
  const auto run = report(args);
  EXPECT_EQ(run.exit_code, 3) << run.output;
  ASSERT_TRUE(fs::exists(dir.path() / "killed")) << "the stand-in never met " << victim;
  const auto report_json = nlohmann::json::parse(contents(out / "report.json"));
  Verdicts expected = serial_;
  for (auto& [implementation, id, check, verdict] : expected) {
    if (implementation == "csd-fork" && id == "size/small-replies-exact")
      verdict = "fail";
  }
  EXPECT_EQ(listed(verdicts_in(out)), listed(expected)) << run.output;
  bool found = false;
  for (const auto& result : report_json.at("results")) {
    if (result.at("implementation") != "csd-fork" || result.at("id") != "size/small-replies-exact")
      continue;
    found = true;
    EXPECT_EQ(result.value("unfinished", false), true) << result.dump(2);
    EXPECT_NE(result.value("reason", "").find("killed by signal 9"), std::string::npos)
        << result.dump(2);
    EXPECT_NE(result.value("reason", "").find("the stand-in kills it now"), std::string::npos)
        << result.dump(2);
  }
  EXPECT_TRUE(found) << report_json.dump(2);
}

}  // namespace

namespace {

// --baseline: the serial run's own report.json expects every failure it
// has; a baseline that expects one of them only meets new ones.
TEST_F(ReportJobs, ABaselineFailsTheRunOnlyForANewFailure) {
  const csd::harness::TempDir dir("csd-selftest-baseline");
  const std::string suite_json = (serial_dir_->path() / "suite.json").string();
  const std::string full = (serial_dir_->path() / "report.json").string();
  const auto known = report({"--from", suite_json, "--baseline", full});
  EXPECT_EQ(known.exit_code, 0) << known.output;
  EXPECT_NE(known.output.find(": 0 new failures,"), std::string::npos) << known.output;

  // One expected failure of the serial run's; its other failures are new.
  std::string expected_id;
  std::string expected_implementation;
  int failures = 0;
  for (const auto& [implementation, id, check, verdict] : serial_) {
    if (verdict != "fail")
      continue;
    ++failures;
    if (expected_id.empty()) {
      expected_id = id;
      expected_implementation = implementation;
    }
  }
  ASSERT_GE(failures, 2) << listed(serial_);
  const fs::path small = dir.path() / "known.json";
  std::ofstream(small) << nlohmann::json{{"format", "csd-baseline/1"},
                                         {"expected",
                                          {{expected_implementation, {{expected_id, "fail"}}}}}}
                              .dump(2);
  const auto one_new = report({"--from", suite_json, "--baseline", small.string()});
  EXPECT_EQ(one_new.exit_code, 1) << one_new.output;
  EXPECT_NE(one_new.output.find(std::to_string(failures - 1) + " new failure"), std::string::npos)
      << one_new.output;
  EXPECT_NE(one_new.output.find("NEW FAILURE  "), std::string::npos) << one_new.output;

  // A real run over one implementation of the two: the other's are not
  // run, and do not fail it.
  const auto subset =
      report({std::string(CSD_BROKEN_DIR) + "/short-reply.json", "--checks", "size/*", "--baseline",
              full, "-o", (dir.path() / "subset").string()});
  EXPECT_EQ(subset.exit_code, 0) << subset.output;
  EXPECT_NE(subset.output.find("NOT RUN      csd-fork "), std::string::npos) << subset.output;
}

// --repeat 2 on a server that is broken at every other start: its test
// fails once in two runs, and is flaky in every output.
TEST(ReportRepeat, AVerdictThatChangesIsFlaky) {
  const csd::harness::TempDir dir("csd-selftest-flaky");
  const fs::path bin = fs::path(CSD_SUITE_BINARY).parent_path();
  const fs::path state = dir.path() / "started-broken";
  const fs::path manifest = dir.path() / "flaky.json";
  const std::string script = "if [ -e \"$0\" ]; then rm \"$0\"; exec " +
                             (bin / "csd-fork").string() +
                             " -i \"$1\" -p \"$2\"; else : >\"$0\"; exec " +
                             (bin / "csd-broken-short-reply").string() + " -i \"$1\" -p \"$2\"; fi";
  std::ofstream(manifest) << nlohmann::json{
      {"name", "broken-every-other-start"},
      {"command", {"/bin/sh", "-c", script, state.string(), "{host}", "{port}"}},
      {"protocol", "size"},
      {"model", "fork"}}.dump(2);
  const fs::path out = dir.path() / "results";
  const std::vector<std::string> args{manifest.string(), "--checks", "size/small-replies-exact",
                                      "--repeat",        "2",        "-o",
                                      out.string()};
  const auto run = report(args);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("FLAKY   broken-every-other-start size/small-replies-exact"),
            std::string::npos)
      << run.output;
  const auto report_json = nlohmann::json::parse(contents(out / "report.json"));
  ASSERT_EQ(report_json.at("results").size(), 1U) << report_json.dump(2);
  const auto& result = report_json["results"][0];
  EXPECT_EQ(result.at("verdict"), "flaky") << result.dump(2);
  EXPECT_EQ(result.at("repeats"), (nlohmann::json{{"runs", 2}, {"failed", 1}})) << result.dump(2);
  EXPECT_NE(result.value("reason", "").find("1 of 2 failed"), std::string::npos) << result.dump(2);
  EXPECT_EQ(report_json.at("totals").at("flaky"), 1);
  EXPECT_NE(contents(out / "junit.xml").find("type=\"flaky\""), std::string::npos);
  EXPECT_NE(contents(out / "report.html").find("1 of 2 failed"), std::string::npos);

  auto allowed = args;
  allowed.emplace_back("--allow-flaky");
  const auto allowed_run = report(allowed);
  EXPECT_EQ(allowed_run.exit_code, 0) << allowed_run.output;
}

}  // namespace
