// Template manifests for a folder of submissions: each sub-folder becomes a
// manifest with {submission} and {name} filled in, the suite's own
// placeholders left alone; a template that cannot tell submissions apart is
// refused with why.
#include "manifest_template.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "manifest.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using csd::harness::TempDir;
using csd::harness::TemplateError;
using nlohmann::json;
using ::testing::HasSubstr;

void write_file(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
}

std::string refusal(const std::function<void()>& action) {
  try {
    action();
  } catch (const TemplateError& e) {
    return e.what();
  }
  return "(not refused)";
}

class ManifestTemplate : public ::testing::Test {
 protected:
  TempDir temp_{"csd-template-test"};
  fs::path class_ = temp_.path() / "class";
  json template_ = json::parse(R"({
    "command": ["python3", "{submission}/server.py", "-i", "{host}", "-p", "{port}"],
    "protocol": "size", "model": "fork", "description": "{name}'s server"})");
};

TEST_F(ManifestTemplate, FillsSubmissionAndNameAndLeavesTheSuitesPlaceholders) {
  const json manifest = csd::harness::fill_manifest_template(template_, class_ / "alice");
  EXPECT_EQ(manifest.at("name"), "alice");
  EXPECT_EQ(manifest.at("command"), json::parse(R"(["python3", ")" + (class_ / "alice").string() +
                                                R"(/server.py", "-i", "{host}", "-p", "{port}"])"));
  EXPECT_EQ(manifest.at("description"), "alice's server");
  EXPECT_EQ(manifest.at("model"), "fork");
}

TEST_F(ManifestTemplate, WritesOneLoadableManifestPerSubFolderInNameOrder) {
  for (const char* who : {"carol", "alice", "bob"}) write_file(class_ / who / "server.py", "");
  fs::create_directories(class_ / ".git");  // hidden: not a submission
  write_file(class_ / "README", "");        // a file: not a submission
  const auto written = csd::harness::write_submission_manifests(
      template_, csd::harness::submission_folders({class_}), temp_.path() / "manifests");
  ASSERT_EQ(written.size(), 3U);
  std::vector<std::string> names;
  names.reserve(written.size());
  for (const auto& file : written) names.push_back(csd::harness::load_manifest(file).name);
  EXPECT_EQ(names, (std::vector<std::string>{"alice", "bob", "carol"}));
}

TEST_F(ManifestTemplate, RefusesATemplateWithoutSubmission) {
  const fs::path file = temp_.path() / "same-for-all.json";
  write_file(file, R"({"command": ["csd-fork", "-p", "{port}"], "model": "fork"})");
  EXPECT_THAT(refusal([&] { csd::harness::read_manifest_template(file); }),
              HasSubstr("no {submission} in it, so every submission would run the same program"));
}

TEST_F(ManifestTemplate, RefusesAFixedNameAndBadJson) {
  const fs::path named = temp_.path() / "named.json";
  write_file(named, R"({"name": "server", "command": ["{submission}/server"]})");
  EXPECT_THAT(refusal([&] { csd::harness::read_manifest_template(named); }),
              HasSubstr("\"name\" without {name}"));
  const fs::path bad = temp_.path() / "bad.json";
  write_file(bad, R"({"command": )");
  EXPECT_THAT(refusal([&] { csd::harness::read_manifest_template(bad); }),
              HasSubstr("invalid JSON"));
}

TEST_F(ManifestTemplate, RefusesAnEmptyClassAndTwoSubmissionsOfOneName) {
  fs::create_directories(class_);
  EXPECT_THAT(refusal([&] { csd::harness::submission_folders({class_}); }),
              HasSubstr("no submission in it"));
  fs::create_directories(class_ / "alice");
  fs::create_directories(temp_.path() / "late" / "alice");
  EXPECT_THAT(refusal([&] {
                csd::harness::submission_folders({class_, temp_.path() / "late"});
              }),
              HasSubstr("two submissions named alice"));
}

}  // namespace
