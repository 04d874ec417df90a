#include "guarded_process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
// Boost 1.81 with BOOST_PROCESS_USE_STD_FS: v2/detail/config.hpp says
// `using boost::optional` without including it, and environment.hpp uses
// std::is_same & co. without <type_traits> and boost::remove_pointer without
// its header (the boost_filesystem headers it skips used to bring them in).
#include <boost/optional.hpp>
#include <boost/type_traits/remove_pointer.hpp>
#include <type_traits>
// (this comment keeps clang-format from sorting the two above below this one)
#include <boost/process/v2.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_set>

#include "die_with_parent.hpp"
#include "procfs.hpp"
#include "server_process.hpp"  // LaunchError

namespace csd::harness::detail {

namespace bp = boost::process::v2;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kMaxOutput = 32u
                                   << 20;  // beyond this a program is flooding us; keep the start
constexpr auto kStep = 2ms;                // poll step for conditions nothing signals (/proc)

}  // namespace

// ---------------------------------------------------------------------------
// pidfds and small helpers

// syscall(), not glibc 2.36's <sys/pidfd.h>: that header lacks extern "C",
// so its functions do not link from C++. pidfds are always close-on-exec.
Fd open_pidfd(pid_t pid) { return Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); }

bool pidfd_signal(const Fd& pidfd, int sig) {
  return pidfd && ::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0) == 0;
}

bool pidfd_exited(const Fd& pidfd) {
  if (!pidfd)
    return true;
  pollfd p{.fd = pidfd.get(), .events = POLLIN, .revents = 0};
  return ::poll(&p, 1, 0) > 0;
}

bool wait_pidfd(const Fd& pidfd, Clock::time_point deadline) {
  if (!pidfd)
    return true;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{.fd = pidfd.get(), .events = POLLIN, .revents = 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (rc > 0)
      return true;
    if (rc == 0 && Clock::now() >= deadline)
      return false;
    // rc < 0 (EINTR) or an early wake-up: go round with what is left
  }
}

bool signal_descendant(pid_t pid, pid_t ancestor, int sig) {
  const Fd pidfd = open_pidfd(pid);
  if (!pidfd)
    return false;
  // The pidfd pins one process. If `pid` is a descendant *after* we opened
  // it, the pidfd names that descendant (or a dead process, which ignores the
  // signal), never a stranger that reused the pid.
  if (!is_descendant(pid, ancestor))
    return false;
  return pidfd_signal(pidfd, sig);
}

fs::path guard_path() {
  if (const char* env = std::getenv("CSD_GUARD"); env != nullptr && *env != '\0')
    return env;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec)
    throw LaunchError(
        fmt::format("cannot find csd-guard: readlink /proc/self/exe: {}", ec.message()));
  fs::path guard = self.parent_path() / "csd-guard";
  if (::access(guard.c_str(), X_OK) != 0) {
    throw LaunchError(fmt::format(
        "cannot find csd-guard: access {}: {} (it is built next to {}; set CSD_GUARD to "
        "use another)",
        guard.string(), std::strerror(errno), self.filename().string()));
  }
  return guard;
}

// ---------------------------------------------------------------------------
// OutputCollector

OutputCollector::OutputCollector(Fd read_end)
    : pipe_(std::move(read_end)), wake_(::eventfd(0, EFD_CLOEXEC)) {
  if (!wake_)
    throw std::system_error(errno, std::generic_category(), "eventfd");
  reader_ = std::thread([this] { run(); });
}

OutputCollector::~OutputCollector() {
  const uint64_t one = 1;
  [[maybe_unused]] const auto n =
      ::write(wake_.get(), &one, sizeof one);  // cannot fail: counter far from max
  if (reader_.joinable())
    reader_.join();
}

void OutputCollector::run() {
  std::array<char, 65536> buf{};
  for (;;) {
    std::array<pollfd, 2> fds{{{pipe_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) <
        0) {  // blocks until output, EOF or stop: not a timed wait
      if (errno == EINTR)
        continue;
      break;
    }
    if (fds[1].revents != 0)
      break;
    if (fds[0].revents == 0)
      continue;
    const ssize_t n = ::read(pipe_.get(), buf.data(), buf.size());
    if (n > 0) {
      append(buf.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      break;  // EOF: every writer (the whole tree) has closed it
    }
  }
  const std::lock_guard lock(mutex_);
  eof_ = true;
  changed_.notify_all();
}

void OutputCollector::append(const char* data, std::size_t n) {
  const std::lock_guard lock(mutex_);
  const std::size_t room = text_.size() < kMaxOutput ? kMaxOutput - text_.size() : 0;
  text_.append(data, std::min(n, room));
  dropped_ += n - std::min(n, room);
  changed_.notify_all();
}

std::string OutputCollector::text() const {
  const std::lock_guard lock(mutex_);
  if (dropped_ == 0)
    return text_;
  return text_ + fmt::format("\n[csd harness: {} more bytes of output were not kept]\n", dropped_);
}

bool OutputCollector::contains(std::string_view needle) const {
  const std::lock_guard lock(mutex_);
  return text_.find(needle) != std::string::npos;
}

std::size_t OutputCollector::size() const {
  const std::lock_guard lock(mutex_);
  return text_.size();
}

bool OutputCollector::wait_for(std::string_view needle, Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] {
    return text_.find(needle) != std::string::npos || eof_;
  }) && text_.find(needle) != std::string::npos;
}

bool OutputCollector::wait_eof(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, deadline, [&] { return eof_; });
}

void OutputCollector::wait_for_more(std::size_t seen, Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  // Not woken by EOF: after it nothing more arrives, and a caller polling in
  // a loop must still be paced by the deadline.
  changed_.wait_until(lock, deadline, [&] { return text_.size() > seen; });
}

// ---------------------------------------------------------------------------
// GuardedProcess

struct GuardedProcess::Launch {
  boost::asio::io_context context;  // must outlive `process`, which registers its pidfd here
  std::optional<bp::process> process;
};

GuardedProcess::GuardedProcess(const std::vector<std::string>& argv, bool stdin_pipe,
                               const ServerLimits& limits)
    : launch_(std::make_unique<Launch>()) {
  if (argv.empty())
    throw std::invalid_argument("GuardedProcess: empty argv");
  const fs::path guard = guard_path();

  std::array<int, 2> ends{};
  if (::pipe2(ends.data(), O_CLOEXEC) != 0) {
    throw LaunchError(fmt::format("pipe2: {}", std::strerror(errno)));
  }
  Fd read_end(ends[0]);
  Fd write_end(ends[1]);
  Fd stdin_read_end(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (stdin_pipe) {
    // A socket pair rather than a pipe: send(MSG_NOSIGNAL) to a program that
    // has died is EPIPE, not a SIGPIPE, and the suite must not ignore
    // SIGPIPE (its children would inherit that).
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends.data()) != 0)
      throw LaunchError(fmt::format("socketpair: {}", std::strerror(errno)));
    stdin_read_end.reset(ends[0]);
    stdin_.reset(ends[1]);
  }

  std::vector<std::string> args = limits.guard_options();
  args.emplace_back("--");
  args.insert(args.end(), argv.begin(), argv.end());
  try {
    // stdin /dev/null or our pipe; stdout and stderr the same pipe, so their
    // interleaving is the order the program wrote in.
    launch_->process.emplace(
        launch_->context, guard, args,
        bp::process_stdio{stdin_read_end.get(), write_end.get(), write_end.get()}, DieWithParent{});
  } catch (const std::exception& e) {
    throw LaunchError(fmt::format("cannot start {} for {}: {}", guard.string(), argv[0], e.what()));
  }
  write_end.reset();  // only the child's copies remain: EOF when the whole tree is gone
  stdin_read_end.reset();
  guard_pid_ = launch_->process->id();
  guard_pidfd_ = open_pidfd(guard_pid_);  // our unreaped child: it cannot be gone
  if (!guard_pidfd_)
    throw LaunchError(fmt::format("pidfd_open({}): {}", guard_pid_, std::strerror(errno)));
  output_ = std::make_unique<OutputCollector>(std::move(read_end));
  register_live();
}

namespace {

// Every GuardedProcess alive, for end_every_tree(), which another thread
// calls: the mutex keeps one from being destroyed while it is signalled.
std::mutex g_live_mutex;
std::vector<const GuardedProcess*> g_live;

}  // namespace

void GuardedProcess::register_live() const {
  const std::scoped_lock lock(g_live_mutex);
  g_live.push_back(this);
}

int end_every_tree() {
  const std::scoped_lock lock(g_live_mutex);
  int signalled = 0;
  for (const auto* process : g_live) signalled += process->end_tree() ? 1 : 0;
  return signalled;
}

GuardedProcess::~GuardedProcess() {
  {
    const std::scoped_lock lock(g_live_mutex);
    std::erase(g_live, this);
  }
  try {
    if (!guard_exited())
      kill_tree();
    reap();
  } catch (...) {
    // A destructor must not throw; the guard kills the tree when we die anyway.
  }
}

std::optional<pid_t> GuardedProcess::find_program(Clock::time_point deadline) {
  for (;;) {
    std::optional<ProcInfo> oldest;
    for (const pid_t child : children_of(guard_pid_)) {
      const auto info = read_proc(child);
      if (info && (!oldest || info->start_ticks < oldest->start_ticks))
        oldest = info;
    }
    // Orphans re-parented to the guard are younger than the program (they
    // descend from it), so the oldest child is the program while it lives.
    if (oldest)
      return oldest->pid;
    if (guard_exited() || Clock::now() >= deadline)
      return std::nullopt;
    wait_pidfd(guard_pidfd_, std::min(deadline, Clock::now() + kStep));
  }
}

std::vector<pid_t> GuardedProcess::tree() const {
  if (status_)
    return {};  // reaped: the pid may belong to someone else now
  return descendants(guard_pid_);
}

std::vector<std::string> GuardedProcess::kill_tree() {
  std::vector<std::string> killed;
  std::unordered_set<pid_t> seen;
  const auto start = Clock::now();
  bool asked_guard = false;
  bool killed_guard = false;
  while (!guard_exited()) {
    for (const pid_t pid : descendants(guard_pid_)) {
      const auto info = read_proc(pid);
      if (!info || info->state == 'Z')
        continue;  // already exited: nothing to kill, nothing to report
      if (signal_descendant(pid, guard_pid_, SIGKILL) && seen.insert(pid).second) {
        killed.push_back(fmt::format("{} ({})", pid, info->comm));
      }
    }
    // The guard exits by itself once its tree is empty. If it does not, it is
    // stuck: ask it, then make it. (Safe by pid: it is our unreaped child.)
    const auto elapsed = Clock::now() - start;
    if (!asked_guard && elapsed > 10s) {
      asked_guard = true;
      ::kill(guard_pid_, SIGTERM);
    }
    if (!killed_guard && elapsed > 20s) {
      killed_guard = true;
      ::kill(guard_pid_, SIGKILL);
    }
    wait_pidfd(guard_pidfd_, Clock::now() + kStep);
  }
  return killed;
}

std::optional<int> GuardedProcess::reap() {
  if (status_ || !launch_->process)
    return status_;
  boost::system::error_code ec;
  launch_->process->wait(ec);  // waitpid: returns at once when the guard has exited
  if (!ec)
    status_ = launch_->process->native_exit_code();
  // Boost's destructor would waitpid (and kill) the pid again; it may be reused by now.
  launch_->process->detach();
  return status_;
}

}  // namespace csd::harness::detail
