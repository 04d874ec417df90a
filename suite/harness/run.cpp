#include "run.hpp"

#include <sys/wait.h>

#include "guarded_process.hpp"
#include "timeouts.hpp"

namespace csd::harness {

using namespace std::chrono_literals;

RunResult run_to_completion(const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout) {
  const auto deadline = detail::Clock::now() + scaled(timeout);
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
