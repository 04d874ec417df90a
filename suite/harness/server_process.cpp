#include "server_process.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>

#include "guarded_process.hpp"
#include "ports.hpp"
#include "procfs.hpp"
#include "run.hpp"
#include "sockdiag.hpp"
#include "timeouts.hpp"
#include "wait.hpp"

namespace csd::harness {

using detail::Clock;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kReadyLine = "listening on";
constexpr auto kReadyStep = 2ms;  // how often the port is checked while no output arrives

std::string seconds(std::chrono::milliseconds ms) {
  return fmt::format("{:g} s", static_cast<double>(ms.count()) / 1000);
}

std::string quoted_output(const std::string& output) {
  if (output.empty())
    return "\n(it wrote nothing to stdout or stderr)";
  return fmt::format("\n--- its output (stdout and stderr) ---\n{}{}--- end of output ---", output,
                     output.back() == '\n' ? "" : "\n");
}

}  // namespace

struct ServerProcess::Impl {
  Manifest manifest;  // workers as actually passed
  std::string host;
  std::chrono::milliseconds ready_timeout{};
  std::optional<PortLease> lease;  // held for our whole life: nobody else gets the port meanwhile
  std::unique_ptr<detail::GuardedProcess> guarded;
  pid_t main_pid = -1;
  Fd main_pidfd;  // invalid when the main process was gone before we could open it
  std::optional<StopReport> report;

  [[nodiscard]] uint16_t port() const { return lease->port(); }
  [[nodiscard]] bool main_alive() const { return main_pidfd && !detail::pidfd_exited(main_pidfd); }

  void attach_main(Clock::time_point deadline) {
    const auto program = guarded->find_program(deadline);
    if (!program)
      return;
    main_pid = *program;
    main_pidfd = detail::open_pidfd(main_pid);
    // Opened after we saw it as the guard's child: if it is still the guard's
    // child now, the pidfd names it and not a process that reused its pid.
    const auto info = read_proc(main_pid);
    if (main_pidfd && (!info || info->ppid != guarded->guard_pid()))
      main_pidfd.reset();
  }

  [[nodiscard]] bool ready() const {
    return guarded->output().contains(kReadyLine) || tcp_port_listening(port());
  }

  [[nodiscard]] std::string awaited() const {
    const auto where = fmt::format("{}:{}", host, port());
    if (manifest.prints_ready_line)
      return fmt::format("print '{}' nor listen on {}", kReadyLine, where);
    return fmt::format("listen on {}", where);
  }

  // Waits for readiness; on failure stops the tree and throws with everything
  // a reader needs: what we waited for, how it ended, what it said.
  void await_ready(Clock::time_point deadline, ServerProcess& owner) {
    attach_main(deadline);
    for (;;) {
      const std::size_t seen = guarded->output().size();
      if (main_alive() && ready())
        return;
      // Not found at all: the guard exited first (exec failed, or the program
      // exited at once), or we are at the deadline.
      const bool ended = main_pid < 0 ? guarded->guard_exited() : !main_alive();
      if (ended) {
        const StopReport r = owner.stop(SIGKILL, 0ms);
        throw LaunchError(
            fmt::format("{} exited ({}) before it was ready: it did not {}{}", manifest.name,
                        r.exit_status ? describe_wait_status(*r.exit_status) : "status unknown",
                        awaited(), quoted_output(r.output)));
      }
      if (Clock::now() >= deadline) {
        const StopReport r = owner.stop(SIGKILL, 0ms);
        throw LaunchError(
            fmt::format("{} did not {} within {}; it was still running and has been killed{}",
                        manifest.name, awaited(), seconds(ready_timeout), quoted_output(r.output)));
      }
      guarded->output().wait_for_more(seen, std::min(deadline, Clock::now() + kReadyStep));
    }
  }
};

std::unique_ptr<ServerProcess> ServerProcess::start(const Manifest& manifest,
                                                    const LaunchOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->manifest = manifest;
  if (options.workers)
    impl->manifest.workers = *options.workers;
  impl->host = options.host;
  impl->ready_timeout = options.ready_timeout;
  const auto deadline = deadline_in(options.ready_timeout);
  try {
    impl->lease.emplace(PortLease::acquire(options.host));
  } catch (const std::exception& e) {
    throw LaunchError(fmt::format("{}: no port: {}", manifest.name, e.what()));
  }
  std::vector<std::string> argv;
  try {
    argv = expand_command(impl->manifest, impl->host, impl->port(), options.backlog);
  } catch (const std::invalid_argument& e) {
    throw LaunchError(fmt::format("{}: {}", manifest.name, e.what()));
  }
  // The manifest's limits and the run's (csd-suite --max-*), the tighter of
  // each; a check's own RLIMIT_NOFILE overrides the manifest's.
  ServerLimits limits = manifest.limits;
  limits.descriptors = options.nofile ? options.nofile : manifest.nofile;
  impl->guarded =
      std::make_unique<detail::GuardedProcess>(argv, false, limits.tightest(run_limits()));
  // The constructor is private; make_unique cannot reach it. Owned at once.
  std::unique_ptr<ServerProcess> server(new ServerProcess(std::move(impl)));
  server->impl_->await_ready(
      deadline, *server);  // on LaunchError, `server`'s destructor has nothing left to do
  return server;
}

ServerProcess::ServerProcess(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ServerProcess::~ServerProcess() {
  try {
    stop();
  } catch (...) {
    // Never throw from a destructor; csd-guard still kills the tree when we exit.
  }
}

const std::string& ServerProcess::host() const { return impl_->host; }
uint16_t ServerProcess::port() const { return impl_->port(); }
int ServerProcess::workers() const { return impl_->manifest.workers; }
pid_t ServerProcess::pid() const { return impl_->main_pid; }
const std::string& ServerProcess::name() const { return impl_->manifest.name; }

std::vector<pid_t> ServerProcess::tree() const {
  if (impl_->report)
    return {};
  std::vector<pid_t> pids = impl_->guarded->tree();
  // Main process first, as documented; orphans (re-parented to the guard)
  // stay in the tree even after the main process is gone.
  const auto main = std::find(pids.begin(), pids.end(), impl_->main_pid);
  if (main != pids.end())
    std::rotate(pids.begin(), main, main + 1);
  return pids;
}

std::string ServerProcess::output() { return impl_->guarded->output().text(); }

bool ServerProcess::wait_for_output(const std::string& needle, std::chrono::milliseconds timeout) {
  return impl_->guarded->output().wait_for(needle, deadline_in(timeout));
}

bool ServerProcess::wait_for_tree_size(std::size_t count, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return tree().size() == count; }, timeout);
}

bool ServerProcess::wait_for_full_pool(std::chrono::milliseconds timeout) const {
  const Traits& traits = impl_->manifest.traits;
  if (workers() <= 0 || !traits.pool())
    return true;
  const auto with_main = static_cast<std::size_t>(workers()) + 1;
  if (traits.process_pool())
    return wait_for_tree_size(with_main, timeout);
  return wait_until([&] { return thread_ids(pid()).size() >= with_main; }, timeout);
}

bool ServerProcess::running() const { return !impl_->report && impl_->main_alive(); }

StopReport ServerProcess::stop(int sig, std::chrono::milliseconds grace) {
  Impl& i = *impl_;
  if (i.report)
    return *i.report;
  const auto start = Clock::now();
  detail::GuardedProcess& guarded = *i.guarded;
  StopReport r;
  r.signal_sent = sig;
  if (guarded.guard_exited()) {
    r.exited_in_time = true;  // it had ended by itself: nothing to signal
  } else {
    if (i.main_alive()) {
      detail::pidfd_signal(i.main_pidfd, sig);
    } else {
      // The main process is gone but left processes behind (now children of
      // the guard): nobody else will pass the request on, so tell them directly.
      for (const pid_t pid : guarded.tree())
        detail::signal_descendant(pid, guarded.guard_pid(), sig);
    }
    r.exited_in_time = guarded.wait_guard_exit(budget::cut(start + scaled(grace)));
    if (!r.exited_in_time)
      r.killed = guarded.kill_tree();
  }
  r.exit_status = guarded.reap();
  guarded.output().wait_eof(Clock::now() + 2s);  // the tree is gone, so every write end is closed
  r.output = guarded.output().text();
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  i.report = r;
  return r;
}

std::optional<std::string> find_sanitizer_report(std::string_view output) {
  // The markers each runtime starts its report with; UBSan's "runtime error:"
  // follows a source location on the same line.
  static constexpr std::string_view kMarkers[] = {
      "WARNING: ThreadSanitizer:", "ERROR: AddressSanitizer:", "ERROR: LeakSanitizer:",
      "runtime error:"};
  std::size_t first = std::string_view::npos;
  for (const auto marker : kMarkers) first = std::min(first, output.find(marker));
  if (first == std::string_view::npos)
    return std::nullopt;
  const auto begin = output.rfind('\n', first);
  const auto start = begin == std::string_view::npos ? 0 : begin + 1;
  const auto end = output.find('\n', first);
  return std::string(
      output.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

int end_every_process_tree() { return detail::end_every_tree(); }

}  // namespace csd::harness
