// csd-guard [--nofile N] -- PROGRAM [ARG...]
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
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>

#include "procfs.hpp"

namespace {

constexpr int kParentDeathSignal = SIGUSR1;
constexpr int kTerminationSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, kParentDeathSignal};
constexpr long kKillDeadlineSeconds =
    30;  // a process stuck in D state must not keep the guard forever

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
[[noreturn]] void exec_program(char** argv, std::optional<rlim_t> nofile) {
  ::setpgid(0, 0);
  if (nofile) {
    const rlimit limit{.rlim_cur = *nofile, .rlim_max = *nofile};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      (void)std::fprintf(stderr, "csd-guard: setrlimit(RLIMIT_NOFILE, %llu): %s\n",
                         static_cast<unsigned long long>(*nofile), std::strerror(errno));
      (void)std::fflush(stderr);
      ::_exit(126);
    }
  }
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
  explicit Guard(pid_t program) : program_(program) {}

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
      for (const pid_t pid : csd::harness::descendants(::getpid())) ::kill(pid, SIGKILL);
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

  pid_t program_;
  std::optional<int> program_status_;
};

constexpr const char* kHelp = R"(NAME
  csd-guard - run a program so that no process of its tree outlives the caller

SYNOPSIS
  csd-guard [--nofile N] -- PROGRAM [ARG...]
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

OPTIONS
  --nofile N  start PROGRAM with RLIMIT_NOFILE N (soft and hard); the guard keeps its own
  --          required: what follows is PROGRAM and its arguments
  -h, --help  print this help and exit

EXIT STATUS
  PROGRAM's own: its exit code, or the signal that killed it, raised again on the guard
    (so the caller's wait status for the guard is PROGRAM's)
  2    bad usage (no "--", no PROGRAM, or --nofile without a whole number >= 1)
  125  PROGRAM's end could not be told (should not happen)
  126  the guard could not be set up (sigprocmask, prctl, fork failed)
  127  PROGRAM could not be executed ("csd-guard: exec PROGRAM: <error>" on stderr)
  128+N  the guard was told to stop by signal N before PROGRAM ended, N ignored by default

EXAMPLES
  csd-guard -- ./build/bin/csd-prefork -p 5123 -n 4   a pool that cannot outlive the shell
  csd-guard -- python3 fork_server.py -p 0

SEE ALSO
  csd-suite(1), prctl(2) PR_SET_CHILD_SUBREAPER and PR_SET_PDEATHSIG
)";

int usage() {
  (void)std::fprintf(stderr,
                     "usage: csd-guard [--nofile N] -- PROGRAM [ARG...]   (csd-guard --help)\n");
  return 2;
}

}  // namespace

// "--nofile N": N as a limit; nullopt for anything but a whole number >= 1.
std::optional<rlim_t> parse_nofile(const char* text) {
  const std::string_view digits(text);
  rlim_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size() || value == 0)
    return std::nullopt;
  return value;
}

int main(int argc, char** argv) {
  if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    (void)std::fputs(kHelp, stdout);
    return 0;
  }
  std::optional<rlim_t> nofile;
  int first = 1;  // argv[first] is "--"
  if (argc > 2 && std::string_view(argv[1]) == "--nofile") {
    nofile = parse_nofile(argv[2]);
    if (!nofile)
      return usage();
    first = 3;
  }
  if (argc < first + 2 || std::string_view(argv[first]) != "--")
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
    exec_program(argv + first + 1, nofile);

  Guard guard(program);
  for (;;) {
    siginfo_t info{};
    const int sig = ::sigwaitinfo(&handled, &info);
    if (sig < 0)
      continue;  // EINTR: e.g. a stop/continue
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
