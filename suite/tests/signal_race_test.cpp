// SignalRace: the select/signal race of csd-selsigrace and its three fixes, judged
// from outside the program. Verify behavior for the sequence: handler installed (or
// SIGUSR1 blocked), program asleep in read() on stdin (the window), SIGUSR1 sent, a
// line written. Then csd-selsigrace sleeps in select() with the signal handled and
// lost, until a second one; csd-selfpipe, csd-pselect and csd-signalfd print
// "Got signal" and exit 0, and with --signals 2 sleep again in between. Each program
// runs 50 times in a row: the window is held open, so the outcome never varies.
//
// Every step waits for the kernel's view (/proc/PID/syscall, the state in
// /proc/PID/stat, the masks in /proc/PID/status), never for a line the program
// prints about itself: a line printed before a blocking read() does not mean the
// program is asleep in it yet. The one line believed is the documented "Got signal".
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "child_process.hpp"
#include "demos.hpp"
#include "procfs.hpp"
#include "wait.hpp"

namespace csd::suite {
namespace {

using namespace std::chrono_literals;
using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

constexpr int kRuns = 50;
constexpr auto kStepTimeout = 5s;  // for each awaited event; a pass takes milliseconds
constexpr std::string_view kGotSignal = "Got signal\n";

// glibc 2.36's select() is pselect6 on x86_64; elsewhere it may be select itself.
const std::initializer_list<long> kSelectFamily = {SYS_pselect6, SYS_select};
const std::initializer_list<long> kRead = {SYS_read};

// How a program meets SIGUSR1, as /proc/PID/status shows it.
struct Program {
  std::string_view name;
  bool blocked_in_window;  // SigBlk while it reads its line: the signal waits, pending
  bool blocked_in_select;  // SigBlk while it sleeps in the select family
};

constexpr Program kNaive{"csd-selsigrace", false, false};
constexpr Program kSelfPipe{"csd-selfpipe", false, false};
// pselect() sleeps with the mask it is given: SIGUSR1 let through only there.
constexpr Program kPselect{"csd-pselect", true, false};
constexpr Program kSignalfd{"csd-signalfd", true, true};

std::string syscall_name(long number) {
  switch (number) {
    case SYS_read:
      return "read";
    case SYS_select:
      return "select";
    case SYS_pselect6:
      return "pselect6";
    case SYS_poll:
      return "poll";
    case SYS_ppoll:
      return "ppoll";
    case SYS_epoll_wait:
      return "epoll_wait";
    case SYS_epoll_pwait:
      return "epoll_pwait";
    case SYS_wait4:
      return "wait4";
    default:
      return fmt::format("syscall {}", number);
  }
}

// One line of what /proc says: "state S, in pselect6 (270); SIGUSR1 not pending, not
// blocked, caught".
std::string proc_state(pid_t pid) {
  const auto info = harness::read_proc(pid);
  if (!info)
    return "gone";
  std::string text = fmt::format("state {}, ", info->state);
  const auto call = harness::read_syscall(pid);
  if (!call)
    text += "/proc/PID/syscall unreadable";
  else if (call->running)
    text += "running";
  else if (call->number < 0)
    text += "outside any system call";
  else
    text += fmt::format("in {} ({})", syscall_name(call->number), call->number);
  if (const auto masks = harness::read_signal_masks(pid)) {
    text +=
        fmt::format("; SIGUSR1 {}, {}, {}", masks->is_pending(SIGUSR1) ? "pending" : "not pending",
                    masks->blocked.has(SIGUSR1) ? "blocked" : "not blocked",
                    masks->caught.has(SIGUSR1) ? "caught" : "no handler");
  }
  return text;
}

// True when `pid` sleeps (state S) in one of `calls`. The kernel shows a call in
// /proc/PID/syscall only for a task that is not running.
bool asleep_in(pid_t pid, std::initializer_list<long> calls) {
  const auto call = harness::read_syscall(pid);
  const auto info = harness::read_proc(pid);
  return call && !call->running && info && info->state == 'S' &&
         std::find(calls.begin(), calls.end(), call->number) != calls.end();
}

std::size_t count_of(std::string_view text, std::string_view needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size()))
    ++count;
  return count;
}

std::string repeated(std::string_view text, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += text;
  return out;
}

// One program run, and the failure message every step shares: one line of expected
// versus observed, then the program's output and its /proc state.
class Run {
 public:
  Run(const Program& program, unsigned signals)
      : program_(program),
        child_({demo_path(program.name).string(), "--signals", std::to_string(signals)}) {}

  [[nodiscard]] pid_t pid() const { return child_.pid(); }
  harness::ChildProcess& child() { return child_; }

  [[nodiscard]] AssertionResult failed(std::string_view expected, std::string_view observed) const {
    return AssertionFailure() << program_.name << " (" << demo_path(program_.name).string()
                              << "): expected " << expected << "; observed " << observed
                              << "\n--- its output ---\n"
                              << child_.output() << "--- /proc/" << pid() << ": "
                              << proc_state(pid());
  }

  // Observed: what /proc says, or how it ended if it is gone.
  [[nodiscard]] AssertionResult failed(std::string_view expected) {
    if (gone())
      return failed(expected, "it ended: " + child_.describe_end(child_.wait_exit(kStepTimeout),
                                                                 kStepTimeout));
    return failed(expected, proc_state(pid()));
  }

  [[nodiscard]] bool gone() const { return !harness::read_proc(pid()); }

  // Waits until SIGUSR1 is `blocked` or not (SigBlk) and not pending while the program
  // sleeps in one of `calls`.
  [[nodiscard]] bool await_asleep(std::initializer_list<long> calls, bool blocked) const {
    const auto asleep = [&] {
      const auto masks = harness::read_signal_masks(pid());
      return masks && !masks->is_pending(SIGUSR1) && masks->blocked.has(SIGUSR1) == blocked &&
             asleep_in(pid(), calls);
    };
    // A program that ended will not fall asleep: no need to wait out the deadline.
    return harness::wait_until([&] { return gone() || asleep(); }, kStepTimeout) && asleep();
  }

  // After kill(): blocked, the signal waits, pending (ShdPnd), and the read() is not
  // even interrupted; not blocked, the handler ran and the read() was restarted, all
  // within the window.
  [[nodiscard]] bool await_signal_in_window(bool blocked) const {
    const auto seen = [&] {
      const auto masks = harness::read_signal_masks(pid());
      if (!masks || !asleep_in(pid(), kRead))
        return false;
      return blocked ? masks->is_pending(SIGUSR1)
                     : !masks->is_pending(SIGUSR1) && masks->caught.has(SIGUSR1);
    };
    return harness::wait_until([&] { return gone() || seen(); }, kStepTimeout) && seen();
  }

  // The choreography: the program asleep in read() on stdin, SIGUSR1 sent there and
  // seen handled (or pending, if blocked), then the line it waits for.
  AssertionResult signal_in_the_window() {
    const bool blocked = program_.blocked_in_window;
    if (!await_asleep(kRead, blocked))
      return failed(fmt::format("asleep in read() of stdin (state S), SIGUSR1 {}, not pending",
                                blocked ? "blocked" : "not blocked"));
    if (::kill(pid(), SIGUSR1) != 0)
      return failed("kill(SIGUSR1) to succeed", std::strerror(errno));
    if (!await_signal_in_window(blocked))
      return failed(blocked ? "SIGUSR1 pending while still asleep in read()"
                            : "SIGUSR1 handled (caught, not pending) and asleep in read() again");
    if (!child_.write_stdin("go\n"))
      return failed("stdin open for the line", "stdin closed");
    return AssertionSuccess();
  }

  // The program prints `n` "Got signal" lines in all, then exits 0.
  AssertionResult await_reports_then_exit(std::size_t n) {
    if (!child_.wait_for_output(repeated(kGotSignal, n), kStepTimeout))
      return failed(
          fmt::format("{} \"Got signal\" line(s)", n),
          fmt::format("{} ({})", count_of(child_.output(), kGotSignal), proc_state(pid())));
    const auto status = child_.wait_exit(kStepTimeout);
    if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
      return failed("exit status 0", child_.describe_end(status, kStepTimeout));
    // After the exit the output ends: one more report would show up by then.
    if (child_.wait_for_output(repeated(kGotSignal, n + 1), kStepTimeout))
      return failed(fmt::format("{} \"Got signal\" line(s) for {} signal(s)", n, n),
                    fmt::format("{}", count_of(child_.output(), kGotSignal)));
    return AssertionSuccess();
  }

 private:
  const Program& program_;
  harness::ChildProcess child_;
};

// csd-selsigrace: the signal from the window is handled, then select() sleeps as if
// nothing had come; only a second signal wakes it.
AssertionResult naive_loses_the_signal() {
  Run run(kNaive, 1);
  if (auto ok = run.signal_in_the_window(); !ok)
    return ok;
  if (!run.await_asleep(kSelectFamily, kNaive.blocked_in_select))
    return run.failed(
        "asleep in select()/pselect6 (state S) with SIGUSR1 handled (caught, not pending)");
  // With --signals 1 a program that had noticed would have exited, not slept.
  if (count_of(run.child().output(), kGotSignal) != 0)
    return run.failed("no \"Got signal\" while the signal is lost", "\"Got signal\"");
  if (::kill(run.pid(), SIGUSR1) != 0)
    return run.failed("kill(SIGUSR1) to succeed", std::strerror(errno));
  return run.await_reports_then_exit(1);
}

// A fix: the signal from the window is reported, and the program exits 0.
AssertionResult fix_catches_the_signal(const Program& program) {
  Run run(program, 1);
  if (auto ok = run.signal_in_the_window(); !ok)
    return ok;
  return run.await_reports_then_exit(1);
}

// A fix with --signals 2: after reporting the first signal it sleeps again in its
// select (no spinning, no second report), until the second signal.
AssertionResult fix_sleeps_between_signals(const Program& program) {
  Run run(program, 2);
  if (auto ok = run.signal_in_the_window(); !ok)
    return ok;
  if (!run.child().wait_for_output(kGotSignal, kStepTimeout))
    return run.failed("\"Got signal\" for the signal from the window", "none");
  if (!run.await_asleep(kSelectFamily, program.blocked_in_select))
    return run.failed(fmt::format(
        "asleep again in select()/pselect6 (state S) after one \"Got signal\", SIGUSR1 {}",
        program.blocked_in_select ? "blocked" : "not blocked"));
  if (const auto reports = count_of(run.child().output(), kGotSignal); reports != 1)
    return run.failed("one \"Got signal\" for one signal", fmt::format("{}", reports));
  if (::kill(run.pid(), SIGUSR1) != 0)
    return run.failed("kill(SIGUSR1) to succeed", std::strerror(errno));
  return run.await_reports_then_exit(2);
}

// Runs `once` kRuns times in a row, stopping at the first failure.
template <typename Once>
void run_repeatedly(Once once) {
  for (int i = 1; i <= kRuns; ++i) {
    AssertionResult result = AssertionFailure();
    try {
      result = once();
    } catch (const std::exception& e) {
      result = AssertionFailure() << "could not run the program: " << e.what();
    }
    ASSERT_TRUE(result) << "(run " << i << " of " << kRuns << ")";
  }
  ::testing::Test::RecordProperty("runs", kRuns);
}

TEST(SignalRace, NaiveSelectLosesTheSignalFromTheWindow) {
  run_repeatedly([] { return naive_loses_the_signal(); });
}

TEST(SignalRace, SelfPipeCatchesTheSignalFromTheWindow) {
  run_repeatedly([] { return fix_catches_the_signal(kSelfPipe); });
}

TEST(SignalRace, SelfPipeSleepsAgainBetweenSignals) {
  run_repeatedly([] { return fix_sleeps_between_signals(kSelfPipe); });
}

TEST(SignalRace, PselectCatchesTheSignalFromTheWindow) {
  run_repeatedly([] { return fix_catches_the_signal(kPselect); });
}

TEST(SignalRace, PselectSleepsAgainBetweenSignals) {
  run_repeatedly([] { return fix_sleeps_between_signals(kPselect); });
}

TEST(SignalRace, SignalfdCatchesTheSignalFromTheWindow) {
  run_repeatedly([] { return fix_catches_the_signal(kSignalfd); });
}

TEST(SignalRace, SignalfdSleepsAgainBetweenSignals) {
  run_repeatedly([] { return fix_sleeps_between_signals(kSignalfd); });
}

}  // namespace
}  // namespace csd::suite
