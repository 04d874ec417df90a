#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "options.hpp"

namespace csd::bench {

namespace {

constexpr std::size_t kBarWidth = 24;

std::string run_label(const RunRecord& r, int reps) {
  return fmt::format("{} {}x{}x{} rep {}/{}", r.design, r.spec.clients, r.spec.conns,
                     bytes_text(r.spec.bytes), r.spec.rep + 1, reps);
}

std::string clock_text(std::chrono::seconds s) {
  return fmt::format("{}:{:02}", s.count() / 60, s.count() % 60);
}

}  // namespace

Progress::Progress(std::size_t total, bool quiet)
    : total_(total),
      quiet_(quiet),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { done(); }

std::string Progress::eta_text() const {
  using namespace std::chrono;
  const duration<double> elapsed = steady_clock::now() - start_;
  if (finished_ == 0)
    return clock_text(duration_cast<seconds>(elapsed));
  const auto left =
      elapsed / static_cast<double>(finished_) * static_cast<double>(total_ - finished_);
  return fmt::format("{}, ~{} left", clock_text(duration_cast<seconds>(elapsed)),
                     clock_text(duration_cast<seconds>(left)));
}

void Progress::clear_line() {
  if (tty_ && drawn_) {
    std::fputs("\r\033[K", stderr);
    drawn_ = false;
  }
}

void Progress::draw(const std::string& label) {
  const std::size_t filled = total_ == 0 ? kBarWidth : finished_ * kBarWidth / total_;
  fmt::print(stderr, "\r\033[K[{}{}] {}/{} {} | {}", std::string(filled, '#'),
             std::string(kBarWidth - filled, '.'), finished_, total_, eta_text(), label);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::starting(const RunRecord& upcoming, int reps) {
  if (quiet_ || !tty_)
    return;
  draw(run_label(upcoming, reps));
}

void Progress::finished(const RunRecord& run, int reps) {
  ++finished_;
  if (quiet_)
    return;
  const std::string verdict = run.valid ? fmt::format("{:.0f} conn/s", run.conns_per_second())
                                        : fmt::format("INVALID: {}", run.invalid_reason);
  if (tty_) {
    if (!run.valid)
      message(fmt::format("{}: {}", run_label(run, reps), verdict));
    draw(run_label(run, reps));
    return;
  }
  fmt::print(stderr, "[{}/{}] {}: {}\n", finished_, total_, run_label(run, reps), verdict);
  std::fflush(stderr);
}

void Progress::message(const std::string& text) {
  clear_line();
  fmt::print(stderr, "csd-bench: {}\n", text);
  std::fflush(stderr);
}

void Progress::done() {
  if (tty_ && drawn_) {
    std::fputs("\n", stderr);
    drawn_ = false;
  }
}

}  // namespace csd::bench
