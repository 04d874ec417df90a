#include "parallel_run.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
// Boost 1.81 with BOOST_PROCESS_USE_STD_FS needs these before v2.hpp (see
// suite/harness/guarded_process.cpp).
#include <boost/optional.hpp>
#include <boost/type_traits/remove_pointer.hpp>
#include <type_traits>
// (this comment keeps clang-format from sorting the two above below this one)
#include <fmt/format.h>
#include <boost/process/v2.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>

#include "die_with_parent.hpp"
#include "run.hpp"
#include "status_line.hpp"
#include "suite_run.hpp"

namespace csd::report {

namespace fs = std::filesystem;
namespace bp = boost::process::v2;

namespace {

// The children a signal we get is passed on to: a fixed table, which a
// signal handler may read.
constexpr std::size_t kMaxJobs = 256;
std::array<volatile std::sig_atomic_t, kMaxJobs> g_children{};
volatile std::sig_atomic_t g_interrupted = 0;

void pass_on(int sig) {
  g_interrupted = 1;
  for (const auto pid : g_children) {
    if (pid > 0)
      (void)::kill(static_cast<pid_t>(pid), sig);
  }
}

// googletest's lines that start and end a test (without --gtest_brief).
constexpr std::string_view kRun = "[ RUN      ] ";
constexpr std::array<std::string_view, 3> kEnds = {"[       OK ] ", "[  FAILED  ] ",
                                                   "[  SKIPPED ] "};
constexpr std::string_view kFailedEnd = "[  FAILED  ] ";

// A descriptor of ours, closed with its owner.
class Descriptor {
 public:
  Descriptor() = default;
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() { reset(); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  [[nodiscard]] int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// One csd-suite process and what its output has told so far.
struct Worker {
  Batch batch;
  std::size_t slot = 0;  // in g_children
  std::unique_ptr<bp::process> process;
  Descriptor output;  // the read end of its stdout and stderr
  Descriptor pidfd;   // readable once it has exited
  std::ofstream log;
  fs::path json;
  fs::path log_path;
  std::string partial;  // a line not yet ended
  std::string running;  // the test it is running, "" between tests
  std::vector<std::string> ended;
  int failed = 0;
};

// The progress of the whole run, on one line of stderr (only on a terminal).
class Progress {
 public:
  explicit Progress(int total) : total_(total) {}

  void draw(const std::vector<std::unique_ptr<Worker>>& workers) {
    std::string running;
    for (const auto& worker : workers) {
      if (!worker->running.empty())
        running += (running.empty() ? "" : ", ") + worker->running;
    }
    std::string text = fmt::format(
        "[{}/{}]{}{}", done, total_, failed == 0 ? "" : fmt::format(" {} failed", failed),
        running.empty() ? "" : (failed == 0 ? " " : "; ") + ("running: " + running));
    if (text == shown_)
      return;  // a wake-up for output that changed nothing the line shows
    line_.show(text);
    shown_ = std::move(text);
  }

  int done = 0;
  int failed = 0;

 private:
  harness::StatusLine line_{STDERR_FILENO};
  std::string shown_;
  int total_;
};

void take_line(Worker& worker, std::string_view line, Progress& progress) {
  if (line.starts_with(kRun)) {
    worker.running = std::string(line.substr(kRun.size()));
    return;
  }
  if (worker.running.empty())
    return;
  for (const auto end : kEnds) {
    if (!line.starts_with(end))
      continue;
    const std::string_view rest = line.substr(end.size());
    if (!rest.starts_with(worker.running))
      continue;
    worker.ended.push_back(worker.running);
    ++progress.done;
    if (end == kFailedEnd) {
      ++worker.failed;
      ++progress.failed;
    }
    worker.running.clear();
    return;
  }
}

// Reads what the worker has written, up to now (the pipe is non-blocking);
// false at the end of its output.
bool read_output(Worker& worker, Progress& progress) {
  std::array<char, 65536> buffer{};
  for (;;) {
    const ssize_t n = ::read(worker.output.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno == EAGAIN;
    if (n == 0)
      return false;
    const std::string_view text(buffer.data(), static_cast<std::size_t>(n));
    worker.log << text;
    worker.partial += text;
    std::size_t start = 0;
    for (auto nl = worker.partial.find('\n'); nl != std::string::npos;
         nl = worker.partial.find('\n', start)) {
      take_line(worker, std::string_view(worker.partial).substr(start, nl - start), progress);
      start = nl + 1;
    }
    worker.partial.erase(0, start);
  }
}

std::unique_ptr<Worker> start(boost::asio::io_context& context,
                              const std::vector<std::string>& suite_argv, Batch batch,
                              const fs::path& dir, int number, std::size_t slot) {
  auto worker = std::make_unique<Worker>();
  worker->batch = std::move(batch);
  worker->slot = slot;
  worker->json = dir / fmt::format("suite.batch-{:03}.json", number);
  worker->log_path = dir / fmt::format("suite.batch-{:03}.log", number);
  worker->log.open(worker->log_path);
  std::vector<std::string> args(suite_argv.begin() + 1, suite_argv.end());
  // Its own output, its evidence next to it; no progress line of its own
  // (ours shows every process), and googletest's RUN and OK lines, which ours reads.
  args.insert(args.end(), {"--progress=off", "--gtest_filter=" + filter_of(worker->batch.tests),
                           "--gtest_output=json:" + worker->json.string()});
  std::array<int, 2> pipe{};
  if (::pipe2(pipe.data(), O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  worker->output.reset(pipe[0]);
  const Descriptor write_end(pipe[1]);
  // {} for stdin: ours. DieWithParent: SIGKILL when we die.
  worker->process = std::make_unique<bp::process>(
      context, suite_argv.at(0), args, bp::process_stdio{{}, write_end.get(), write_end.get()},
      harness::DieWithParent{});
  const pid_t pid = worker->process->id();
  g_children.at(slot) = pid;
  (void)::fcntl(worker->output.get(), F_SETFL, O_NONBLOCK);
  worker->pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!worker->pidfd)
    throw std::system_error(errno, std::generic_category(), "pidfd_open");
  return worker;
}

bool wrote_its_results(const fs::path& json) {
  std::ifstream in(json);
  return in && nlohmann::json::accept(in);
}

// The reason a test of a batch whose csd-suite died has no result: its first
// line for the summary, then the end of its output.
std::string reason_for_the_dead(int status, const std::string& running, const fs::path& log) {
  const std::string last_words = tail_of(log, 20);
  std::string last_line;
  for (std::string_view rest = last_words; !rest.empty();) {
    const auto nl = rest.find('\n');
    if (const auto line = rest.substr(0, nl); !line.empty())
      last_line = std::string(line);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
  }
  const std::string how = harness::describe_wait_status(status);
  return fmt::format(
      "csd-suite ended ({}) {}; its last words: {}\nThe end of its output ({}):\n{}", how,
      running.empty() ? "before this test had a result" : "while this test was running",
      last_line.empty() ? "(none)" : last_line, log.filename().string(), last_words);
}

}  // namespace

ParallelRun run_batches(const std::vector<std::string>& suite_argv, std::vector<Batch> batches,
                        int jobs, const std::vector<fs::path>& round_dirs,
                        const std::vector<PlannedTest>& tests) {
  jobs = std::clamp(jobs, 1, static_cast<int>(kMaxJobs));
  std::map<std::string, const PlannedTest*> planned;
  for (const auto& test : tests) planned[test.name] = &test;
  ParallelRun run;
  run.missing.resize(round_dirs.size());
  int total = 0;
  for (const auto& batch : batches) total += static_cast<int>(batch.tests.size());
  std::deque<Batch> queue(std::make_move_iterator(batches.begin()),
                          std::make_move_iterator(batches.end()));
  Progress progress(total);
  boost::asio::io_context context;
  g_interrupted = 0;
  struct sigaction action {};
  action.sa_handler = pass_on;
  ::sigemptyset(&action.sa_mask);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &action, nullptr);

  std::vector<std::unique_ptr<Worker>> workers;
  int started = 0;
  const auto free_slot = [&] {
    for (std::size_t slot = 0; slot < kMaxJobs; ++slot) {
      if (g_children.at(slot) == 0)
        return slot;
    }
    return kMaxJobs;
  };
  const auto missing = [&](const std::string& name, int round, const std::string& reason) {
    PlannedTest test;
    if (const auto it = planned.find(name); it != planned.end())
      test = *it->second;
    test.name = name;
    run.missing.at(static_cast<std::size_t>(round - 1)).push_back({test, reason});
  };
  // A worker whose process has exited: its results, or what is left of its batch.
  const auto end = [&](Worker& worker) {
    if (worker.output)
      (void)read_output(worker, progress);  // to its end, or to what is there now
    if (!worker.partial.empty())
      take_line(worker, worker.partial, progress);
    worker.log.close();
    worker.process->wait();
    g_children.at(worker.slot) = 0;
    const int status = worker.process->native_exit_code();
    const bool exited_with_a_verdict =
        WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 1);
    if (exited_with_a_verdict && wrote_its_results(worker.json)) {
      run.finished.push_back({worker.batch, worker.json, worker.log_path});
      return;
    }
    if (g_interrupted != 0)
      return;
    run.logs_of_the_dead.push_back(worker.log_path);
    const std::string reason = reason_for_the_dead(status, worker.running, worker.log_path);
    if (worker.running.empty()) {
      // Nothing to blame: no test of the batch has a result (its JSON is
      // written at the end), and running it again would meet the same end.
      for (const auto& name : worker.batch.tests) {
        if (std::find(worker.ended.begin(), worker.ended.end(), name) == worker.ended.end())
          ++progress.done;
        missing(name, worker.batch.round, reason);
      }
      progress.failed += static_cast<int>(worker.batch.tests.size()) - worker.failed;
      return;
    }
    // The test it died in has its reason; the others run again, in a fresh
    // process, as the batch's first tests (the process that ended them
    // wrote no results for any).
    missing(worker.running, worker.batch.round, reason);
    ++progress.done;
    ++progress.failed;
    Batch again{worker.batch.round, worker.batch.alone, {}};
    for (const auto& name : worker.batch.tests) {
      if (name != worker.running)
        again.tests.push_back(name);
    }
    progress.done -= static_cast<int>(worker.ended.size());
    progress.failed -= worker.failed;
    if (!again.tests.empty())
      queue.push_front(std::move(again));
  };

  for (;;) {
    // Start what may start: a batch beside others while there is room, a
    // batch that runs alone only when nothing else runs.
    const bool alone_running =
        std::any_of(workers.begin(), workers.end(), [](const auto& w) { return w->batch.alone; });
    while (g_interrupted == 0 && !queue.empty() && !alone_running &&
           static_cast<int>(workers.size()) < jobs) {
      if (queue.front().alone && !workers.empty())
        break;
      const bool alone = queue.front().alone;
      const fs::path& dir = round_dirs.at(static_cast<std::size_t>(queue.front().round - 1));
      workers.push_back(
          start(context, suite_argv, std::move(queue.front()), dir, ++started, free_slot()));
      queue.pop_front();
      if (alone)
        break;
    }
    if (workers.empty())
      break;
    progress.draw(workers);
    std::vector<pollfd> fds;
    for (const auto& worker : workers) {
      fds.push_back({worker->pidfd.get(), POLLIN, 0});
      fds.push_back({worker->output ? worker->output.get() : -1, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR)
        continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    for (std::size_t i = 0; i < workers.size(); ++i) {
      Worker& worker = *workers[i];
      if (fds[2 * i + 1].revents != 0 && !read_output(worker, progress))
        worker.output.reset();
    }
    for (std::size_t i = workers.size(); i-- > 0;) {
      if (fds[2 * i].revents == 0)
        continue;
      end(*workers[i]);
      workers.erase(workers.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  run.interrupted = g_interrupted != 0;
  return run;
}

}  // namespace csd::report
