// Progress on the terminal while csd-suite runs: which check is running on
// which implementation and how many are done, on one line of stderr
// rewritten in place (harness::StatusLine), e.g.
//   [37/367] csd-prefork: Pool.EveryWorkerAccepts (1 failed)
// Never anything on a stderr that is not a terminal: logs stay as they were.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

namespace csd::suite {

enum class ProgressMode {
  // When stderr is a terminal and stdout is not (csd-suite >log, as
  // ./ci/conformance.sh runs it): googletest's own lines go to the log, and
  // the terminal would otherwise be silent for a minute.
  automatic,
  // Whenever stderr is a terminal, even with googletest printing to the same
  // one (useful with --gtest_brief=1): the line is erased before googletest
  // or a check prints anything, and drawn again for the next check.
  on,
  off,
};

// "auto", "on", "off"; nullopt for anything else.
std::optional<ProgressMode> parse_progress_mode(std::string_view text);

// Adds the progress listeners to googletest when `mode` and the terminals
// call for it; construct after InitGoogleTest and keep until RUN_ALL_TESTS()
// has returned (it owns what the listeners draw with, and puts std::cout back
// as it was when it goes).
class Progress {
 public:
  explicit Progress(ProgressMode mode);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  struct Display;  // the line and its counts (progress.cpp)

 private:
  struct CoutWrapper;
  std::shared_ptr<Display> display_;  // shared with the listeners googletest owns
  std::unique_ptr<CoutWrapper> cout_wrapper_;
};

}  // namespace csd::suite
