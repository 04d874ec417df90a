// The lines under a failure that reproduce it, run for real. Verify for the
// sequences: csd-report on a broken fixture (its manifest in a folder with a
// space in its name) -> its failure's line from report.json, run by sh,
// runs that one test and fails it with the same reason; the same under
// csd-report --network 'loss 1%' (as root, with nft) -> the line carries the
// condition, and its run drops by it; csd-report --rerun-failed of a run
// with failures and passes -> exactly the failed pairs run again, exit 1
// while they fail, exit 0 once the server is fixed, exit 2 for a folder
// with no report or a manifest gone; each by-hand line of the catalogue ->
// fails on the broken servers that prove its check, passes on a reference
// server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "budgets.hpp"
#include "files.hpp"
#include "manifest.hpp"
#include "rerun.hpp"
#include "run.hpp"
#include "server_process.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using csd::selftest::contents;

csd::harness::RunResult report(std::vector<std::string> args) {
  args.insert(args.begin(), CSD_REPORT_BINARY);
  return csd::harness::run_to_completion(args, 300s);
}

nlohmann::json report_json(const fs::path& dir) {
  return nlohmann::json::parse(contents(dir / "report.json"));
}

// The first `count` words of `text`.
std::string first_words(const std::string& text, int count) {
  std::istringstream in(text);
  std::string words;
  std::string word;
  for (int i = 0; i < count && in >> word; ++i) words += (words.empty() ? "" : " ") + word;
  return words;
}

// fixtures/broken/short-reply.json copied into a folder whose name has a
// space: the line must quote the path to find it.
fs::path short_reply_in(const fs::path& dir) {
  fs::path copy = dir / "my servers" / "short reply.json";
  fs::create_directories(copy.parent_path());
  fs::copy_file(fs::path(CSD_BROKEN_DIR) / "short-reply.json", copy);
  return copy;
}

// The one result of `dir`'s report.json, checked to be the failure of
// size/small-replies-exact on broken-short-reply with a reproduce line.
nlohmann::json the_failure(const fs::path& dir) {
  const auto json = report_json(dir);
  const auto& results = json.at("results");
  if (results.size() != 1 || results[0].value("verdict", "") != "fail" ||
      !results[0].contains("reproduce"))
    throw std::runtime_error("expected one failure with a reproduce line:\n" + json.dump(2));
  return results[0];
}

// What sh makes of the line: one test run, that test failed, the reason's
// first words in its output, exit status 1.
void expect_the_same_failure(const nlohmann::json& failure, const csd::harness::RunResult& run) {
  const std::string test = failure.at("test");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("[  FAILED  ] " + test), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("1 test from 1 test suite ran"), std::string::npos) << run.output;
  const std::string reason = failure.at("reason");
  EXPECT_NE(run.output.find(first_words(reason, 5)), std::string::npos)
      << "the reason was: " << reason << "\nthe rerun printed:\n"
      << run.output;
}

TEST(Reproduce, AFailuresLineRerunsItAloneAndItFailsTheSameWay) {
  const csd::harness::TempDir dir("csd-selftest-reproduce");
  const fs::path manifest = short_reply_in(dir.path());
  const fs::path out = dir.path() / "results";
  const auto run = report({"-o", out.string(), "--jobs", "1", "--checks",
                           "size/small-replies-exact", manifest.string()});
  ASSERT_EQ(run.exit_code, 1) << run.output;
  const auto failure = the_failure(out);
  const std::string line = failure.at("reproduce");
  EXPECT_EQ(line, csd::harness::shell_quoted(fs::path(CSD_SUITE_BINARY).string()) + " --impl " +
                      csd::harness::shell_quoted(manifest.string()) +
                      " --gtest_filter='Impl/Size.SmallRepliesExact/broken_short_reply'");
  // The summary shows the same line under the failure.
  EXPECT_NE(run.output.find("\n        rerun: " + line + "\n"), std::string::npos) << run.output;
  // Pasted anywhere: from another directory, where a capture's evidence may land.
  const fs::path elsewhere = dir.path() / "elsewhere";
  fs::create_directories(elsewhere);
  const auto again = csd::harness::run_to_completion(
      {"/bin/sh", "-c", "cd " + csd::harness::shell_quoted(elsewhere.string()) + " && " + line},
      120s);
  expect_the_same_failure(failure, again);
}

bool running_as_root() { return ::geteuid() == 0; }

TEST(Reproduce, TheLineCarriesTheRunsNetworkCondition) {
  if (!running_as_root())
    GTEST_SKIP() << "csd-suite --network needs root (it unshares a network namespace)";
  if (!csd::harness::find_in_path("nft"))
    GTEST_SKIP() << "csd-suite --network 'loss 1%' needs nft (nftables), not in $PATH";
  const csd::harness::TempDir dir("csd-selftest-reproduce-network");
  const fs::path manifest = short_reply_in(dir.path());
  const fs::path out = dir.path() / "results";
  const auto run = report({"-o", out.string(), "--jobs", "1", "--network", "loss 1%", "--checks",
                           "size/small-replies-exact", manifest.string()});
  ASSERT_EQ(run.exit_code, 1) << run.output;
  const auto failure = the_failure(out);
  const std::string line = failure.at("reproduce");
  EXPECT_NE(line.find(" --network 'loss 1%' "), std::string::npos) << line;
  const auto again = csd::harness::run_to_completion({"/bin/sh", "-c", line}, 120s);
  expect_the_same_failure(failure, again);
  // The rerun ran under the condition: its loss rule's counter, read at its end.
  EXPECT_NE(again.output.find("csd-suite: network: "), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("packets dropped by the loss rule"), std::string::npos)
      << again.output;
}

using Pairs = std::set<std::tuple<std::string, std::string, std::string>>;

// (implementation, check ID, verdict) of every result in `dir`, or only
// those that failed, warned or were flaky.
Pairs pairs_in(const fs::path& dir, bool failed_only) {
  Pairs pairs;
  const auto json = report_json(dir);
  for (const auto& result : json.at("results")) {
    const std::string verdict = result.at("verdict");
    if (!failed_only || verdict == "fail" || verdict == "warn" || verdict == "flaky")
      pairs.emplace(result.at("implementation"), result.at("id"), verdict);
  }
  return pairs;
}

std::string listed(const Pairs& pairs) {
  std::string text;
  for (const auto& [implementation, id, verdict] : pairs)
    text.append(implementation).append(" ").append(id).append(" ").append(verdict).append("\n");
  return text;
}

// A server that fails some size/* checks, beside a reference server that
// passes them all: the rerun takes the first's failures only.
TEST(RerunFailed, RerunsExactlyTheFailedPairs) {
  const csd::harness::TempDir dir("csd-selftest-rerun-failed");
  const fs::path manifest = dir.path() / "my-server.json";
  fs::copy_file(fs::path(CSD_BROKEN_DIR) / "short-reply.json", manifest);
  const fs::path first = dir.path() / "first";
  const auto run = report({"-o", first.string(), "--checks", "size/*", manifest.string(),
                           std::string(CSD_BROKEN_DIR) + "/../impls/fork.json"});
  ASSERT_EQ(run.exit_code, 1) << run.output;
  const Pairs failed = pairs_in(first, true);
  const Pairs all = pairs_in(first, false);
  ASSERT_GE(failed.size(), 2U) << listed(all);
  ASSERT_GT(all.size(), failed.size()) << "the run needs passes too:\n" << listed(all);

  const fs::path again = dir.path() / "again";
  const auto rerun = report({"--rerun-failed", first.string(), "-o", again.string()});
  EXPECT_EQ(rerun.exit_code, 1) << rerun.output;
  EXPECT_NE(rerun.output.find("rerunning " + std::to_string(failed.size()) + " test(s)"),
            std::string::npos)
      << rerun.output;
  EXPECT_EQ(listed(pairs_in(again, false)), listed(failed)) << rerun.output;

  // Fixed: the same manifest, now the reference server's command.
  auto fixed = nlohmann::json::parse(contents(manifest));
  fixed["command"] = {"csd-fork", "-i", "{host}", "-p", "{port}"};
  std::ofstream(manifest) << fixed.dump();
  const fs::path now = dir.path() / "now";
  const auto passing = report({"--rerun-failed", first.string(), "-o", now.string()});
  EXPECT_EQ(passing.exit_code, 0) << passing.output;
  const Pairs after = pairs_in(now, false);
  EXPECT_EQ(after.size(), failed.size()) << listed(after);
  EXPECT_TRUE(pairs_in(now, true).empty()) << listed(after);

  // A manifest gone, a folder with no report: refused, and nothing run.
  fs::remove(manifest);
  const auto gone = report({"--rerun-failed", first.string(), "-o", now.string()});
  EXPECT_EQ(gone.exit_code, 2) << gone.output;
  EXPECT_NE(gone.output.find("is gone"), std::string::npos) << gone.output;
  const auto empty = report({"--rerun-failed", dir.path().string(), "-o", now.string()});
  EXPECT_EQ(empty.exit_code, 2) << empty.output;
  EXPECT_NE(empty.output.find("report.json: no such file"), std::string::npos) << empty.output;
}

// The server `manifest` describes, started on each of its addresses (::1
// too where it declares "ipv6"), and the exit status of `by_hand` against it.
std::vector<std::pair<std::string, std::optional<int>>> by_hand_on(const fs::path& manifest,
                                                                   const std::string& by_hand) {
  const fs::path bin = fs::path(CSD_SUITE_BINARY).parent_path();
  std::vector<std::pair<std::string, std::optional<int>>> exits;
  for (const auto& variant :
       csd::harness::with_ipv6_variants({csd::harness::load_manifest(manifest, {bin})})) {
    csd::harness::LaunchOptions launch;
    launch.host = variant.host;
    const auto server = csd::harness::ServerProcess::start(variant, launch);
    std::string line = csd::harness::by_hand_command(by_hand, variant.host, bin.string());
    line.replace(line.find("PORT"), 4, std::to_string(server->port()));
    const auto run = csd::harness::run_to_completion({"/bin/sh", "-c", line}, 60s);
    exits.emplace_back(line + "\n" + run.output, run.exit_code);
  }
  return exits;
}

// A by-hand line is true: it fails where the check does, and passes where it does.
TEST(ByHand, EachLineFailsOnItsChecksBrokenServersAndPassesOnAReferenceOne) {
  int lines = 0;
  for (const auto& check : csd::selftest::catalogue_checks()) {
    const std::string by_hand = check.value("by_hand", "");
    if (by_hand.empty())
      continue;
    ++lines;
    SCOPED_TRACE(check.at("id").get<std::string>() + ": " + by_hand);
    for (const auto& fixture : check.at("proven_by")) {
      const auto exits =
          by_hand_on(fs::path(CSD_BROKEN_DIR) / (fixture.get<std::string>() + ".json"), by_hand);
      const bool failed_somewhere = std::any_of(exits.begin(), exits.end(), [](const auto& e) {
        return e.second.has_value() && *e.second != 0;
      });
      std::string seen;
      for (const auto& [what, exit] : exits)
        seen += what + "\nexit " + (exit ? std::to_string(*exit) : "none") + "\n";
      EXPECT_TRUE(failed_somewhere) << fixture << " passes the by-hand line:\n" << seen;
    }
    const bool echo = by_hand.find("--protocol echo") != std::string::npos;
    const fs::path reference =
        fs::path(CSD_BROKEN_DIR) / "../impls" / (echo ? "fork-echo.json" : "fork.json");
    for (const auto& [what, exit] : by_hand_on(reference, by_hand))
      EXPECT_EQ(exit, 0) << "on the reference server " << reference << ":\n" << what;
  }
  EXPECT_GE(lines, 1) << "no check of the catalogue has a by-hand line";
}

}  // namespace
