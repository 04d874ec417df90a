// csd-report running csd-suite: into a results folder that keeps the last
// run's results until a new run has produced its own, with csd-suite tied to
// csd-report's life (it dies with us, even by SIGKILL, and with it, through
// csd-guard, every server it started).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace csd::report {

// The output folder, e.g. results/. A run writes into DIR/.run.PID;
// replace_last_run() then removes the files of the last run and moves the new
// ones in. Until then, and if the run is refused or killed, DIR is as it was.
// A .run.PID folder whose process is gone (killed by SIGKILL) is removed by
// the next run.
class ResultsFolder {
 public:
  explicit ResultsFolder(std::filesystem::path dir);  // throws std::filesystem::filesystem_error
  ~ResultsFolder();  // removes the run's own folder if it is still there
  ResultsFolder(const ResultsFolder&) = delete;
  ResultsFolder& operator=(const ResultsFolder&) = delete;

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  [[nodiscard]] const std::filesystem::path& staging() const { return staging_; }
  void replace_last_run();

 private:
  std::filesystem::path dir_;
  std::filesystem::path staging_;
};

// Runs `argv` (argv[0] a path) with its stdout into `log` and its stderr on
// ours (where csd-suite shows its progress), and returns its raw wait status.
// It gets SIGKILL if we die; a SIGINT, SIGTERM or SIGHUP we get is passed on
// to it, and we still wait for it. Throws std::system_error if it cannot start.
int run_to_exit(const std::vector<std::string>& argv, const std::filesystem::path& log);

// The last `count` lines of a file, for a run that went wrong.
std::string tail_of(const std::filesystem::path& file, int count);

}  // namespace csd::report
