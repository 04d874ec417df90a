// The observed model in csd-report's outputs (suite/report/observed_model.hpp):
// shape/declared-model's figures become report.json's per-implementation
// "observed_model" (NAME@ipv6 folded into NAME), a line under the row of the
// terminal summary where the design is news (auto, or not the one declared),
// and the matrix header of report.html. And "model": "auto" in a manifest.
#include "observed_model.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "applicability.hpp"
#include "html.hpp"
#include "manifest.hpp"
#include "report_json.hpp"
#include "summary.hpp"
#include "temp_dir.hpp"

namespace csd::report {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// One shape/declared-model result per implementation, as csd-suite records it.
nlohmann::json declared_model_test(const std::string& implementation, const std::string& declared,
                                   const std::string& model, const std::string& words,
                                   bool failed = false) {
  nlohmann::json test = {{"name", "DeclaredModel/" + harness::parameter_name(implementation)},
                         {"value_param", implementation},
                         {"status", "RUN"},
                         {"result", "COMPLETED"},
                         {"time", "0.4s"},
                         {"implementation", implementation},
                         {"check_id", "shape/declared-model"},
                         {"level", "required"},
                         {"declared_model", declared},
                         {"observed_model", model},
                         {"observed", model + ": " + words},
                         {"observed_evidence", "idle: 5 processes\nreleased: 5 processes"}};
  if (failed)
    test["failures"] = {{{"failure", "declared " + declared + ", observed " + words}}};
  return test;
}

nlohmann::json size_test(const std::string& implementation) {
  return {{"name", "SmallRepliesExact/" + harness::parameter_name(implementation)},
          {"value_param", implementation},
          {"status", "RUN"},
          {"result", "COMPLETED"},
          {"time", "0.1s"},
          {"implementation", implementation},
          {"check_id", "size/small-replies-exact"},
          {"level", "required"}};
}

// An auto prefork, its copy on ::1 (which runs no shape check), a fork that
// says prefork, and a thread that is what it says.
Summary sample() {
  const nlohmann::json gtest = {
      {"testsuites",
       {{{"name", "Impl/Shape"},
         {"testsuite",
          {declared_model_test("my-pool", "auto", "prefork",
                               "a pool of 4 processes, each sleeps in accept4()"),
           declared_model_test("liar", "prefork", "fork",
                               "a new process per connection, gone after it", true),
           declared_model_test("csd-thread", "thread", "thread",
                               "a new thread per connection, gone after it")}}},
        {{"name", "Impl/Size"},
         {"testsuite", {size_test("my-pool"), size_test("my-pool@ipv6")}}}}}};
  Summary summary;
  add_results(gtest, summary);
  return summary;
}

TEST(ObservedModel, ComesFromTheDeclaredModelChecksFiguresFoldingTheIpv6Copy) {
  const auto observed = observed_models(sample());
  ASSERT_EQ(observed.size(), 3U);
  const ObservedModel& pool = observed.at("my-pool");
  EXPECT_EQ(pool.model, "prefork");
  EXPECT_EQ(pool.words, "a pool of 4 processes, each sleeps in accept4()");
  EXPECT_EQ(pool.declared, "auto");
  EXPECT_THAT(pool.evidence, ElementsAre("idle: 5 processes", "released: 5 processes"));
  EXPECT_FALSE(observed.contains("my-pool@ipv6")) << "the copy on ::1 is NAME's row";
}

TEST(ObservedModel, NoteOnlyWhereTheDesignIsNews) {
  const auto observed = observed_models(sample());
  EXPECT_EQ(observed_model_note(observed.at("my-pool")),
            "model auto: observed prefork: a pool of 4 processes, each sleeps in accept4()");
  EXPECT_EQ(observed_model_note(observed.at("liar")),
            "declared prefork, observed fork: a new process per connection, gone after it");
  EXPECT_EQ(observed_model_note(observed.at("csd-thread")), "");
}

TEST(ObservedModel, ReportJsonGivesEachImplementationItsObservation) {
  std::ostringstream out;
  write_report_json(sample(), out);
  const auto implementations = nlohmann::json::parse(out.str()).at("implementations");
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& row : implementations) by_name[row.at("name")] = row;
  ASSERT_TRUE(by_name.contains("my-pool"));
  const auto& pool = by_name["my-pool"].at("observed_model");
  EXPECT_EQ(pool.at("model"), "prefork");
  EXPECT_EQ(pool.at("observed"), "a pool of 4 processes, each sleeps in accept4()");
  EXPECT_EQ(pool.at("declared"), "auto");
  EXPECT_EQ(pool.at("evidence").size(), 2U);
  EXPECT_EQ(by_name["my-pool@ipv6"].at("observed_model"), pool) << "the same server";
  EXPECT_EQ(by_name["liar"].at("observed_model").at("declared"), "prefork");
  EXPECT_EQ(by_name["csd-thread"].at("observed_model").at("model"), "thread");
}

TEST(ObservedModel, SummaryPrintsTheNoteUnderTheRow) {
  std::ostringstream out;
  print_summary(sample(), out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("\n  model auto: observed prefork: a pool of 4 processes, each "
                              "sleeps in accept4()\n"));
  EXPECT_THAT(text, HasSubstr("\n  declared prefork, observed fork: a new process per "
                              "connection, gone after it\n"));
  EXPECT_THAT(text, Not(HasSubstr("observed thread")));
  // Right under its own row.
  const auto row = text.find("\nmy-pool ");
  ASSERT_NE(row, std::string::npos);
  EXPECT_EQ(text.find("\n  model auto:"), text.find('\n', row + 1));
}

TEST(ObservedModel, MatrixHeaderShowsItWithTheWordsOnHover) {
  std::ostringstream out;
  write_html(sample(), out);
  const std::string page = out.str();
  EXPECT_THAT(page, HasSubstr(R"(<br><span class="observed news">auto: prefork</span>)"));
  EXPECT_THAT(page, HasSubstr("observed prefork: a pool of 4 processes, each sleeps in "
                              "accept4() (declared auto)"));
  EXPECT_THAT(page,
              HasSubstr(R"(<span class="observed news">declared prefork, observed fork</span>)"));
  EXPECT_THAT(page, HasSubstr(R"(<br><span class="observed">thread</span>)"));
}

// An older run, without the figures: no observation, and no note.
TEST(ObservedModel, NoneWithoutTheFigures) {
  const nlohmann::json gtest = {
      {"testsuites", {{{"name", "Impl/Size"}, {"testsuite", {size_test("a")}}}}}};
  Summary summary;
  add_results(gtest, summary);
  EXPECT_TRUE(observed_models(summary).empty());
  std::ostringstream out;
  write_report_json(summary, out);
  EXPECT_FALSE(
      nlohmann::json::parse(out.str()).at("implementations")[0].contains("observed_model"));
}

class AutoManifest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& text) {
    auto file = dir_.path() / "auto.json";
    std::ofstream(file) << text;
    return file;
  }
  harness::TempDir dir_{"csd-auto-manifest"};
};

// "auto" is no model of the table: the manifest is other until watched, and
// then the model seen, its declared wake-up kept; shape/declared-model
// applies to it either way.
TEST_F(AutoManifest, IsOtherUntilAModelIsAssumed) {
  harness::Manifest m = harness::load_manifest(write(
      R"({"name": "a", "command": ["sh"], "model": "auto", "workers": 4,
          "accept_wakeup": "fifo"})"));
  EXPECT_TRUE(m.model_auto);
  EXPECT_EQ(m.model, "other");
  EXPECT_EQ(m.declared_model(), "auto");
  const harness::AppliesTo declared{.declared_model = true};
  const harness::AppliesTo pools{.workers = harness::kPools, .min_workers = 1};
  EXPECT_TRUE(harness::applies(declared, m));
  EXPECT_FALSE(harness::applies(pools, m));
  harness::assume_model(m, "prefork");
  EXPECT_EQ(m.model, "prefork");
  EXPECT_EQ(m.observed_model, "prefork");
  EXPECT_TRUE(m.traits.process_pool());
  EXPECT_EQ(m.traits.wakeup, harness::AcceptWakeup::fifo);
  EXPECT_TRUE(harness::applies(pools, m));
  EXPECT_EQ(m.declared_model(), "auto");
  harness::assume_model(m, "unknown");
  EXPECT_EQ(m.model, "other");
  EXPECT_EQ(m.observed_model, "unknown");
  EXPECT_TRUE(harness::applies(declared, m)) << "it must stay unknown";
}

TEST_F(AutoManifest, AnUnknownModelNamesAutoAmongTheKnown) {
  try {
    harness::load_manifest(write(R"({"name": "a", "command": ["sh"], "model": "automatic"})"));
    FAIL() << "accepted";
  } catch (const harness::ManifestError& e) {
    EXPECT_THAT(e.what(), HasSubstr("reuseport, other, auto)"));
  }
}

}  // namespace
}  // namespace csd::report
