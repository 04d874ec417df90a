// csd-guard [--nofile N] [--max-processes N] [--max-memory BYTES] [--max-file-size BYTES]
//           -- PROGRAM [ARG...]
//
// Runs PROGRAM (looked up in $PATH if it has no '/') as its only child and
// makes sure that no process of PROGRAM's tree outlives the guard's own
// parent, the suite, however the suite ends:
//
//  * it is a child subreaper (PR_SET_CHILD_SUBREAPER): every process of the
//    tree whose parent dies is re-parented to the guard, even one that
//    setsid()s and double-forks away, so the tree cannot escape it;
//  * it has a parent-death signal (SIGUSR1): when the suite dies, even by
//    SIGKILL, the kernel tells the guard, which SIGKILLs every descendant,
//    reaps them and exits. (The launcher armed PR_SET_PDEATHSIG = SIGKILL
//    before exec'ing us and checked that the suite was still alive then; we
//    re-arm it as a catchable signal, so there is no window in which the
//    suite can die unnoticed: before the re-arm it kills the guard, which
//    has no children yet.)
//  * SIGTERM, SIGINT, SIGHUP, SIGQUIT mean the same: kill the tree, exit.
//
// PROGRAM runs in its own process group with default signal dispositions and
// an empty signal mask. When PROGRAM has exited and no descendant is left,
// the guard exits *the same way PROGRAM did*: the same exit code, or the same
// signal (re-raised on itself), so the suite's wait status for the guard is
// PROGRAM's wait status. If exec fails, the child prints
// "csd-guard: exec PROGRAM: <error>" and exits 127.
//
// --nofile N: PROGRAM runs with RLIMIT_NOFILE N (soft and hard, as
// `prlimit --nofile=N:N` would), set in the child just before exec, so the
// guard itself keeps its own limit. If it cannot be set, the child says
// "csd-guard: setrlimit(RLIMIT_NOFILE, N): <error>" and exits 126.
//
// Limits, so that one server of a class cannot harm the others or the
// machine. --max-file-size is RLIMIT_FSIZE, the kernel's (SIGXFSZ). As root,
// RLIMIT_NPROC is not enforced and cgroups are not everywhere, so for
// --max-processes and --max-memory the guard polls its tree every few
// milliseconds (process count; anonymous resident memory summed over the tree) and
// kills it when it is over. Each limit that stops the tree is said in one
// line, "csd-guard: limit: KIND: what it saw", which the suite finds in the
// server's output (harness/limits.hpp).
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "limits.hpp"
#include "procfs.hpp"
#include "tree_usage.hpp"

namespace {

constexpr int kParentDeathSignal = SIGUSR1;
constexpr int kTerminationSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, kParentDeathSignal};
constexpr long kKillDeadlineSeconds =
    30;  // a process stuck in D state must not keep the guard forever
// How often the tree is counted under --max-processes or --max-memory: a
// fork bomb on 2 CPUs makes some hundreds of processes in this time.
constexpr auto kPollEvery = std::chrono::milliseconds(5);
// A look at the tree is followed by a wait of at least this many times its
// length: its share of the guard's time at most 1 / kLookShare.
constexpr int kLookShare = 5;
// A tree's walk stops past this many processes without a process limit.
constexpr std::size_t kMostProcessesCounted = 100'000;
// While it polls, the guard must not be starved of the CPU by what it
// stops: a fork bomb's thousand runnable processes outweigh one at nice -10
// (weight 9548 against 1024 each: under 1% of a CPU), and the bomb went on
// growing to three times its limit before the guard finished counting it.
// As root the guard takes a real-time priority, above every process it
// watches; else, a nice value as low as it may.
constexpr int kPollingRealtimePriority = 1;  // SCHED_FIFO: above every SCHED_OTHER task
constexpr int kPollingNice = -10;

struct Options {
  std::optional<rlim_t> nofile;
  std::optional<rlim_t> file_size;
  std::optional<unsigned long long> processes;
  std::optional<unsigned long long> memory;
  [[nodiscard]] bool polls() const { return processes || memory; }
};

void say(const char* what) {
  (void)std::fprintf(stderr, "csd-guard: %s: %s\n", what, std::strerror(errno));
}

void reset_dispositions() {
  // Ignored signals survive exec; a caller that ignores SIGCHLD would make
  // waitpid() fail for us and hand a server SIG_IGN'd signals it never asked for.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP)
      (void)std::signal(sig, SIG_DFL);
  }
}

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (const int sig : kTerminationSignals) sigaddset(&set, sig);
  return set;
}

bool is_termination(int sig) {
  for (const int t : kTerminationSignals) {
    if (t == sig)
      return true;
  }
  return false;
}

// In the child: its own process group (so a terminal's ^C reaches only the
// guard, which then kills the tree in order), a clean signal state, exec.
void set_limit(int resource, const char* name, std::optional<rlim_t> value) {
  if (!value)
    return;
  const rlimit limit{.rlim_cur = *value, .rlim_max = *value};
  if (::setrlimit(resource, &limit) != 0) {
    (void)std::fprintf(stderr, "csd-guard: setrlimit(%s, %llu): %s\n", name,
                       static_cast<unsigned long long>(*value), std::strerror(errno));
    (void)std::fflush(stderr);
    ::_exit(126);
  }
}

[[noreturn]] void exec_program(char** argv, const Options& options) {
  ::setpgid(0, 0);
  set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", options.nofile);
  set_limit(RLIMIT_FSIZE, "RLIMIT_FSIZE", options.file_size);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // belt and braces: should the guard itself be SIGKILLed
  reset_dispositions();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvp(argv[0], argv);
  (void)std::fprintf(stderr, "csd-guard: exec %s: %s\n", argv[0], std::strerror(errno));
  (void)std::fflush(stderr);
  ::_exit(127);
}

class Guard {
 public:
  Guard(pid_t program, const Options& options) : program_(program), options_(options) {}

  // Under --max-processes or --max-memory: counts the tree; over a limit,
  // says which and kills it. True if it did.
  bool over_a_limit() {
    // Fewer tasks on the whole machine than the process limit: the tree is
    // within it, and without a memory limit that is all there is to know.
    if (options_.processes && !options_.memory) {
      if (const auto tasks = csd::harness::tasks_on_the_machine();
          tasks && *tasks <= *options_.processes) {
        last_count_ = 0;
        return false;
      }
    }
    // Under a process limit the walk stops just past it: a fork bomb's
    // thousands need not all be counted to be stopped (nor can they grow
    // while they are). Within the limit the walk is whole, for the memory.
    const std::vector<pid_t> tree = csd::harness::tree_below(
        self_, options_.processes ? *options_.processes : kMostProcessesCounted);
    last_count_ = tree.size();
    if (options_.processes && tree.size() > *options_.processes) {
      say_limit("processes: the tree reached %zu processes, over its limit of %llu; killed",
                tree.size(), *options_.processes);
      return true;
    }
    if (options_.memory) {
      const uint64_t anonymous = csd::harness::anonymous_bytes(tree);
      if (anonymous > *options_.memory) {
        // Just past the limit both round to one text ("1 GiB"): then in bytes too.
        std::string used = csd::harness::size_text(anonymous);
        std::string limit = csd::harness::size_text(*options_.memory);
        if (used == limit) {
          used += fmt::format(" ({} bytes)", anonymous);
          limit += fmt::format(" ({} bytes)", *options_.memory);
        }
        say_limit("memory: the tree used %s of anonymous memory, over its limit of %s; killed",
                  used.c_str(), limit.c_str());
        return true;
      }
    }
    return false;
  }

  // The last look counted over half the process limit: a fork bomb there
  // is doubling towards it, and must be looked at every poll.
  [[nodiscard]] bool near_the_process_limit() const {
    return options_.processes && last_count_ * 2 > *options_.processes;
  }

  // Stops every process of the program's group at once (a fork bomb's
  // children share it), then the rest of the tree.
  void kill_over_limit() {
    ::kill(-program_, SIGKILL);
    kill_tree();
  }

  // Reaps every child that has exited; true once no child is left at all.
  // As a subreaper, "no child" means "no descendant": a living descendant
  // always has a living ancestor among our children.
  bool reap() {
    for (;;) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid > 0) {
        if (pid == program_)
          program_status_ = status;
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ && options_.file_size)
          say_limit("file size: pid %d was killed by SIGXFSZ writing past %s", pid,
                    csd::harness::size_text(*options_.file_size).c_str());
        continue;
      }
      if (pid == 0)
        return false;
      if (errno == EINTR)
        continue;
      return errno == ECHILD;
    }
  }

  [[nodiscard]] bool program_done() const { return program_status_.has_value(); }

  // SIGKILLs every descendant, again and again (a forking server may fork
  // while we kill; orphans re-parent to us), until none is left.
  void kill_tree() {
    const sigset_t chld = [] {
      sigset_t s;
      sigemptyset(&s);
      sigaddset(&s, SIGCHLD);
      return s;
    }();
    const std::time_t give_up = std::time(nullptr) + kKillDeadlineSeconds;
    while (!reap()) {
      for (const pid_t pid : csd::harness::tree_below(::getpid())) ::kill(pid, SIGKILL);
      if (std::time(nullptr) > give_up) {
        (void)std::fprintf(stderr, "csd-guard: giving up on processes that do not die\n");
        return;
      }
      const timespec step{.tv_sec = 0, .tv_nsec = 10'000'000};
      ::sigtimedwait(&chld, nullptr,
                     &step);  // woken by the next death; bounded so new forks are seen
    }
  }

  // Ends the guard the way the program ended.
  [[noreturn]] void exit_like_program(int fallback_signal) {
    (void)std::fflush(stderr);
    if (!program_status_)
      raise_signal(fallback_signal);
    const int status = *program_status_;
    if (WIFEXITED(status))
      ::_exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
      raise_signal(WTERMSIG(status));
    ::_exit(125);
  }

 private:
  [[noreturn]] static void raise_signal(int sig) {
    // The program dumped core already if it was going to; the guard must not
    // (RLIMIT_CORE alone does not stop a piped core_pattern, non-dumpable does).
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    ::prctl(PR_SET_DUMPABLE, 0);
    (void)std::signal(sig, SIG_DFL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    ::sigprocmask(SIG_UNBLOCK, &only, nullptr);
    (void)::raise(sig);
    ::_exit(128 + sig);  // a signal whose default is to ignore (cannot have killed the program)
  }

  // One line per limit on stderr, which the suite reads as the server's output.
  template <typename... Args>
  void say_limit(const char* format, Args... args) {
    if (said_limit_)
      return;  // the first limit is the one that stopped it
    said_limit_ = true;
    (void)std::fprintf(stderr, "%.*s", static_cast<int>(csd::harness::kGuardLimitLine.size()),
                       csd::harness::kGuardLimitLine.data());
    (void)std::fprintf(stderr, format, args...);
    (void)std::fputc('\n', stderr);
    (void)std::fflush(stderr);
  }

  pid_t self_ = ::getpid();
  pid_t program_;
  std::optional<int> program_status_;
  Options options_;
  std::size_t last_count_ = 0;  // the processes the last look counted (0: none was walked)
  bool said_limit_ = false;
};

constexpr const char* kHelp = R"(NAME
  csd-guard - run a program so that no process of its tree outlives the caller

SYNOPSIS
  csd-guard [--nofile N] [--max-processes N] [--max-memory BYTES] [--max-file-size BYTES]
            -- PROGRAM [ARG...]
  csd-guard --help

DESCRIPTION
  Runs PROGRAM (looked up in $PATH if it has no '/') as its only child, in its own
  process group, with default signal dispositions and an empty signal mask. The guard
  is a child subreaper, so every process of PROGRAM's tree whose parent dies is
  re-parented to it, even one that setsid()s and double-forks away. When the guard's
  parent dies, even by SIGKILL (a parent-death signal), or the guard gets SIGTERM,
  SIGINT, SIGHUP or SIGQUIT, it SIGKILLs every descendant, reaps them and exits.
  When PROGRAM has exited and no descendant is left, the guard exits as PROGRAM did.
  csd-suite starts every server under it; it is useful by hand the same way.
  A limit that stops the tree is said on stderr in one line: "csd-guard: limit: processes:
  the tree reached 71 processes, over its limit of 64; killed"; "... limit: memory: ...";
  "... limit: file size: pid N was killed by SIGXFSZ writing past 16 MiB".

OPTIONS
  --nofile N  start PROGRAM with RLIMIT_NOFILE N (soft and hard); the guard keeps its own
  --max-processes N
              kill the tree when it has more than N processes (threads aside), counted every
              5 ms (RLIMIT_NPROC does not hold for root)
  --max-memory BYTES
              kill the tree when its anonymous resident memory (RssAnon), summed, is over
              BYTES (every 5 ms)
  --max-file-size BYTES
              start PROGRAM with RLIMIT_FSIZE BYTES (soft and hard; kept by what it forks):
              a write past it kills the writer with SIGXFSZ, said when the guard reaps it
              (PROGRAM, or a process orphaned to the guard)
  --          required: what follows is PROGRAM and its arguments
  -h, --help  print this help and exit

EXIT STATUS
  PROGRAM's own: its exit code, or the signal that killed it, raised again on the guard
    (so the caller's wait status for the guard is PROGRAM's); a tree stopped for
    --max-processes or --max-memory was SIGKILLed, PROGRAM first: SIGKILL
  2    bad usage (no "--", no PROGRAM, or an option without a whole number >= 1)
  125  PROGRAM's end could not be told (should not happen)
  126  the guard could not be set up (sigprocmask, prctl, fork failed)
  127  PROGRAM could not be executed ("csd-guard: exec PROGRAM: <error>" on stderr)
  128+N  the guard was told to stop by signal N before PROGRAM ended, N ignored by default

EXAMPLES
  csd-guard -- ./build/bin/csd-prefork -p 5123 -n 4   a pool that cannot outlive the shell
  csd-guard -- python3 fork_server.py -p 0
  csd-guard --max-processes 64 --max-file-size 16777216 -- ./server -p 0   a student's server

SEE ALSO
  csd-suite(1), prctl(2) PR_SET_CHILD_SUBREAPER and PR_SET_PDEATHSIG
)";

int usage() {
  (void)std::fprintf(stderr,
                     "usage: csd-guard [--nofile N] [--max-processes N] [--max-memory BYTES] "
                     "[--max-file-size BYTES] -- PROGRAM [ARG...]   (csd-guard --help)\n");
  return 2;
}

// "--nofile N" and kin: N; nullopt for anything but a whole number >= 1.
std::optional<unsigned long long> parse_count(const char* text) {
  const std::string_view digits(text);
  unsigned long long value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size() || value == 0)
    return std::nullopt;
  return value;
}

// The options before "--"; `first` becomes the index of "--". nullopt: bad usage.
std::optional<Options> parse_options(int argc, char** argv, int& first) {
  Options options;
  for (first = 1; first + 1 < argc && std::string_view(argv[first]) != "--"; first += 2) {
    const std::string_view name(argv[first]);
    const auto value = parse_count(argv[first + 1]);
    if (!value)
      return std::nullopt;
    if (name == "--nofile")
      options.nofile = *value;
    else if (name == "--max-processes")
      options.processes = *value;
    else if (name == "--max-memory")
      options.memory = *value;
    else if (name == "--max-file-size")
      options.file_size = *value;
    else
      return std::nullopt;
  }
  if (first + 1 >= argc || std::string_view(argv[first]) != "--")
    return std::nullopt;
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    (void)std::fputs(kHelp, stdout);
    return 0;
  }
  int first = 1;  // argv[first] is "--"
  const std::optional<Options> options = parse_options(argc, argv, first);
  if (!options)
    return usage();

  reset_dispositions();
  (void)std::signal(SIGPIPE,
                    SIG_IGN);  // our stderr is the suite's pipe; it may be gone when we complain
  const sigset_t handled = handled_signals();
  if (::sigprocmask(SIG_BLOCK, &handled, nullptr) != 0) {
    say("sigprocmask");
    return 126;
  }
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    say("prctl(PR_SET_CHILD_SUBREAPER)");
    return 126;
  }
  if (::prctl(PR_SET_PDEATHSIG, kParentDeathSignal) != 0) {
    say("prctl(PR_SET_PDEATHSIG)");
    return 126;
  }

  const pid_t program = ::fork();
  if (program < 0) {
    say("fork");
    return 126;
  }
  if (program == 0)
    exec_program(argv + first + 1, *options);

  Guard guard(program, *options);
  if (options->polls()) {  // after the fork: PROGRAM's scheduling is as ours was
    const sched_param realtime{.sched_priority = kPollingRealtimePriority};
    if (::sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &realtime) != 0)
      (void)::setpriority(PRIO_PROCESS, 0, kPollingNice);
  }
  // With a process or memory limit: a look at the tree every poll, or less
  // often where a look takes long (a tree of a thousand processes): at most
  // a fifth of the guard's time goes to looking, which it does at a
  // real-time priority.
  auto next_look = std::chrono::steady_clock::now();
  for (;;) {
    siginfo_t info{};
    int sig = 0;
    if (options->polls()) {
      const auto wait = std::max(next_look - std::chrono::steady_clock::now(),
                                 std::chrono::steady_clock::duration::zero());
      const auto nanoseconds = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
      const timespec timeout{.tv_sec = nanoseconds / 1'000'000'000,
                             .tv_nsec = nanoseconds % 1'000'000'000};
      sig = ::sigtimedwait(&handled, &info, &timeout);
    } else {
      sig = ::sigwaitinfo(&handled, &info);
    }
    if (options->polls() && std::chrono::steady_clock::now() >= next_look) {
      const auto start = std::chrono::steady_clock::now();
      if (guard.over_a_limit()) {
        guard.kill_over_limit();
        guard.exit_like_program(SIGKILL);
      }
      const auto took = std::chrono::steady_clock::now() - start;
      next_look =
          start + (guard.near_the_process_limit() ? kPollEvery
                                                  : std::max<std::chrono::steady_clock::duration>(
                                                        kPollEvery, kLookShare * took));
    }
    if (sig < 0)
      continue;  // EINTR (a stop/continue), or EAGAIN: the poll's time
    if (sig == SIGCHLD) {
      // Signals coalesce: one SIGCHLD may stand for many deaths, so reap all.
      if (guard.reap() && guard.program_done())
        guard.exit_like_program(SIGKILL);
    } else if (is_termination(sig)) {
      guard.kill_tree();
      guard.exit_like_program(sig);
    }
  }
}
