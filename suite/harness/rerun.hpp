// How to run one test of a csd-suite run again, as a line for a shell: the
// csd-suite that ran it, the run's flags that can change a verdict, the
// test's manifest and the test alone in --gtest_filter. csd-suite records
// its SuiteInvocation as a run property (kRerunProperty); the reports write
// the line under each failure, warning and flaky test, and csd-report
// --rerun-failed runs them again from it.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace csd::harness {

// What a csd-suite run was, beyond its tests: enough to run any of them again.
struct SuiteInvocation {
  std::string program;             // csd-suite, an absolute path
  std::vector<std::string> flags;  // the words that can change a verdict, in order:
                                   // --network COND, --timeout-multiplier=X, --strict,
                                   // --demo NAME=/abs/path
  // Variables of the run's environment that change what runs
  // (CSD_PRETEND_MISSING), set before the program.
  std::vector<std::pair<std::string, std::string>> environment;
  // Each implementation of the run (NAME@ipv6 copies too) and its manifest,
  // an absolute path: for a test whose entry does not say (its csd-suite died).
  std::map<std::string, std::string> manifests;

  // Whether the run's flags have `flag` as a word of their own ("--strict").
  [[nodiscard]] bool has_flag(std::string_view flag) const;
};

// The run property csd-suite records its invocation under (a JSON object,
// as to_json writes it), and the test property each check records its
// manifest's absolute path under.
inline constexpr const char* kRerunProperty = "rerun";
inline constexpr const char* kManifestProperty = "manifest";

nlohmann::json to_json(const SuiteInvocation& invocation);
// Throws nlohmann::json::exception if `value` is not what to_json writes.
SuiteInvocation invocation_from_json(const nlohmann::json& value);

// `word` as one word for sh: as it is when it has nothing a shell reads
// (letters, digits, and _ @ % + = : , . / -), else in single quotes, each '
// within written '\''. "" is ''.
std::string shell_quoted(std::string_view word);

// The words quoted and joined with spaces.
std::string shell_line(const std::vector<std::string>& words);

// A googletest filter pattern that matches `test` alone: googletest reads
// ':' (a separator), '-' (the negative patterns), '*' and '?' in a filter,
// so each of those in the name becomes '?', which matches it.
std::string gtest_filter_pattern(std::string_view test);

// The line that reruns `test` ("Impl/Size.SplitRequest/my_server") as
// `invocation` ran it: its environment, program and flags, --impl `manifest`
// (none for a demo's test: "" runs the reference implementations and the
// demos, as the run did) and --gtest_filter='TEST':
//   /abs/csd-suite --impl /abs/my-server.json --gtest_filter='Impl/Size.SplitRequest/my_server'
// `exit_nonzero_on_warning` adds --strict where the run had none, so that a
// recommended check that still fails exits 1 rather than 0.
std::string rerun_command(const SuiteInvocation& invocation, std::string_view manifest,
                          std::string_view test, bool exit_nonzero_on_warning = false);

// A catalogue's by-hand template ("csd-client -i {host} -p {port} -b 100")
// made a line to type: {host} the server's address, {port} the word PORT (the
// port a person started the server on), and a first word that names a
// program in `bin_dir` (csd-client) made that program's absolute path.
std::string by_hand_command(std::string_view by_hand, std::string_view host,
                            const std::string& bin_dir);

}  // namespace csd::harness
