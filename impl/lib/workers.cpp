#include "workers.hpp"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>

#include <fmt/core.h>

#include "syscalls.hpp"
#include "syserr.hpp"

namespace csd::impl {

static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared counters must not hide a lock");

pid_t fork_worker() {
  const pid_t parent = ::getpid();
  sigset_t all;
  sigset_t saved;
  sigfillset(&all);
  ::sigprocmask(SIG_BLOCK, &all, &saved);
  const pid_t pid = ::fork();
  const int fork_errno = errno;
  if (pid == 0) {
    SignalPipe::release_in_child();
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
      log_errno("prctl PR_SET_PDEATHSIG");
    if (::getppid() != parent)
      ::_exit(0);  // the parent died before prctl(): nobody to work for
  }
  ::sigprocmask(SIG_SETMASK, &saved, nullptr);
  errno = fork_errno;
  return pid;
}

std::vector<ChildExit> reap_children() {
  std::vector<ChildExit> exits;
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0)
      break;  // 0: children left but none finished; -1/ECHILD: none left
    exits.push_back({pid, status});
  }
  return exits;
}

void replace_dead_children(std::vector<pid_t>& children,
                           const std::function<pid_t(std::size_t)>& respawn) {
  for (const auto& [pid, status] : reap_children()) {
    const auto it = std::find(children.begin(), children.end(), pid);
    if (it == children.end())
      continue;
    const auto slot = static_cast<std::size_t>(it - children.begin());
    log_message(
        fmt::format("child {} (pid {}) {}; starting a new one", slot, pid, describe_exit(status)));
    *it = respawn(slot);
  }
}

std::string describe_exit(int status) {
  if (WIFEXITED(status))
    return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  return fmt::format("changed state (wait status {:#x})", status);
}

void stop_children(SignalPipe& signals, std::span<const pid_t> pids,
                   std::chrono::milliseconds grace) {
  std::vector<pid_t> alive(pids.begin(), pids.end());
  for (const pid_t pid : alive) ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    std::erase_if(alive, [](pid_t pid) {
      int status = 0;
      const pid_t got = ::waitpid(pid, &status, WNOHANG);
      return got == pid || (got < 0 && errno == ECHILD);
    });
    if (alive.empty())
      return;
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    signals.wait(static_cast<int>(left.count()));  // SIGCHLD wakes us
  }
  for (const pid_t pid : alive) {
    log_message(fmt::format("child {} ignored SIGTERM for {} ms; killing it", pid, grace.count()));
    ::kill(pid, SIGKILL);
  }
  for (const pid_t pid : alive) WaitFor(pid);
}

namespace {

pid_t spawn_worker(std::size_t slot, const std::function<void(std::size_t)>& child_main) {
  const pid_t pid = fork_worker();
  if (pid < 0)
    throw syscall_error("fork");
  if (pid > 0)
    return pid;
  // The child: never return into the caller's code (its main() belongs to the parent).
  try {
    child_main(slot);
  } catch (const std::exception& e) {
    log_message(fmt::format("child {} (pid {}): {}", slot, ::getpid(), e.what()));
    ::_exit(1);
  }
  ::_exit(0);
}

}  // namespace

void run_worker_pool(std::size_t size, const std::function<void(std::size_t)>& child_main,
                     const std::function<void()>& ready) {
  // Before the first fork, so that no child can die unnoticed.
  SignalPipe signals{SIGINT, SIGTERM, SIGCHLD};
  std::vector<pid_t> children;
  for (std::size_t slot = 0; slot < size; ++slot)
    children.push_back(spawn_worker(slot, child_main));
  ready();

  for (;;) {
    const SignalSet got = signals.wait();
    if (got.stop())
      break;
    if (got.has(SIGCHLD))
      replace_dead_children(children,
                            [&](std::size_t slot) { return spawn_worker(slot, child_main); });
  }
  stop_children(signals, children);
}

void* map_shared(std::size_t bytes) {
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    throw syscall_error("mmap");
  return mem;
}

void unmap_shared(void* mem, std::size_t bytes) { ::munmap(mem, bytes); }

void print_counts(std::span<const uint64_t> counts) {
  for (std::size_t i = 0; i < counts.size(); ++i) fmt::print("child {} : {} times\n", i, counts[i]);
  std::fflush(stdout);
}

}  // namespace csd::impl
