#include "run.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>  // sigabbrev_np

#include "guarded_process.hpp"
#include "timeouts.hpp"

namespace csd::harness {

using namespace std::chrono_literals;

std::string describe_wait_status(int status) {
  if (WIFEXITED(status))
    return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = ::sigabbrev_np(WTERMSIG(status));
    return fmt::format("killed by signal {} (SIG{})", WTERMSIG(status),
                       name != nullptr ? name : "?");
  }
  return fmt::format("wait status {:#x}", status);
}

bool is_executable_file(const std::filesystem::path& file) {
  std::error_code ec;
  return std::filesystem::is_regular_file(file, ec) && ::access(file.c_str(), X_OK) == 0;
}

std::optional<std::filesystem::path> find_in_path(std::string_view program) {
  const char* path_env = std::getenv("PATH");
  std::string_view path_list = path_env != nullptr ? path_env : "";
  while (true) {
    const auto colon = path_list.find(':');
    const std::string dir(path_list.substr(0, colon));
    const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / program;
    if (is_executable_file(candidate))
      return std::filesystem::absolute(candidate).lexically_normal();
    if (colon == std::string_view::npos)
      return std::nullopt;
    path_list.remove_prefix(colon + 1);
  }
}

RunResult run_to_completion(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout) {
  const auto deadline = deadline_in(timeout);
  detail::GuardedProcess process(argv);  // csd-guard execvp()s argv[0]: a path, or a name in $PATH
  RunResult result;
  if (!process.wait_guard_exit(deadline)) {
    result.timed_out = true;
    process.kill_tree();
  }
  const auto status = process.reap();
  process.output().wait_eof(detail::Clock::now() +
                            2s);  // the tree is gone: every write end is closed
  result.output = process.output().text();
  if (!result.timed_out && status && WIFEXITED(*status))
    result.exit_code = WEXITSTATUS(*status);
  return result;
}

}  // namespace csd::harness
