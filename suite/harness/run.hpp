// Running a command to completion as a child process, with a deadline, its
// output captured, and the same guarantee as servers: it dies with us.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace csd::harness {

struct RunResult {
  std::optional<int> exit_code;  // nullopt if killed by a signal or timed out
  bool timed_out = false;
  std::string output;  // stdout and stderr interleaved
};

// A raw wait status in words: "exit status 3", "killed by signal 15 (SIGTERM)".
std::string describe_wait_status(int status);

// Where `program` (a bare name) is in $PATH, as execvp() would find it (an
// empty entry means "."); nullopt if no entry has it as an executable file.
std::optional<std::filesystem::path> find_in_path(std::string_view program);

// An executable regular file (what a manifest's command or $PATH must name).
bool is_executable_file(const std::filesystem::path& file);

// Runs argv[0] (a path, or a name looked up in $PATH) with `argv`, under
// csd-guard so that the whole tree dies if we do; SIGKILLs the tree at the deadline.
RunResult run_to_completion(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout);

}  // namespace csd::harness
