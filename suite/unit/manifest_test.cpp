#include "manifest.hpp"
#include "temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace csd::harness {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A fresh directory per test, removed afterwards.
class ManifestTest : public ::testing::Test {
 protected:
  fs::path write(const std::string& name, const std::string& text) const {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }

  fs::path write_program(const std::string& name, bool executable = true) const {
    fs::path p = write(name, "#!/bin/sh\nexit 0\n");
    fs::permissions(
        p, executable ? fs::perms::owner_all : fs::perms::owner_read | fs::perms::owner_write);
    return p;
  }

  // Loads `text` and returns the error; fails the test if it loads.
  ManifestError error_of(const std::string& text) const {
    const fs::path p = write("m.json", text);
    try {
      load_manifest(p);
    } catch (const ManifestError& e) {
      EXPECT_EQ(e.path(), p);
      EXPECT_THAT(e.what(), StartsWith(p.string() + ": field '" + e.field() + "': "));
      return e;
    }
    ADD_FAILURE() << "loaded without error: " << text;
    return {p, "", ""};
  }

  TempDir temp_{"csd-manifest-test"};
  const fs::path& dir_ = temp_.path();
};

TEST_F(ManifestTest, LoadsAFullManifest) {
  const auto p = write("m.json", R"({
    "name": "python-server03",
    "command": ["sh", "server03.py", "-i", "{host}", "-p", "{port}", "-n", "{workers}"],
    "protocol": "echo", "model": "prefork", "workers": 4, "ready": "port",
    "accept_wakeup": "lifo", "nofile": 64, "ipv6": true, "description": "free text",
    "x-notes": {"anything": [1, 2]}
  })");
  const Manifest m = load_manifest(p);
  EXPECT_EQ(m.path, p);
  EXPECT_EQ(m.name, "python-server03");
  ASSERT_EQ(m.command.size(), 8u);
  EXPECT_TRUE(fs::path(m.command[0]).is_absolute());
  EXPECT_EQ(fs::path(m.command[0]).filename(), "sh");
  EXPECT_EQ(m.command[1], "server03.py");
  EXPECT_EQ(m.protocol, WireProtocol::echo);
  EXPECT_EQ(m.model, "prefork");
  EXPECT_EQ(m.workers, 4);
  EXPECT_FALSE(m.prints_ready_line);
  EXPECT_EQ(m.traits.wakeup, AcceptWakeup::lifo);
  EXPECT_TRUE(m.traits.process_pool());
  EXPECT_EQ(m.nofile, 64);
  EXPECT_TRUE(m.ipv6);
  EXPECT_EQ(m.host, "127.0.0.1") << "the suite's copy for ::1 is made later";
}

TEST_F(ManifestTest, AnIpv6ManifestGetsACopyOnLoopbackSix) {
  const Manifest v6 = load_manifest(write("a.json", R"({"name": "a", "command": ["sh"],
                                                         "ipv6": true})"));
  const Manifest v4 = load_manifest(write("b.json", R"({"name": "b", "command": ["sh"]})"));
  const auto all = with_ipv6_variants({v6, v4});
  ASSERT_EQ(all.size(), 3U);
  EXPECT_EQ(all[0].name, "a");
  EXPECT_FALSE(all[0].ipv6_variant());
  EXPECT_EQ(all[1].name, "b");
  EXPECT_EQ(all[2].name, "a@ipv6");
  EXPECT_EQ(all[2].host, "::1");
  EXPECT_TRUE(all[2].ipv6_variant());
  EXPECT_EQ(parameter_name(all[2].name), "a_ipv6");
}

TEST_F(ManifestTest, Defaults) {
  const Manifest m = load_manifest(write("m.json", R"({"name": "n", "command": ["sh"]})"));
  EXPECT_EQ(m.protocol, WireProtocol::size);
  EXPECT_EQ(m.model, "other");
  EXPECT_EQ(m.workers, 0);
  EXPECT_TRUE(m.prints_ready_line);
  EXPECT_EQ(m.traits.wakeup, AcceptWakeup::unspecified);
  EXPECT_FALSE(m.nofile) << "no \"nofile\": the server inherits the suite's limit";
  EXPECT_FALSE(m.ipv6);
  EXPECT_FALSE(m.limits.any()) << "no \"limits\": only the run's";
}

TEST_F(ManifestTest, LoadsLimits) {
  const Manifest m = load_manifest(write("m.json", R"({"name": "n", "command": ["sh"],
      "limits": {"processes": 64, "memory": "512M", "file_size": 1048576}})"));
  EXPECT_EQ(m.limits.processes, 64);
  EXPECT_EQ(m.limits.memory, uint64_t{512} << 20);
  EXPECT_EQ(m.limits.file_size, uint64_t{1} << 20);
  EXPECT_FALSE(m.limits.descriptors) << "descriptors are \"nofile\"";
  const Manifest some = load_manifest(write("s.json", R"({"name": "s", "command": ["sh"],
      "limits": {"file_size": "4M"}})"));
  EXPECT_FALSE(some.limits.processes);
  EXPECT_EQ(some.limits.file_size, uint64_t{4} << 20);
}

struct BadCase {
  const char* label;
  const char* json;
  const char* field;
  const char* problem;  // a substring of the message
};
// What googletest shows of a case ("GetParam() = MissingName"): its label, not its bytes.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.label; }

class BadManifest : public ManifestTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(BadManifest, NamesTheField) {
  const BadCase& c = GetParam();
  const ManifestError e = error_of(c.json);
  EXPECT_EQ(e.field(), c.field) << e.what();
  EXPECT_THAT(e.what(), HasSubstr(c.problem));
}

// clang-format off
const BadCase kBadCases[] = {
    {"InvalidJson", R"({"name": "n", )", "(file)", "invalid JSON"},
    {"NotAnObject", R"(["sh"])", "(file)", "one JSON object"},
    {"MissingName", R"({"command": ["sh"]})", "name", "missing"},
    {"EmptyName", R"({"name": "", "command": ["sh"]})", "name", "non-empty string"},
    {"NumericName", R"({"name": 3, "command": ["sh"]})", "name", "non-empty string"},
    {"MissingCommand", R"({"name": "n"})", "command", "missing"},
    {"StringCommand", R"({"name": "n", "command": "sh -c x"})", "command", "array of strings"},
    {"EmptyCommand", R"({"name": "n", "command": []})", "command", "empty"},
    {"NonStringItem", R"({"name": "n", "command": ["sh", "-p", 8080]})",
     "command", "item 2 is not a string"},
    {"UnknownPlaceholder", R"({"name": "n", "command": ["sh", "--port={prot}"]})", "command",
     "unknown placeholder {prot} in item 1"},
    {"ProgramNotFound", R"({"name": "n", "command": ["csd-no-such-program-xyz"]})", "command",
     "'csd-no-such-program-xyz' not found"},
    {"BadProtocol", R"({"name": "n", "command": ["sh"], "protocol": "http"})",
     "protocol", "\"size\" or \"echo\""},
    {"UnknownModel", R"({"name": "n", "command": ["sh"], "model": "forking"})", "model",
     "known: iterative, fork, select"},
    {"ZeroWorkers", R"({"name": "n", "command": ["sh"], "workers": 0})",
     "workers", "positive integer"},
    {"NegativeWorkers", R"({"name": "n", "command": ["sh"], "workers": -2})",
     "workers", "positive integer"},
    {"FractionalWorkers", R"({"name": "n", "command": ["sh"], "workers": 2.5})",
     "workers", "positive integer"},
    {"StringWorkers", R"({"name": "n", "command": ["sh"], "workers": "4"})",
     "workers", "positive integer"},
    {"BoolWorkers", R"({"name": "n", "command": ["sh"], "workers": true})",
     "workers", "positive integer"},
    {"StringIpv6", R"({"name": "n", "command": ["sh"], "ipv6": "yes"})", "ipv6",
     "true or false"},
    {"TinyNofile", R"({"name": "n", "command": ["sh"], "nofile": 3})", "nofile",
     "integer from 8 to 1048576"},
    {"HugeNofile", R"({"name": "n", "command": ["sh"], "nofile": 2000000})", "nofile",
     "integer from 8"},
    {"StringNofile", R"({"name": "n", "command": ["sh"], "nofile": "64"})", "nofile",
     "not \"64\""},
    {"FractionalNofile", R"({"name": "n", "command": ["sh"], "nofile": 64.5})", "nofile",
     "integer from 8"},
    {"LimitsNotAnObject", R"({"name": "n", "command": ["sh"], "limits": 64})", "limits",
     "must be an object"},
    {"ZeroProcesses", R"({"name": "n", "command": ["sh"], "limits": {"processes": 0}})",
     "limits.processes", "1 or more, not 0"},
    {"StringProcesses", R"({"name": "n", "command": ["sh"], "limits": {"processes": "64"}})",
     "limits.processes", "whole number"},
    {"UnitlessWordMemory", R"({"name": "n", "command": ["sh"], "limits": {"memory": "lots"}})",
     "limits.memory", "must be a size"},
    {"FractionalFileSize",
     R"({"name": "n", "command": ["sh"], "limits": {"file_size": "1.5G"}})",
     "limits.file_size", "not \"1.5G\""},
    {"NegativeMemory", R"({"name": "n", "command": ["sh"], "limits": {"memory": -5}})",
     "limits.memory", "must be a size"},
    {"UnknownLimit", R"({"name": "n", "command": ["sh"], "limits": {"cpu": 3}})",
     "limits.cpu", "unknown limit"},
    {"WorkersNeeded", R"({"name": "n", "command": ["sh", "-n", "{workers}"]})",
     "workers", "uses {workers}"},
    {"BadReady", R"({"name": "n", "command": ["sh"], "ready": "soon"})", "ready", "\"line\""},
    {"BadAcceptWakeup", R"({"name": "n", "command": ["sh"], "accept_wakeup": "one"})",
     "accept_wakeup", "\"lifo\""},
    {"TypoField", R"({"name": "n", "comand": ["sh"]})", "comand", "unknown field"},
    {"TypoWorkers", R"({"name": "n", "command": ["sh"], "worker": 4})", "worker", "unknown field"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Cases, BadManifest, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& param) {
                           return std::string(param.param.label);
                         });

// A failed case reads "GetParam() = InvalidJson", not the struct's bytes.
TEST(BadManifestCase, PrintsAsItsLabel) {
  EXPECT_EQ(::testing::PrintToString(kBadCases[0]), "InvalidJson");
}

TEST_F(ManifestTest, UnreadableFile) {
  try {
    load_manifest(dir_ / "absent.json");
    FAIL() << "loaded a file that does not exist";
  } catch (const ManifestError& e) {
    EXPECT_EQ(e.field(), "(file)");
    EXPECT_THAT(e.what(), HasSubstr("cannot read: No such file or directory"));
  }
}

TEST_F(ManifestTest, NotFoundSaysWhereItLooked) {
  const ManifestError e = error_of(R"({"name": "n", "command": ["csd-no-such-program-xyz"]})");
  EXPECT_THAT(e.what(), HasSubstr("$PATH="));
}

TEST_F(ManifestTest, RelativePathIsRelativeToTheManifest) {
  const fs::path program = write_program("servers/my-server");
  const fs::path manifest = write("m.json", R"({"name": "n", "command": ["servers/my-server"]})");
  const auto cwd = fs::current_path();
  fs::current_path("/");  // the working directory must not matter
  const Manifest m = load_manifest(manifest);
  fs::current_path(cwd);
  EXPECT_EQ(fs::path(m.command[0]), program.lexically_normal());
}

TEST_F(ManifestTest, RelativePathMustExist) {
  const ManifestError e = error_of(R"({"name": "n", "command": ["./missing-server"]})");
  EXPECT_EQ(e.field(), "command");
  EXPECT_THAT(e.what(), HasSubstr("no file " + (dir_ / "missing-server").string()));
}

TEST_F(ManifestTest, ProgramMustBeExecutable) {
  write_program("plain-file", false);
  const ManifestError e = error_of(R"({"name": "n", "command": ["./plain-file"]})");
  EXPECT_EQ(e.field(), "command");
  EXPECT_THAT(e.what(), HasSubstr("not an executable file"));
}

TEST_F(ManifestTest, SearchDirsComeBeforePath) {
  const fs::path ours = write_program("bin/sh");
  const Manifest m =
      load_manifest(write("m.json", R"({"name": "n", "command": ["sh"]})"), {dir_ / "bin"});
  EXPECT_EQ(fs::path(m.command[0]), ours);
}

TEST_F(ManifestTest, SearchDirsAreListedWhenNothingIsFound) {
  const fs::path p = write("m.json", R"({"name": "n", "command": ["csd-no-such-program-xyz"]})");
  try {
    load_manifest(p, {dir_ / "bin"});
    FAIL();
  } catch (const ManifestError& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir_ / "bin").string()));
  }
}

TEST_F(ManifestTest, ExpandsPlaceholders) {
  Manifest m;
  m.command = {"/bin/srv", "-i",        "{host}",       "--port={port}",
               "-n",       "{workers}", "{port}{port}", "{literal"};
  m.workers = 4;
  EXPECT_THAT(expand_command(m, "127.0.0.2", 23456),
              ElementsAre("/bin/srv", "-i", "127.0.0.2", "--port=23456", "-n", "4", "2345623456",
                          "{literal"));
}

TEST_F(ManifestTest, ExpandsTheBacklogTheSuiteChooses) {
  Manifest m;
  m.command = {"/bin/srv", "--backlog", "{backlog}"};
  EXPECT_TRUE(command_takes_backlog(m));
  EXPECT_THAT(expand_command(m, "127.0.0.1", 1), ElementsAre("/bin/srv", "--backlog", "1024"));
  EXPECT_THAT(expand_command(m, "127.0.0.1", 1, 16), ElementsAre("/bin/srv", "--backlog", "16"));
  m.command = {"/bin/srv"};
  EXPECT_FALSE(command_takes_backlog(m));
}

TEST_F(ManifestTest, ExpandingWorkersNeedsACount) {
  Manifest m;
  m.command = {"/bin/srv", "-n", "{workers}"};
  EXPECT_THROW(expand_command(m, "127.0.0.1", 1), std::invalid_argument);
}

TEST_F(ManifestTest, LoadsADirectoryInNameOrder) {
  write("b.json", R"({"name": "second", "command": ["sh"]})");
  write("a.json", R"({"name": "first", "command": ["sh"]})");
  write("notes.txt", "not a manifest");
  const auto all = load_manifest_dir(dir_);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "first");
  EXPECT_EQ(all[1].name, "second");
}

TEST_F(ManifestTest, ABadFileInADirectoryIsNamed) {
  write("a.json", R"({"name": "first", "command": ["sh"]})");
  const fs::path bad = write("b.json", R"({"name": "second"})");
  try {
    load_manifest_dir(dir_);
    FAIL();
  } catch (const ManifestError& e) {
    EXPECT_EQ(e.path(), bad);
    EXPECT_EQ(e.field(), "command");
  }
}

TEST(ParameterName, KeepsOnlyGtestSafeCharacters) {
  EXPECT_EQ(parameter_name("python-server03.v2 (main)"), "python_server03_v2__main_");
  EXPECT_EQ(parameter_name("csd_fork42"), "csd_fork42");
  EXPECT_EQ(parameter_name("naïve"), "na__ve");
}

TEST(KnownModels, ListsTheDesigns) {
  EXPECT_THAT(known_models(), ::testing::Contains("prefork-fdpass"));
  EXPECT_THAT(known_models(), ::testing::Contains("other"));
  EXPECT_EQ(known_models().size(), 13u);
  EXPECT_EQ(to_string(WireProtocol::size), "size");
  EXPECT_EQ(to_string(WireProtocol::echo), "echo");
}

// Every model the manifest accepts has a row in the traits table.
TEST(Traits, EveryKnownModelHasARow) {
  for (const auto& model : known_models()) EXPECT_NO_THROW(traits_of_model(model)) << model;
  EXPECT_THROW(traits_of_model("forking"), std::out_of_range);
}

// A few rows read back, one per kind of worker, so a slip in the table shows.
TEST(Traits, TableSaysWhatEachDesignIs) {
  EXPECT_TRUE(traits_of_model("iterative").one_client_at_a_time);
  EXPECT_EQ(traits_of_model("fork").workers, Workers::process_per_client);
  EXPECT_EQ(traits_of_model("thread").workers, Workers::thread_per_client);
  EXPECT_TRUE(traits_of_model("prefork").process_pool());
  EXPECT_FALSE(traits_of_model("prefork").parent_accepts);
  EXPECT_TRUE(traits_of_model("prefork-fdpass").parent_accepts);
  EXPECT_TRUE(traits_of_model("prethreaded-main").thread_pool());
  EXPECT_TRUE(traits_of_model("reuseport").listener_per_worker);
  EXPECT_EQ(traits_of_model("epoll").workers, Workers::none);
  EXPECT_FALSE(traits_of_model("other").pool());
}

}  // namespace
}  // namespace csd::harness
