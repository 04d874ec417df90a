#include "progress.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <iostream>
#include <streambuf>
#include <string>
#include <utility>

#include "status_line.hpp"

namespace csd::suite {

std::optional<ProgressMode> parse_progress_mode(std::string_view text) {
  if (text == "auto")
    return ProgressMode::automatic;
  if (text == "on")
    return ProgressMode::on;
  if (text == "off")
    return ProgressMode::off;
  return std::nullopt;
}

// The line on stderr and the counts it shows.
struct Progress::Display {
  harness::StatusLine line{STDERR_FILENO};
  int total = 0;
  int done = 0;
  int failed = 0;
  std::string running;  // "csd-prefork: Pool.EveryWorkerAccepts"

  void draw() {
    line.show(fmt::format("[{}/{} done{}] {}", done, total,
                          failed == 0 ? "" : fmt::format(", {} failed", failed), running));
  }
  void erase() { line.clear(); }
};

namespace {

// "csd-prefork: Pool.EveryWorkerAccepts" for the test
// Impl/Pool.EveryWorkerAccepts/csd_prefork, whose value parameter
// is the manifest's own name.
std::string running_text(const testing::TestInfo& test) {
  std::string_view family = test.test_suite_name();
  if (const auto slash = family.find('/'); slash != std::string_view::npos)
    family.remove_prefix(slash + 1);
  std::string_view check = test.name();
  check = check.substr(0, check.find('/'));
  const char* implementation = test.value_param();
  if (implementation == nullptr)
    return fmt::format("{}.{}", family, check);
  return fmt::format("{}: {}.{}", implementation, family, check);
}

// Listed after googletest's result printer. googletest calls the listeners
// of a start event in list order and those of an end event in reverse
// order, so this draws after the printer has announced a test and erases
// before the printer reports how it ended.
class DrawAfterPrinter : public testing::EmptyTestEventListener {
 public:
  explicit DrawAfterPrinter(std::shared_ptr<Progress::Display> display)
      : display_(std::move(display)) {}

  void OnTestIterationStart(const testing::UnitTest& unit_test, int /*iteration*/) override {
    display_->total = unit_test.test_to_run_count();
    display_->done = 0;
    display_->failed = 0;
  }
  void OnTestStart(const testing::TestInfo& test) override {
    display_->running = running_text(test);
    display_->draw();
  }
  // The printer has just printed a failure (EraseBeforePrinter made room).
  void OnTestPartResult(const testing::TestPartResult& /*result*/) override { display_->draw(); }
  void OnTestEnd(const testing::TestInfo& test) override {
    display_->erase();
    ++display_->done;
    if (test.result()->Failed())
      ++display_->failed;
  }
  void OnTestIterationEnd(const testing::UnitTest& /*unit_test*/, int /*iteration*/) override {
    display_->erase();
  }

 private:
  std::shared_ptr<Progress::Display> display_;
};

// Listed before the printer, when both write to the same terminal: a failure
// is printed the moment it happens, so the line makes way first.
class EraseBeforePrinter : public testing::EmptyTestEventListener {
 public:
  explicit EraseBeforePrinter(std::shared_ptr<Progress::Display> display)
      : display_(std::move(display)) {}
  void OnTestPartResult(const testing::TestPartResult& /*result*/) override { display_->erase(); }

 private:
  std::shared_ptr<Progress::Display> display_;
};

}  // namespace

// In front of std::cout while the line and the checks' own output (tables,
// figures, a failed server's output) share a terminal: the line is erased
// before the first character, so the output starts at column 0.
struct Progress::CoutWrapper : std::streambuf {
  explicit CoutWrapper(std::shared_ptr<Display> display)
      : display_(std::move(display)), original_(std::cout.rdbuf(this)) {}
  ~CoutWrapper() override { std::cout.rdbuf(original_); }
  CoutWrapper(const CoutWrapper&) = delete;
  CoutWrapper& operator=(const CoutWrapper&) = delete;

 protected:
  int_type overflow(int_type ch) override {
    display_->erase();
    if (traits_type::eq_int_type(ch, traits_type::eof()))
      return traits_type::not_eof(ch);
    return original_->sputc(traits_type::to_char_type(ch));
  }
  std::streamsize xsputn(const char* text, std::streamsize count) override {
    display_->erase();
    return original_->sputn(text, count);
  }
  int sync() override { return original_->pubsync(); }

 private:
  std::shared_ptr<Display> display_;
  std::streambuf* original_;
};

Progress::Progress(ProgressMode mode) {
  if (mode == ProgressMode::off || ::isatty(STDERR_FILENO) != 1)
    return;
  const bool shares_terminal_with_stdout = ::isatty(STDOUT_FILENO) == 1;
  if (mode == ProgressMode::automatic && shares_terminal_with_stdout)
    return;
  display_ = std::make_shared<Display>();
  testing::TestEventListeners& listeners = testing::UnitTest::GetInstance()->listeners();
  if (shares_terminal_with_stdout) {
    // Released and appended again, so that the eraser comes before it.
    testing::TestEventListener* printer = listeners.Release(listeners.default_result_printer());
    listeners.Append(new EraseBeforePrinter(display_));
    if (printer != nullptr)
      listeners.Append(printer);
    cout_wrapper_ = std::make_unique<CoutWrapper>(display_);
  }
  listeners.Append(new DrawAfterPrinter(display_));
}

Progress::~Progress() = default;

}  // namespace csd::suite
