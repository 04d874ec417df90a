// Progress on stderr: a bar redrawn in place on a terminal, one plain line
// per run otherwise (logs, CI).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "measure.hpp"

namespace csd::bench {

class Progress {
 public:
  Progress(std::size_t total, bool quiet);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();

  void starting(const RunRecord& upcoming, int reps);  // spec, design and model filled in
  void finished(const RunRecord& run, int reps);
  void message(const std::string& text);  // on a line of its own
  void done();

 private:
  void draw(const std::string& label);
  void clear_line();
  [[nodiscard]] std::string eta_text() const;

  std::size_t total_;
  std::size_t finished_ = 0;
  bool quiet_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace csd::bench
